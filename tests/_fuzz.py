"""Malformed variants of a small register and the worker that runs them (tests/test_fuzz.py).

Each :class:`Mutation` changes one thing in the synthetic ``tiny`` register (2 years,
seed 3) and says what a correct program does with it: ``same`` (an accepted
spelling: the output equals the unmutated register's), ``refuse`` (one clear
error: a :class:`~flyttkedja.schema.SchemaError` naming the table and column), or
``count`` (accepted, and the problem counted in the tracer's ``quality``).

The worker (:func:`serve`) runs in a subprocess with an address-space limit
(``resource.setrlimit``), reads one case per line on stdin (JSON: mutation, seed,
rows, target) and answers one JSON line: the outcome, what the error said, and
whether ``validate`` refuses the same inputs. A case that kills the worker is a
crash (the parent restarts it).

Outcomes: ``correct`` (same output, or accepted and counted), ``clear`` (refused
naming table and column), ``silent`` (bad input accepted, or a different output,
without a word), ``unclear`` (an error of another type, or one that names no
table and column; a valid variant refused), ``crash``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja import store

MEMORY_LIMIT = 8 * 2**30  # bytes of address space for the worker: a 17 GB allocation fails, not the machine
TARGETS = ("trace", "report", "snapshots", "events", "cli")
Frames = dict[str, pl.DataFrame]


@dataclass(frozen=True)
class Mutation:
    name: str
    table: str          # the table the error must name
    column: str         # ... and the column
    expect: str         # same | refuse | count
    targets: tuple[str, ...]
    apply: Callable[[Frames, np.random.Generator, int], Frames]


def _rows(frame: pl.DataFrame, rng, n: int, where: pl.Expr | None = None) -> np.ndarray:
    candidates = np.arange(frame.height) if where is None else \
        frame.with_row_index("_i").filter(where)["_i"].to_numpy()
    if len(candidates) == 0:
        candidates = np.arange(frame.height)
    return np.sort(rng.choice(candidates, size=min(n, len(candidates)), replace=False))


def _set(frames: Frames, table: str, column: str, rows: np.ndarray, value, dtype=None) -> Frames:
    frame = frames[table]
    mask = np.zeros(frame.height, bool)
    mask[rows] = True
    new = pl.when(pl.Series(mask)).then(pl.lit(value, dtype=dtype)).otherwise(pl.col(column))
    return {**frames, table: frame.with_columns(new.alias(column))}


def setter(table, column, value, where=None, dtype=None):
    def apply(frames, rng, n):
        return _set(frames, table, column, _rows(frames[table], rng, n, where), value, dtype)
    return apply


def mapper(table, column, fn):
    """Replace the whole column by ``fn(series)``."""
    def apply(frames, rng, n):
        frame = frames[table]
        return {**frames, table: frame.with_columns(fn(frame[column], rng).alias(column))}
    return apply


def _duplicate_rows(table):
    def apply(frames, rng, n):
        frame = frames[table]
        rows = _rows(frame, rng, n)
        parts, last = [], 0
        for r in rows:  # each duplicate right after its row (table order is the order of events)
            parts += [frame[last:r + 1], frame[r:r + 1]]
            last = r + 1
        parts.append(frame[last:])
        return {**frames, table: pl.concat(parts)}
    return apply


def _yyyymmdd(s, rng):
    return (s.dt.year() * 10000 + s.dt.month() * 100 + s.dt.day()).cast(pl.Int32)


def _excel(s, rng):
    return s.cast(pl.Int32) + 25569  # Excel serial days count from 1899-12-30


def _swedish_origin(s, rng):
    names = {"dwelling": "Lägenhet", "in_migrant": "inflyttare", "immigrant": "INVANDRARE",
             "new_household": "flytta hemifrån"}
    return s.replace(names)


def _swedish_tenure(s, rng):
    names = [{"rental": "hyresrätt", "cooperative": "Bostadsrätt", "owner": "3"},
             {"rental": "1", "cooperative": "BR", "owner": "äganderätt"}][int(rng.integers(2))]
    return s.replace(names)


def _far_date(frames, table, column, rng, n, days):
    frame = frames[table]
    rows = _rows(frame, rng, n, pl.col(column).is_not_null() if table == "dwellings" else None)
    mask = np.zeros(frame.height, bool)
    mask[rows] = True
    as_int = frame[column].cast(pl.Int32)
    new = pl.Series(column, np.where(mask, days, as_int.fill_null(0).to_numpy()), pl.Int32)
    new = pl.select(pl.when(pl.Series(mask) | as_int.is_not_null()).then(new)).to_series().cast(pl.Date)
    return {**frames, table: frame.with_columns(new.alias(column))}


def far(table, column, days):
    return lambda frames, rng, n: _far_date(frames, table, column, rng, n, days)


def _old_as_new_build(frames, rng, n):
    """Give dwellings that households leave a completion date after their first departure."""
    mv, dw = frames["moves"], frames["dwellings"]
    left = mv.filter(pl.col("from_dwelling").is_not_null()).group_by("from_dwelling").agg(
        last=pl.col("move_date").max() + pl.duration(days=1))
    pick = left.sample(min(n, left.height), seed=int(rng.integers(2**31)))
    dw = dw.join(pick.rename({"from_dwelling": "dwelling_id"}), on="dwelling_id", how="left",
                 maintain_order="left")
    dw = dw.with_columns(completed=pl.coalesce("last", "completed")).drop("last")
    return {**frames, "dwellings": dw}


def _self_move(frames, rng, n):
    mv = frames["moves"]
    rows = _rows(mv, rng, n, pl.col("from_dwelling").is_not_null() & pl.col("to_dwelling").is_not_null())
    mask = pl.Series(np.isin(np.arange(mv.height), rows))
    return {**frames, "moves": mv.with_columns(to_dwelling=pl.when(mask).then("from_dwelling")
                                              .otherwise("to_dwelling"))}


def _flip(column, other):
    def apply(frames, rng, n):
        mv = frames["moves"]
        where = pl.col(other).is_not_null()
        if column == "vacates":  # a vacancy nobody fills afterwards leaves no trace a checker could count
            refilled = mv.filter(pl.col("fills"))["to_dwelling"].unique().implode()
            where = where & pl.col(other).is_in(refilled)
        rows = _rows(mv, rng, n, where)
        mask = pl.Series(np.isin(np.arange(mv.height), rows))
        return {**frames, "moves": mv.with_columns(pl.when(mask).then(~pl.col(column)).otherwise(pl.col(column))
                                                  .alias(column))}
    return apply


def _elsewhere(frames, rng, n):
    """A household's later move leaves a dwelling other than the one its previous move entered."""
    mv = frames["moves"].with_row_index("_i")
    ordered = mv.sort("household_id", "move_date", "_i").with_columns(
        prev_to=pl.col("to_dwelling").shift(1).over("household_id"),
        prev_date=pl.col("move_date").shift(1).over("household_id"))
    later = ordered.filter(pl.col("prev_to").is_not_null() & pl.col("from_dwelling").is_not_null()
                           & (pl.col("prev_date") != pl.col("move_date")))
    if later.height == 0:
        return frames
    pick = later.sample(min(n, later.height), seed=int(rng.integers(2**31)))
    others = mv.filter(pl.col("to_dwelling").is_not_null())["to_dwelling"].unique().sort()
    wrong = {r: next(int(o) for o in others if o != p) for r, p in zip(pick["_i"], pick["prev_to"])}
    rows = pl.Series(list(wrong), dtype=pl.UInt32)
    values = pl.Series(list(wrong.values()), dtype=pl.Int64)
    out = mv.with_columns(from_dwelling=pl.when(pl.col("_i").is_in(rows.implode()))
                          .then(pl.col("_i").replace_strict(rows, values, default=None))
                          .otherwise("from_dwelling")).drop("_i")
    return {**frames, "moves": out}


def _drop_half(table):
    def apply(frames, rng, n):
        frame = frames[table]
        keep = np.sort(rng.choice(frame.height, size=frame.height // 2, replace=False))
        return {**frames, table: frame[keep]}
    return apply


def _drop_column(table, column):
    return lambda frames, rng, n: {**frames, table: frames[table].drop(column)}


MV, DW, AR, PE, PS = "moves", "dwellings", "areas", "person_events", "persons"
REGISTER = ("trace", "report", "cli")
I64 = 2**63 - 1
MUTATIONS: list[Mutation] = [
    # moves
    Mutation("size_negative", MV, "size", "refuse", REGISTER, setter(MV, "size", -3)),
    Mutation("size_127", MV, "size", "refuse", REGISTER, setter(MV, "size", 127)),
    Mutation("size_300", MV, "size", "refuse", REGISTER, setter(MV, "size", 300, dtype=pl.Int64)),
    Mutation("adults_above_size", MV, "adults", "refuse", REGISTER,
             lambda f, rng, n: _set(f, MV, "adults", _rows(f[MV], rng, n), 60)),
    Mutation("age_999", MV, "age_head", "refuse", REGISTER, setter(MV, "age_head", 999)),
    Mutation("age_negative", MV, "age_head", "refuse", REGISTER, setter(MV, "age_head", -1)),
    Mutation("income_int64_max", MV, "income", "refuse", REGISTER, setter(MV, "income", I64)),
    Mutation("income_int64_min", MV, "income", "refuse", REGISTER, setter(MV, "income", -I64)),
    Mutation("self_move", MV, "to_dwelling", "refuse", REGISTER, _self_move),
    Mutation("move_date_yyyymmdd", MV, "move_date", "refuse", REGISTER, mapper(MV, "move_date", _yyyymmdd)),
    Mutation("move_date_excel_serial", MV, "move_date", "refuse", REGISTER, mapper(MV, "move_date", _excel)),
    Mutation("move_date_end_of_date32", MV, "move_date", "refuse", REGISTER, far(MV, "move_date", 2**31 - 2)),
    Mutation("move_date_year_9999", MV, "move_date", "refuse", REGISTER, far(MV, "move_date", 2932896)),
    Mutation("move_date_1850", MV, "move_date", "refuse", REGISTER, far(MV, "move_date", -43830)),
    Mutation("move_date_iso_text", MV, "move_date", "same", REGISTER,
             mapper(MV, "move_date", lambda s, rng: s.cast(pl.String))),
    Mutation("origin_swedish", MV, "origin", "same", REGISTER, mapper(MV, "origin", _swedish_origin)),
    Mutation("origin_unknown", MV, "origin", "refuse", REGISTER, setter(MV, "origin", "palace")),
    Mutation("origin_inconsistent", MV, "origin", "refuse", REGISTER,
             setter(MV, "origin", "dwelling", pl.col("from_dwelling").is_null())),
    Mutation("household_type_unknown", MV, "household_type", "refuse", REGISTER,
             setter(MV, "household_type", "kollektiv")),
    Mutation("household_null", MV, "household_id", "refuse", REGISTER,
             setter(MV, "household_id", None, dtype=pl.Int64)),
    Mutation("unknown_dwelling", MV, "to_dwelling", "refuse", REGISTER,
             setter(MV, "to_dwelling", 10**12, pl.col("to_dwelling").is_not_null())),
    Mutation("duplicate_move", MV, "move_date", "refuse", REGISTER, _duplicate_rows(MV)),
    Mutation("vacates_without_from", MV, "vacates", "refuse", REGISTER,
             setter(MV, "vacates", True, pl.col("from_dwelling").is_null())),
    Mutation("flip_vacates", MV, "vacates", "count", REGISTER, _flip("vacates", "from_dwelling")),
    Mutation("flip_fills", MV, "fills", "count", REGISTER, _flip("fills", "to_dwelling")),
    Mutation("two_dwellings_at_once", MV, "from_dwelling", "refuse", REGISTER, _elsewhere),
    Mutation("drop_fills", MV, "fills", "refuse", REGISTER, _drop_column(MV, "fills")),
    Mutation("size_as_text", MV, "size", "same", REGISTER, mapper(MV, "size", lambda s, rng: s.cast(pl.String))),
    Mutation("size_float_with_nan", MV, "size", "refuse", REGISTER,
             lambda f, rng, n: _set({**f, MV: f[MV].with_columns(pl.col("size").cast(pl.Float64))}, MV, "size",
                                    _rows(f[MV], rng, n), None, pl.Float64)),
    Mutation("size_fractional", MV, "size", "refuse", REGISTER,
             lambda f, rng, n: _set({**f, MV: f[MV].with_columns(pl.col("size").cast(pl.Float64))}, MV, "size",
                                    _rows(f[MV], rng, n), 2.5, pl.Float64)),
    # dwellings
    Mutation("rooms_negative", DW, "rooms", "refuse", REGISTER, setter(DW, "rooms", -1)),
    Mutation("floor_area_zero", DW, "floor_area_m2", "refuse", REGISTER, setter(DW, "floor_area_m2", 0)),
    Mutation("tenure_swedish", DW, "tenure", "same", REGISTER, mapper(DW, "tenure", _swedish_tenure)),
    Mutation("tenure_unknown", DW, "tenure", "refuse", REGISTER, setter(DW, "tenure", "villa")),
    Mutation("duplicate_dwelling", DW, "dwelling_id", "refuse", REGISTER, _duplicate_rows(DW)),
    Mutation("dwelling_id_null", DW, "dwelling_id", "refuse", REGISTER,
             setter(DW, "dwelling_id", None, dtype=pl.Int64)),
    Mutation("old_dwelling_as_new_build", MV, "from_dwelling", "refuse", REGISTER, _old_as_new_build),
    Mutation("completed_end_of_date32", DW, "completed", "refuse", REGISTER, far(DW, "completed", 2**31 - 2)),
    Mutation("completed_yyyymmdd", DW, "completed", "refuse", REGISTER, mapper(DW, "completed", _yyyymmdd)),
    # areas (the report's)
    Mutation("areas_half_missing", DW, "area_id", "refuse", ("report", "cli"), _drop_half(AR)),
    Mutation("areas_of_another_region", DW, "area_id", "refuse", ("report", "cli"),
             mapper(AR, "area_id", lambda s, rng: s + 1000)),
    Mutation("areas_municipality_differs", DW, "municipality", "refuse", ("report", "cli"),
             mapper(AR, "municipality", lambda s, rng: pl.Series(["9999"] * len(s)))),
    Mutation("areas_median_income_negative", AR, "median_income", "refuse", ("report", "cli"),
             setter(AR, "median_income", -5)),
    Mutation("areas_type_scb_codes", AR, "area_type", "same", ("report", "cli"),
             mapper(AR, "area_type", lambda s, rng: s.replace({"major_challenges": "1", "challenges": "2",
                                                               "mixed": "3", "good": "4", "very_good": "5"}))),
    # persons (ingestion)
    Mutation("persons_year_null", PS, "year", "refuse", ("snapshots", "events"),
             setter(PS, "year", None, dtype=pl.Int16)),
    Mutation("persons_duplicate", PS, "person_id", "refuse", ("snapshots", "events"), _duplicate_rows(PS)),
    Mutation("persons_income_int64_max", PS, "income", "refuse", ("snapshots", "events"),
             setter(PS, "income", I64)),
    Mutation("persons_birth_year_null", PS, "birth_year", "refuse", ("snapshots", "events"),
             setter(PS, "birth_year", None, dtype=pl.Int16)),
    Mutation("persons_family_position_swedish", PS, "family_position", "same", ("snapshots", "events"),
             mapper(PS, "family_position", lambda s, rng: s.replace({"head": "Huvudman", "child": "barn",
                                                                     "partner": "sambo", "other": "övrig"}))),
    Mutation("persons_family_position_unknown", PS, "family_position", "refuse", ("snapshots", "events"),
             setter(PS, "family_position", "kusin")),
    # person events
    Mutation("events_duplicate", PE, "event", "refuse", ("events",), _duplicate_rows(PE)),
    Mutation("events_self_move", PE, "to_dwelling", "refuse", ("events",),
             lambda f, rng, n: {**f, PE: f[PE].with_columns(
                 to_dwelling=pl.when((pl.col("event") == "move") & (pl.int_range(pl.len()) % 7 == n % 7))
                 .then("from_dwelling").otherwise("to_dwelling"))}),
    Mutation("events_unknown_kind", PE, "event", "refuse", ("events",), setter(PE, "event", "flytt")),
    Mutation("events_date_yyyymmdd", PE, "event_date", "refuse", ("events",), mapper(PE, "event_date", _yyyymmdd)),
    Mutation("events_date_end_of_date32", PE, "event_date", "refuse", ("events",),
             far(PE, "event_date", 2**31 - 2)),
]

def _files(where: str, name: str, content):
    """A file of the CLI's register (``where="register"``) or trace directory replaced by ``content``
    (bytes, or a callable on the file's bytes)."""
    return lambda frames, rng, n: {**frames, f"__{where}__": {name: content}}


MUTATIONS += [  # the CLI's own inputs: files and manifests
    Mutation("register_json_corrupt", store.REGISTER_MANIFEST, "JSON", "refuse", ("cli",),
             _files("register", store.REGISTER_MANIFEST, b"{")),
    Mutation("register_json_not_an_object", store.REGISTER_MANIFEST, "JSON", "refuse", ("cli",),
             _files("register", store.REGISTER_MANIFEST, b"[1, 2]")),
    Mutation("trace_json_corrupt", store.TRACE_MANIFEST, "JSON", "refuse", ("cli",),
             _files("chains", store.TRACE_MANIFEST, b"")),
    Mutation("moves_parquet_truncated", MV, "parquet", "refuse", ("cli",),
             _files("register", store.REGISTER_FILES[MV], lambda b: b[: len(b) // 2])),
    Mutation("dwellings_parquet_garbage", DW, "parquet", "refuse", ("cli",),
             _files("register", store.REGISTER_FILES[DW], b"PAR1 not really")),
]
BY_NAME = {m.name: m for m in MUTATIONS}


def cases() -> list[tuple[str, str]]:
    """Every (mutation, target) pair."""
    return [(m.name, t) for m in MUTATIONS for t in m.targets]


# ------------------------------------------------------------------------------ the worker
def _named(message: str, table: str, column: str) -> bool:
    """A clear error names the table and the column (e.g. ``moves.size`` or ``moves: ... ['fills']``)."""
    return table in message and re.search(rf"\b{re.escape(column)}\b", message) is not None


class Worker:
    """Runs cases against one unmutated register held in memory."""

    def __init__(self) -> None:
        from flyttkedja.synth import generate

        reg = generate("tiny", years=2, seed=3)
        self.base: Frames = {name: pl.from_arrow(getattr(reg, name))
                             for name in (MV, DW, AR, PS, PE)}
        self.tmp = Path(tempfile.mkdtemp(prefix="fk-fuzz-"))
        import atexit
        import shutil

        atexit.register(shutil.rmtree, self.tmp, True)
        self.memo: dict = {}  # the last variant's trace and validate results, shared by its targets
        self.baseline = {t: self.run_target(t, self.base) for t in TARGETS}

    def once(self, key, compute):
        """``compute()``, or its result (or the error it raised) for the same variant and inputs:
        the targets of one variant (consecutive cases) trace and validate the same frames."""
        if key is None:
            return compute()
        if key not in self.memo:
            if self.memo and next(iter(self.memo))[1] != key[1]:
                self.memo.clear()  # another variant: keep one variant's results only
            try:
                self.memo[key] = (True, compute())
            except Exception as exc:  # noqa: BLE001 - re-raised for each target that asks
                self.memo[key] = (False, exc)
        ok, value = self.memo[key]
        if not ok:
            raise value
        return value

    # each target returns something comparable (the output) or raises
    def run_target(self, target: str, f: Frames, variant=None):
        import flyttkedja
        from flyttkedja.analysis import Report
        from flyttkedja.ingest import from_person_moves, from_snapshots

        if target == "trace":
            cs = self.once(variant and ("trace", variant), lambda: flyttkedja.trace(f[MV], f[DW]))
            return (cs.chains, cs.links), cs.quality
        if target == "report":
            cs = self.once(variant and ("trace", variant), lambda: flyttkedja.trace(f[MV], f[DW]))
            report = Report(cs, areas=f[AR], by=["tenure"], ci=False)
            return tuple(report.tables[name] for name in sorted(report.tables)), cs.quality
        if target == "snapshots":
            return (pl.from_arrow(from_snapshots(f[PS], f[DW])),), {}
        if target == "events":
            return (pl.from_arrow(from_person_moves(f[PE], f[PS], f[DW])),), {}
        return self.run_cli(f)

    def run_cli(self, f: Frames):
        import shutil

        from click.testing import CliRunner

        from flyttkedja.cli import main

        root = Path(tempfile.mkdtemp(dir=self.tmp))
        reg = root / "register"
        reg.mkdir()
        for name in (MV, DW, AR):
            f[name].write_parquet(store.register_file(reg, name))
        runner = CliRunner()
        try:
            _replace_files(reg, f.get("__register__", {}))
            for args in (["trace", str(reg), "--out", str(root / "chains")],
                         ["report", str(root / "chains"), "--out", str(root / "report"), "--replicates", "0"]):
                result = runner.invoke(main, args)
                if result.exit_code != 0:
                    raise CliFailure(result.exit_code, result.output, result.exception)
                _replace_files(root / "chains", f.get("__chains__", {}))
            return (pl.read_parquet(store.chains_file(root / "chains", "chains")),
                    pl.read_parquet(store.report_table_files(root / "report", "length_summary")[0])), \
                store.read_trace_manifest(root / "chains").quality
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def validate_refuses(self, target: str, f: Frames, variant=None) -> tuple[bool, bool]:
        """Whether validate, given the inputs ``target`` reads, finds an issue the functions refuse;
        and whether it reports only issues they accept and count."""
        import flyttkedja
        from flyttkedja.schema import SchemaError

        if any(k.startswith("__") for k in f):  # a file-level problem: validate reads the same files
            return self.validate_files(f)
        inputs = {"trace": (MV, DW), "report": (MV, DW, AR), "cli": (MV, DW, AR), "snapshots": (PS,),
                  "events": (PE, PS)}[target]
        kwargs = {{MV: "moves", DW: "dwellings", AR: "areas", PS: "persons", PE: "events"}[t]: f[t] for t in inputs}
        try:
            report = self.once(variant and (inputs, variant), lambda: flyttkedja.validate(**kwargs))
        except SchemaError:
            return True, False
        return bool(report.refusals), bool(report.issues) and not report.refusals

    def validate_files(self, f: Frames) -> tuple[bool | None, bool]:
        """``flyttkedja validate`` on the CLI's register directory: exit 2 (unreadable) or 1 with refusals."""
        import shutil

        from click.testing import CliRunner

        from flyttkedja.cli import main

        root = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            for name in (MV, DW, AR):
                f[name].write_parquet(store.register_file(root, name))
            _replace_files(root, f.get("__register__", {}))
            if "__chains__" in f:  # validate reads registers, not traces: nothing to agree on
                return None, False
            result = CliRunner().invoke(main, ["validate", str(root), "--json"])
            if result.exit_code == 2:
                return True, False
            checks = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
            return any(c["rows"] and c["action"] == "refuse" for c in checks), False
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def run(self, case: dict) -> dict:
        from flyttkedja.schema import SchemaError

        m = BY_NAME[case["mutation"]]
        f = m.apply(dict(self.base), np.random.default_rng(case["seed"]), case["rows"])
        target = case["target"]
        variant = (m.name, case["seed"], case["rows"])  # apply() is deterministic in these
        out = {"mutation": m.name, "target": target, "expect": m.expect}
        try:
            out["validate_refuses"], counted_by_validate = self.validate_refuses(target, f, variant)
        except BaseException as exc:  # noqa: BLE001 - validate itself failing is a finding too
            if isinstance(exc, KeyboardInterrupt):
                raise
            out["validate_refuses"], counted_by_validate = f"validate failed: {type(exc).__name__}: {exc}"[:300], False
        try:
            result, quality = self.run_target(target, f, variant)
        except CliFailure as exc:
            lines = exc.output.strip().splitlines()
            one_line = len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in exc.output
            clear = exc.code == 2 and one_line and _named(exc.output, m.table, m.column)
            out |= {"refused": True, "error": exc.output.strip()[-500:],
                    "outcome": "clear" if clear and m.expect == "refuse" else "unclear"}
        except SchemaError as exc:
            clear = _named(str(exc), m.table, m.column)
            out |= {"refused": True, "error": str(exc)[:500],
                    "outcome": "clear" if clear and m.expect == "refuse" else "unclear"}
        except Exception as exc:  # noqa: BLE001 - every other error is unclear by definition
            out |= {"refused": True, "error": f"{type(exc).__name__}: {exc}"[:500] + traceback.format_exc()[-800:],
                    "outcome": "unclear"}
        except BaseException as exc:  # a panic in a compiled library (pyo3), MemoryError's cousins
            if isinstance(exc, KeyboardInterrupt):
                raise
            out |= {"refused": True, "error": f"{type(exc).__name__}: {exc}"[:500] + traceback.format_exc()[-800:],
                    "outcome": "crash"}
        else:
            out["refused"] = False
            out["outcome"] = self.judge(m, target, result, quality, counted_by_validate)
        return out

    def judge(self, m: Mutation, target: str, result, quality, counted_by_validate: bool) -> str:
        """Accepted output: the same as the unmutated register's (``same``); for ``count``, the
        problem counted by the tracer (``quality``) or reported by validate (its occupancy checks)."""
        base, base_quality = self.baseline[target]
        same = len(result) == len(base) and all(a.equals(b) for a, b in zip(result, base))
        if m.expect == "same":
            return "correct" if same else "silent"
        if m.expect == "count":
            counted = counted_by_validate or bool(quality.get("input_counts")) or any(
                quality.get(k) != base_quality.get(k) for k in ("inconsistent_vacancies", "orphan_fills"))
            return "correct" if counted or same else "silent"
        return "silent"


def _replace_files(directory: Path, files: dict) -> None:
    for name, content in files.items():
        path = directory / name
        old = path.read_bytes() if path.exists() else b""
        path.write_bytes(content(old) if callable(content) else content)


class CliFailure(Exception):
    def __init__(self, code, output, exception):
        super().__init__(output)
        self.code, self.output, self.exception = code, output, exception


def serve() -> None:
    """Worker loop: one JSON case per stdin line → one JSON result per stdout line."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    worker = Worker()
    out = sys.stdout
    sys.stdout = sys.stderr  # anything the code under test prints must not break the protocol
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        result = worker.run(json.loads(line))
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_NUM_THREADS", "2")
    serve()
