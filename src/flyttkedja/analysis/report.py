"""`Report`: every analysis table of a ChainSet, written to disk and summarised as text.

Example
-------
>>> report = Report(chainset, areas=register.areas, by=["tenure"])   # doctest: +SKIP
>>> print(report)                                                    # doctest: +SKIP
>>> report.write("out/report")   # <table>.parquet/.csv, report.json, summary.txt, output_check.*, report.html/.xlsx
>>> report.write_html("rapport.html", lang="sv")                    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from flyttkedja import store
from flyttkedja.analysis.disclosure import Rules
from flyttkedja.analysis.groups import TARGET_GROUPS
from flyttkedja.analysis.release import Ledger, checking_text, legacy_fingerprint, published_counts, \
    register_fingerprint
from flyttkedja.analysis.tabulation import _tables_and_units, default_tables
from flyttkedja.core.chainset import ChainSet
from flyttkedja.io import atomic_directory, atomic_file, write_json, write_parquet


class Report:
    """All tables of :mod:`flyttkedja.analysis.tabulation` for one ChainSet, from one bootstrap.

    Parameters are those of :func:`flyttkedja.analysis.tables`; the rounds
    table is included when ``areas`` is given. Tables are available as
    ``report["flows"]`` and in ``report.tables``.
    """

    def __init__(self, chainset: ChainSet, areas=None, *, by: Sequence[str] = ("tenure",),
                 target_groups: Mapping[str, pl.Expr] | None = None, ledger: str | os.PathLike | None = None,
                 release: str | None = None, both_conventions: bool = False, **options):
        names = [n for n in default_tables(chainset) if n != "rounds" or areas is not None]
        self.by = (by,) if isinstance(by, str) else tuple(by)
        self._inputs = [chainset.params.get("register_dir")]  # never written over (io.check_output)
        self.options = {"ci": True, "replicates": 1000, "level": 0.95, "seed": 0, "disclosure": "suppress",
                        "threshold": None, "rules": "scb", "unsafe": False, "rounds": 6, "cluster": "auto",
                        **options}
        self.target_groups = list((target_groups or {}).keys()) or None
        self.ledger = None if ledger is None else Ledger.open(ledger)
        self.fingerprint = register_fingerprint(chainset) if self.ledger is not None else None
        #: this release's name in the ledger (default: the name of the directory :meth:`write` writes); a release
        #: replaces the ledger's entry of the same name, so it is not protected against that entry
        self.release = release
        if self.ledger is not None:
            self.ledger.check_register(self.fingerprint, legacy_fingerprint(chainset))
            self.ledger = self.ledger.without(release)
        #: the chain convention of the ChainSet ("path": one filling per vacancy; "tree": CBS's)
        self.convention = chainset.convention
        options = {k: v for k, v in self.options.items() if k not in ("cluster", "income_median")}
        other = None
        if both_conventions:  # the other convention's tables in the same release (analysis/conventions.py)
            from flyttkedja.core import retrace

            other = retrace(chainset, "path" if self.convention == "tree" else "tree")
        tables, self.bootstrap_units, self.checking = _tables_and_units(
            chainset, names, by=self.by, areas=areas, target_groups=target_groups,
            income_median=self.options.get("income_median"), cluster=self.options["cluster"],
            ledger=self.ledger, other=other, **options)
        self.state = self.checking.pop("_state", None)  # protection model, for attacks (never written)
        self.tables = {name: f for name, f in tables.items() if name in names}
        self._target_names = list((TARGET_GROUPS if target_groups is None else target_groups).keys())
        self.options["threshold"] = Rules.named(self.options["rules"], self.options["threshold"],
                                                self.options["unsafe"]).threshold
        #: the other convention's tables of this release (``both_conventions=True``), as a Report; else None
        self.alongside = None
        if other is not None:
            self.alongside = copy.copy(self)
            self.alongside.convention, self.alongside.alongside = other.convention, None
            prefix = f"{other.convention}_"
            self.alongside.tables = {name.removeprefix(prefix): f for name, f in tables.items()
                                     if name not in names}

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]

    def parameters(self) -> dict:
        """What produced the tables (written as report.json); never the Cell Key Method's secret key."""
        shown = {k: v for k, v in self.options.items() if k not in ("income_median", "cell_key")}
        if self.options["disclosure"] == "cell_key":
            shown["cell_key"] = "secret (not recorded)"
        return {"convention": self.convention, "by": list(self.by), "tables": list(self.tables),
                "target_groups": self.target_groups, "bootstrap_units": self.bootstrap_units, **shown,
                "definitions": "docs/analysis.md", "disclosure_rules": "docs/disclosure.md"}

    def output_check(self) -> str:
        """The output-checking summary in plain words (also written as output_check.txt / .json)."""
        return checking_text(self.checking)

    def write(self, path: str | os.PathLike, *, overwrite: bool = False, lang: str = "en",
              scenario: pl.DataFrame | None = None, explorer=None) -> Path:
        """Write every table as ``<name>.parquet`` and ``<name>.csv``, plus report.json, summary.txt,
        output_check.json/.txt, report.html and report.xlsx (labels in ``lang``; ``scenario`` comparison
        when given), atomically; then record the release in the ledger (when given). With
        ``both_conventions``, the other convention's tables are written too, as
        ``<convention>_<name>.parquet``/``.csv`` (and in the page and the workbook)."""
        alongside = self.alongside
        with atomic_directory(path, overwrite=overwrite, inputs=self._inputs) as tmp:
            for name, frame in self.release_tables().items():
                parquet, csv = store.report_table_files(tmp, name)
                write_parquet(frame.to_arrow(), parquet)
                frame.write_csv(csv, float_precision=6)
            extra = {}
            if alongside is not None:  # what the page shows of the other convention is published too
                extra = {"alongside": {"convention": alongside.convention, "tables": list(alongside.tables)}}
            store.write_report_manifest(tmp, {**self.parameters(), **extra})
            write_json(self.checking, store.report_file(tmp, "check_json"))
            store.report_file(tmp, "check_text").write_text(self.output_check() + "\n")
            store.report_file(tmp, "summary").write_text(self.summary() + "\n")
            self.write_html(store.report_file(tmp, "html"), lang=lang, scenario=scenario, alongside=alongside,
                            explorer=explorer)
            self.write_excel(store.report_file(tmp, "xlsx"), lang=lang, scenario=scenario)
        if self.ledger is not None and self.options["disclosure"] == "suppress":
            self.record(self.release or Path(path).name)
        return Path(path)

    def release_tables(self) -> dict[str, pl.DataFrame]:
        """Every table of this release by its published name: this convention's as ``<table>``, the other
        convention's (``both_conventions=True``) as ``<convention>_<table>`` — the names of the files, the
        workbook's sheets and the ledger's entries."""
        frames = dict(self.tables)
        if self.alongside is not None:
            frames.update({f"{self.alongside.convention}_{n}": f for n, f in self.alongside.tables.items()})
        return frames

    def record(self, name: str) -> Path:
        """Add this release (under ``name``) to the ledger, atomically."""
        frames = self.release_tables()
        release = {"name": name, "convention": self.convention, "by": list(self.by), "tables": list(frames),
                   "rounds": self.options["rounds"], "target_groups": self._target_names,
                   "rules": self.checking["rules"], "published": published_counts(frames)}
        return write_json(self.ledger.record(self.fingerprint, release), self.ledger.path)

    def html(self, lang: str = "en", scenario: pl.DataFrame | None = None, alongside: Report | None = None,
             explorer=None) -> str:
        """The self-contained HTML report (interactive charts, every table, method note) as a string.

        ``alongside``: a Report of the same register under the other chain
        convention (default: this release's own, ``both_conventions=True``); charts whose figures differ
        are then drawn side by side. ``explorer``: a scenario
        output directory; the page then carries the scenario explorer of its model (docs/explorer.md).
        """
        from flyttkedja.analysis.html import render_html

        alongside = self.alongside if alongside is None else alongside
        return render_html(self, lang=lang, scenario=scenario, alongside=alongside, explorer=explorer)

    def write_html(self, path: str | os.PathLike, *, lang: str = "en", scenario: pl.DataFrame | None = None,
                   alongside: Report | None = None, explorer=None) -> Path:
        """Write :meth:`html` to ``path`` atomically (UTF-8); same report and lang give the same bytes."""
        path = Path(path)
        with atomic_file(path) as tmp:
            Path(tmp).write_text(self.html(lang, scenario, alongside, explorer), encoding="utf-8")
        return path

    def write_excel(self, path: str | os.PathLike, *, lang: str = "en",
                    scenario: pl.DataFrame | None = None) -> Path:
        """Write the tables to an Excel workbook (one sheet per table, the other convention's too, ".." for
        withheld cells, "." for undefined ratios, notes sheet)."""
        from flyttkedja.analysis.excel import write_excel

        return write_excel(self, path, lang=lang, scenario=scenario)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: settings, the length summary by seed group and the tables (published cells only)."""
        from flyttkedja.analysis.display import report_html

        return report_html(self)

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """A readable text summary of the main figures (suppressed values shown as "..")."""
        lines = [f"Vacancy chains by {', '.join(self.by) or 'all seeds'} "
                 f"(disclosure: {self.options['disclosure'] or 'none'}; "
                 f"{int(self.options['level'] * 100)}% bootstrap intervals"
                 + (f", resampling {self.bootstrap_units['resampled']})" if self.options["ci"] else " off)"), ""]
        lines += self._length_lines() + [""] + self._reach_lines()
        if "rounds" in self.tables:
            lines += [""] + self._rounds_lines()
        lines += [""] + self._end_lines()
        return "\n".join(lines)

    __str__ = summary

    def _group(self, row: dict) -> str:
        return " / ".join(str(row[c]) for c in self.by) if self.by else "all"

    def _length_lines(self) -> list[str]:
        s = self.tables["length_summary"]
        wide = {}
        for r in s.iter_rows(named=True):
            wide.setdefault(self._group(r), {"chains": r["n_base"]})[r["statistic"]] = r
        out = [f"{'seed group':<28}{'chains':>9}{'mean length':>22}{'median':>8}{'moves/100 new':>16}"]
        for g, d in wide.items():
            out.append(f"{g:<28}{_n(d['chains']):>9}{_ci(d['mean']):>22}{_v(d['median']['value'], 0):>8}"
                       f"{_v(d['per_100']['value'], 0):>16}")
        return out

    def _reach_lines(self) -> list[str]:
        r = self.tables["reach"].filter(pl.all_horizontal([pl.col(c) == "all" for c in self.by]) if self.by
                                        else pl.lit(True))
        out = ["Target groups housed through the chains (all seeds):",
               f"{'group':<20}{'per 100 new':>24}{'share of chains':>18}"]
        wide = {}
        for row in r.iter_rows(named=True):
            wide.setdefault(row["target_group"], {})[row["statistic"]] = row
        for g, d in wide.items():
            out.append(f"{g:<20}{_ci(d['per_100'], 0):>24}{_v(d['share_of_chains']['value'], 2):>18}")
        return out

    def _rounds_lines(self) -> list[str]:
        r = self.tables["rounds"].filter(pl.all_horizontal([pl.col(c) == "all" for c in self.by]) if self.by
                                         else pl.lit(True))
        out = ["Rounds (all seeds): share of vacated dwellings in below-median-income areas, cumulative per 100 new"]
        for row in r.filter(pl.col("area_class") == "below_median").sort("step").iter_rows(named=True):
            if row["statistic"] == "share":
                share = row
            else:
                out.append(f"  step {row['step']}: share {_v(share['value'], 2)}, cumulative {_v(row['value'], 0)}")
        return out

    def _end_lines(self) -> list[str]:
        r = self.tables["end_reasons"].filter(pl.all_horizontal([pl.col(c) == "all" for c in self.by]) if self.by
                                              else pl.lit(True))
        parts = [f"{row['end_reason']} {_v(row['value'], 2)}" for row in r.iter_rows(named=True)
                 if row["n"] != 0]
        return ["How chains end (share of all chains): " + ", ".join(parts)]


def _v(x, digits: int = 2) -> str:
    return ".." if x is None else f"{x:.{digits}f}"


def _n(x) -> str:
    return ".." if x is None else str(x)


def _ci(row: dict, digits: int = 2) -> str:
    if row["value"] is None:
        return ".."
    if row["ci_low"] is None:
        return _v(row["value"], digits)
    return f"{_v(row['value'], digits)} ({_v(row['ci_low'], digits)}–{_v(row['ci_high'], digits)})"
