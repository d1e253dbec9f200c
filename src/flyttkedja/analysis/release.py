"""A release: every table of one report protected together, against earlier releases too.

The attacker this protects against sees every table of the release (and of
the earlier releases in the :class:`Ledger`) and knows how they tie together.
:func:`identities` states those ties as linear (in)equalities over the cells
of the families of :mod:`flyttkedja.analysis._specs` — structural facts that
hold for every register, e.g. per seed group g and step k

    vacating links at step k = chains of length ≥ k − chains of length k ended by a move

(a chain ended by a new household, an in-migrant, an immigrant or a split ends
with a move that vacates nothing; every other link vacates a dwelling), the
links' origins in ``segregation`` = the same links by area type in ``flows``,
``no_dwelling`` origins = chains ended by a move, Σ ``rounds`` classes = the
step's vacating links, total links = Σ length × chains, chains = Σ depth classes (trees), and for every target
group t: chains reaching t ≤ households of t housed, ≤ chains. Each identity
is checked on the data (it must hold exactly) before it enters the model.

Example
-------
>>> model, info = release_model(builder, items, totals, rounds=6)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from flyttkedja import store
from flyttkedja.analysis.conventions import identities_between
from flyttkedja.analysis.disclosure import Model, Protection, Rules
from flyttkedja.io import write_json

MOVE_ENDS = ("new_household", "in_migrant", "immigrant", "not_vacated")  # the last move vacates nothing
LEDGER_FORMAT = "flyttkedja-disclosure-ledger/1"
# seed attributes that identify a record or are near unique: never a `by`
IDENTIFYING = ("chain_id", "seed_dwelling", "dwelling_id", "building_id", "area_id", "household_id",
               "move_row", "person_id", "seed_date", "completed", "floor_area_m2", "income", "lopnr")
NEAR_UNIQUE_SHARE = 0.5  # a `by` whose groups average fewer than 2 chains identifies them


def refuse_identifiers(by: tuple[str, ...]) -> None:
    """Refuse ``by`` columns that are identifiers by name (before any data is read).

    >>> refuse_identifiers(("tenure", "building_id"))
    Traceback (most recent call last):
    ...
    ValueError: by=building_id: an identifier ...
    """
    for c in by:
        if c.lower() in IDENTIFYING or c.lower().endswith("_id"):
            raise ValueError(f"by={c}: an identifier (or near-unique attribute) cannot be a seed group; "
                             f"group by non-identifying attributes such as tenure, rooms, size_band, seed_year")


def check_by(chains: pl.DataFrame, by: tuple[str, ...], threshold: int) -> None:
    """Refuse ``by`` columns that identify records: ids, dates, and near-unique columns.

    >>> check_by(pl.DataFrame({"chain_id": [1, 2], "tenure": ["a", "a"]}), ("chain_id",), 5)
    Traceback (most recent call last):
    ...
    ValueError: by=chain_id: an identifier ...
    """
    refuse_identifiers(by)
    if by and chains.height >= 2 * threshold:
        for c in by:
            if c not in chains.columns:  # derived from the seed's attributes (size_band): a few bands
                continue
            groups = chains[c].n_unique()
            if groups > NEAR_UNIQUE_SHARE * chains.height:
                raise ValueError(f"by={c}: {groups} distinct values for {chains.height} chains — near unique, it "
                                 f"identifies chains; group by non-identifying attributes (tenure, rooms, ...)")


# ------------------------------------------------------------------ identities
def _cells(b, name: str) -> pl.DataFrame | None:
    if name not in b.named:
        return None
    fam, off = b.named[name]
    return fam.cells.with_columns(cell=pl.col("_cell").cast(pl.Int64) + off)


def identities(b, rounds: int) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Terms (``key``, ``cell``, ``coef``) of the equalities and inequalities between families (see module)."""
    C = _cells(b, "chains")
    eq, ub = [], []
    if C is None:
        return eq, ub
    C = C.with_columns(move=pl.col("end_reason").cast(pl.String).is_in(MOVE_ENDS), L=pl.col("length").cast(pl.Int64))
    g = pl.col("_group").cast(pl.String)
    key = lambda *parts: pl.concat_str([p if isinstance(p, pl.Expr) else pl.lit(p) for p in parts],  # noqa: E731
                                       separator=":")
    # a tree's links of round k are not "chains of length ≥ k" and its no_dwelling origins are leaves, not
    # chains: those two identities are the path convention's only (they would hold by chance in some groups)
    path = b.p.convention == "path"
    F = _cells(b, "flows")
    if F is not None and path:
        eq.append(F.select(key("step", g, pl.col("step").cast(pl.String)).alias("key"), "cell", coef=pl.lit(1.0)))
        ks = pl.DataFrame({"k": np.arange(1, rounds + 2)})
        # chains of length ≥ k for k ≤ rounds (−1 each), and (L − rounds) for the last, open step
        cc = C.join(ks, how="cross").filter(pl.col("L") >= pl.col("k"))
        eq.append(cc.select(key("step", g, pl.col("k").cast(pl.String)).alias("key"), "cell",
                            coef=pl.when(pl.col("k") <= rounds).then(-1.0)
                            .otherwise(-(pl.col("L") - rounds).cast(pl.Float64))
                            + pl.when(pl.col("move") & ((pl.col("L") == pl.col("k")) | (pl.col("k") > rounds)))
                            .then(1.0).otherwise(0.0)).filter(pl.col("coef") != 0))
    R = _cells(b, "rounds")
    if R is not None and F is not None:
        eq.append(R.select(key("rounds", g, pl.col("step").cast(pl.String)).alias("key"), "cell", coef=pl.lit(1.0)))
        eq.append(F.filter(pl.col("step") <= rounds).select(key("rounds", g, pl.col("step").cast(pl.String))
                                                            .alias("key"), "cell", coef=pl.lit(-1.0)))
    S = _cells(b, "segregation")
    if S is not None:
        eq.append(S.filter(pl.lit(path) | (pl.col("origin") != "no_dwelling")).select(
            key("origin", g, pl.col("origin")).alias("key"), "cell", coef=pl.lit(1.0)))
        if path:
            eq.append(C.filter(pl.col("move") & (pl.col("L") > 0)).select(
                key("origin", g, pl.lit("no_dwelling")).alias("key"), "cell", coef=pl.lit(-1.0)))
        if F is not None:
            eq.append(F.filter(pl.col("area_type").is_not_null()).select(
                key("origin", g, pl.col("area_type").cast(pl.String)).alias("key"), "cell", coef=pl.lit(-1.0)))
        eq.append(S.select(key("links", g).alias("key"), "cell", coef=pl.lit(1.0)))
        eq.append(C.filter(pl.col("L") > 0).select(key("links", g).alias("key"), "cell",
                                                   coef=-pl.col("L").cast(pl.Float64)))
    D = _cells(b, "depth")  # trees: every chain has one depth
    if D is not None:
        eq.append(D.select(key("depth", g).alias("key"), "cell", coef=pl.lit(1.0)))
        eq.append(C.select(key("depth", g).alias("key"), "cell", coef=pl.lit(-1.0)))
    H, K = _cells(b, "reach_households"), _cells(b, "reach_chains")
    if H is not None and K is not None:
        tg = pl.col("_tg").cast(pl.String)
        groups = H.select("_group", "_tg").unique()
        for name, first, second in (("reached<=housed", K, H), ("reached<=chains", K, None),
                                    ("housed<=links", H, None)):
            ub.append(first.select(key(name, g, tg).alias("key"), "cell", coef=pl.lit(1.0)))
            if second is not None:
                ub.append(second.select(key(name, g, tg).alias("key"), "cell", coef=pl.lit(-1.0)))
            else:
                coef = -pl.col("L").cast(pl.Float64) if name == "housed<=links" else pl.lit(-1.0)
                ub.append(C.join(groups, on="_group").select(key(name, g, pl.col("_tg").cast(pl.String)).alias("key"),
                                                              "cell", coef=coef))
    return eq, ub


def _matrix(terms: list[pl.DataFrame], n_cells: int) -> tuple[sparse.csr_matrix, list[str]]:
    if not terms:
        return sparse.csr_matrix((0, n_cells)), []
    t = pl.concat([x.select("key", pl.col("cell").cast(pl.Int64), pl.col("coef").cast(pl.Float64)) for x in terms])
    keys = t["key"].unique().sort()
    row = t["key"].replace_strict(keys, pl.Series(np.arange(len(keys))), return_dtype=pl.Int64).to_numpy()
    M = sparse.csr_matrix((t["coef"].to_numpy(), (row, t["cell"].to_numpy())), shape=(len(keys), n_cells))
    return M, keys.to_list()


def release_model(builders, items, totals: np.ndarray, rounds: int) -> tuple[Model, dict]:
    """The :class:`~flyttkedja.analysis.disclosure.Model` of a release's items over the builders' cells.

    ``builders``: one :class:`~flyttkedja.analysis._specs.Builder` (or a list:
    the two chain conventions of one register, cells numbered one after the
    other; their identities are tied by
    :func:`flyttkedja.analysis.conventions.identities_between`). Identities
    that do not hold on these data exactly (they should all hold) are left
    out and counted in the returned info.
    """
    builders = builders if isinstance(builders, (list, tuple)) else [builders]
    n_cells = builders[-1].n_cells
    A = sparse.csr_matrix((items.coef, (items.item, items.cell)), shape=(items.n_items, n_cells))
    eq, ub = [], []
    for bb in builders:
        e, u = identities(bb, rounds)
        prefix = "" if bb is builders[0] else f"{bb.p.convention}/"  # keys of one convention's identities
        eq += [t.with_columns(key=pl.lit(prefix) + pl.col("key")) for t in e]
        ub += [t.with_columns(key=pl.lit(prefix) + pl.col("key")) for t in u]
    if len(builders) == 2:
        e, u = identities_between(*builders)
        eq, ub = eq + e, ub + u
    E, eq_keys = _matrix(eq, n_cells)
    G, ub_keys = _matrix(ub, n_cells)
    e_ok = np.abs(E @ totals) < 1e-6
    g_ok = (G @ totals) <= 1e-6
    info = {"identities": int(e_ok.sum()), "inequalities": int(g_ok.sum()),
            "identities_not_holding": sorted({k.split(":")[0] for k, ok in zip(eq_keys, e_ok) if not ok}
                                             | {k.split(":")[0] for k, ok in zip(ub_keys, g_ok) if not ok})}
    cell_group = np.full(n_cells, -1, np.int64)
    for bb in builders:
        for fam, off in bb.named.values():
            if "_group" in fam.cells.columns:
                cell_group[fam.cells["_cell"].to_numpy() + off] = fam.cells["_group"].fill_null(-1).to_numpy()
    return Model(A, totals, E[np.flatnonzero(e_ok)], G[np.flatnonzero(g_ok)], cell_group=cell_group), info


# ------------------------------------------------------------------ ledger
def register_fingerprint(chainset) -> str:
    """Content hash of the chains (what every release of this register is computed from)."""
    h = hashlib.blake2b(digest_size=16)
    for c in ("chain_id", "seed_dwelling", "length", "end_reason"):
        if c in chainset.chains.columns:
            h.update(chainset.chains[c].cast(pl.String).fill_null("").str.join("\x1f").item().encode())
    return h.hexdigest()


@dataclass
class Ledger:
    """What earlier releases of one register published (kept beside the outputs, :func:`flyttkedja.store.ledger_file`).

    Each release records its parameters (``by``, tables, rounds, target
    groups, rule set) and, per table, the published ``n`` and ``n_base`` of
    every row (null where withheld). A new release recomputes those rows from
    the same register and adds them to its protection model: what was
    published is known to the attacker (and is published the same way again);
    what was withheld stays withheld.
    """

    path: Path
    register: str | None = None
    releases: list[dict] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Ledger":
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a readable disclosure ledger ({e})") from None
        if record.get("format") != LEDGER_FORMAT:
            raise ValueError(f"{path}: not a flyttkedja disclosure ledger (format {record.get('format')!r})")
        return cls(path, record.get("register"), list(record.get("releases", [])))

    def check_register(self, fingerprint: str) -> None:
        if self.register is not None and self.register != fingerprint:
            raise ValueError(f"{self.path}: the ledger belongs to another register (or other chains); "
                             "use a separate ledger per register")

    def without(self, name: str | None) -> "Ledger":
        """The ledger less the release ``name`` (the one a rewrite of that release replaces)."""
        return Ledger(self.path, self.register, [r for r in self.releases if name is None or r.get("name") != name])

    def record(self, fingerprint: str, release: dict) -> dict:
        """The ledger's content with ``release`` appended (same name: replaced)."""
        releases = [r for r in self.releases if r.get("name") != release.get("name")] + [release]
        return {"format": LEDGER_FORMAT, "register": fingerprint, "releases": releases}

    @property
    def reports(self) -> list[dict]:
        """The releases of report tables (those a new report's protection model recomputes)."""
        return [r for r in self.releases if r.get("kind", "report") == "report"]

    @property
    def scenario_runs(self) -> list[dict]:
        """The scenario runs declared in the ledger (:func:`declare_scenario_run`)."""
        return [r for r in self.releases if r.get("kind") == "scenario"]


def declare_scenario_run(path: str | os.PathLike, fingerprint: str, name: str, model_file: Path,
                         summary: dict) -> str | None:
    """Record a scenario run of a register in the ledger at ``path`` (atomically): its name, the
    transition model's file hash and, per count array, the published and withheld counts (``summary``:
    :func:`model_checking`). Returns None, or why the run was not recorded (the ledger is another
    register's). A later report of the register lists the run in its output check.
    """
    ledger = Ledger.open(path)
    if ledger.register is not None and ledger.register != fingerprint:
        return f"{ledger.path} belongs to another register; the run is not declared there"
    entry = {"name": name, "kind": "scenario", "model": store.MODEL_FILE,
             "model_sha256": hashlib.sha256(Path(model_file).read_bytes()).hexdigest(),
             "rules": summary["rules"], "published": {k: {"cells": t["cells"], "published": t["published_counts"],
                                                          "withheld": t["withheld"]}
                                                      for k, t in summary["tables"].items()}}
    write_json(ledger.record(fingerprint, entry), ledger.path)
    return None


def published_counts(frames: dict[str, pl.DataFrame]) -> dict[str, dict[str, list]]:
    """Per table, the published ``n`` and ``n_base`` columns (null where withheld), as the ledger stores them."""
    return {name: {"n": f["n"].to_list(), "n_base": f["n_base"].to_list()} for name, f in frames.items()}


# ------------------------------------------------------------------ output checking
def checking_summary(frames: dict[str, pl.DataFrame], protection: Protection | None, item_tables: dict,
                     rules: Rules | None, info: dict, method: str | None) -> dict:
    """Per table: cells, rule, primary and secondary suppressions, smallest published count, identities."""
    tables = {}
    for name, f in frames.items():
        counts = pl.concat([f["n"], f["n_base"]])
        positive = counts.filter(counts > 0)
        entry = {"rows": f.height, "published_counts": int(counts.is_not_null().sum()),
                 "withheld_rows": int(f["suppressed"].sum()),
                 "smallest_published_count": None if positive.is_empty() else int(positive.min())}
        if protection is not None:
            mine = item_tables[name]
            entry.update({"items": int(len(mine)), "primary": int(protection.primary[mine].sum()),
                          "zeros_in_small_counts": int(protection.zeros[mine].sum()),
                          "secondary": int((protection.suppressed & ~protection.primary
                                            & ~protection.zeros)[mine].sum())})
        tables[name] = entry
    out = {"method": method or "none", "rules": rules.as_dict() if rules else None, "tables": tables, **info}
    if protection is not None:
        out.update({"withheld_items": int(protection.suppressed.sum()), "linear_programs": protection.lps,
                    "unprotectable": int(protection.unprotectable.sum())})
    return out


def checking_text(summary: dict) -> str:
    """The output-checking summary in plain words (for a secure environment's output checker)."""
    rules = summary.get("rules") or {}
    lines = [f"Output checking summary — disclosure control: {summary['method']}"]
    n_earlier = summary.get("earlier_releases", 0)
    earlier = f" and {n_earlier} earlier release(s)" if n_earlier else ""
    if summary["method"] == "suppress":
        lines += [f"Rule set {rules['rules']}: counts of 1 to {rules['threshold'] - 1} records withheld; "
                  f"zeros inside a withheld small count withheld too; every withheld count keeps an attacker's "
                  f"interval at least {rules['interval_width']} wide (linear programming over all tables of the "
                  f"release{earlier}).",
                  f"Identities in the protection model: {summary.get('identities', 0)} equalities and "
                  f"{summary.get('inequalities', 0)} inequalities between tables (chains = their end reasons; "
                  "links per step = chains of that length or longer, less those ended by a move; flows = "
                  "segregation origins = rounds; reach ≤ households ≤ links), plus every margin, 'all' row and "
                  "n_base of every table, each count treated the same wherever it appears.",
                  f"Withheld: {summary.get('withheld_items', 0)} distinct counts "
                  f"({summary.get('linear_programs', 0)} linear programs)."]
        if summary.get("differences_between_conventions") is not None:
            lines.append(f"Both chain conventions in one release: per seed group and end reason as many paths as "
                         f"trees, a tree at least as long and deep as its path; "
                         f"{summary['differences_between_conventions']} differences between the conventions' "
                         f"counts of 1 to {rules['threshold'] - 1} records (the records one convention adds) "
                         "protected like withheld counts, although no table shows them.")
        if summary.get("scenario_runs_declared"):
            lines.append(f"Declared in the ledger: scenario run(s) {', '.join(summary['scenario_runs_declared'])} of "
                         f"this register; their {store.MODEL_FILE} counts are protected by the transition model's "
                         "own rules (primary, complements, margins), not in this release's linear-programming model: "
                         "check the two outputs together.")
        if summary.get("known_from_earlier_releases"):
            lines.append(f"Published as known: {summary['known_from_earlier_releases']} zero counts that lie under a "
                         "zero an earlier release published (withholding them would protect nothing).")
        if summary.get("unprotectable"):
            lines.append(f"WARNING: {summary['unprotectable']} withheld counts are already determined by earlier "
                         "releases; nothing in this release can protect them.")
        if summary.get("identities_not_holding"):
            lines.append(f"Identities left out (do not hold in these data): {summary['identities_not_holding']}")
    elif summary["method"] == "cell_key":
        lines.append("Cell Key Method: every count perturbed by at most ±2 from a secret key (not recorded).")
    else:
        lines.append("NO DISCLOSURE CONTROL: these tables must not leave the secure environment.")
    lines.append("")
    for name, t in summary["tables"].items():
        extra = (f", {t['primary']} primary, {t['zeros_in_small_counts']} zeros, {t['secondary']} secondary "
                 "withheld" if "primary" in t else "")
        lines.append(f"{name}: {t['rows']} rows, {t['published_counts']} published counts, "
                     f"{t['withheld_rows']} rows withheld{extra}; smallest published count "
                     f"{t['smallest_published_count']}")
    return "\n".join(lines)


# ------------------------------------------------------------------ output checking of a scenario run
def model_checking(model) -> dict:
    """Output-checking summary of a transition model's counts as a scenario run's model file publishes them.

    ``model``: the estimated :class:`~flyttkedja.scenario.model.TransitionModel`
    before disclosure control (its :meth:`disclosed` is what is written). Per
    count array: cells, records counted, withheld counts (1 to threshold − 1
    records, and those withheld with them by the consistency rules), the
    smallest published count.
    """
    from flyttkedja.scenario.model import COUNT_ARRAYS

    out = model.disclosed()
    tables = {}
    for name in COUNT_ARRAYS:
        if getattr(model, name) is None:  # an optional array the model does not have
            continue
        raw, pub = np.asarray(getattr(model, name)), np.asarray(out.published(name))
        positive = pub[pub > 0]
        tables[f"model.{name}"] = {"cells": int(raw.size), "nonzero_counts": int((raw > 0).sum()),
                                   "published_counts": int((pub > 0).sum()),
                                   "withheld": int(((raw > 0) & (pub == 0)).sum()),
                                   # counted again over the cells kept (a margin never includes a withheld cell)
                                   "recounted": int(((pub != raw) & (pub > 0)).sum()),
                                   "smallest_published_count": int(positive.min()) if positive.size else None}
    pooled = {}
    for name, pools in out.pooled.items():  # withheld counts published as sums over coarser cells ("pooled")
        value = np.asarray(pools["value"])
        pooled[f"model.{name}"] = {"pools": int(value.size), "records": int(value.sum()),
                                   "smallest_published_count": int(value.min()) if value.size else None}
    return {"method": "primary suppression of the transition model's counts, with complements and margins; "
                      "withheld outcome counts pooled into coarser cells",
            "rules": {"rules": "scb" if model.threshold >= 5 else "unsafe", "threshold": int(model.threshold)},
            "tables": tables, "pooled": pooled,
            "withheld_counts": int(sum(t["withheld"] for t in tables.values())),
            "recounted_counts": int(sum(t["recounted"] for t in tables.values())),
            "pooling": "first and later: a withheld count is pooled with the other withheld counts of its row "
                       "by the outcome's parent strata (then the row's), level by level, and published as the "
                       "pool's sum once that is at least the threshold and at most (threshold − 1) × its cells "
                       "written as 0, less 3 (no cell of it then known to within ±1); pools never overlap; "
                       "first_group: its counts under first's withheld cells pool the same way, each pool "
                       "published only where the same cells' first fillers outside the group obey the same bounds",
            "complements_and_margins": "a group's count is kept only with its complement (fills, and first_group "
                                       "against first: the cell's first fillers outside the group); a margin "
                                       "(fills of the filled cells of first and later; the first fillers' profile "
                                       "of first_group's row) only where the withheld cells under it sum to 0 or at "
                                       "least 3 over at least two zero cells (a withheld count is written as 0), "
                                       "else the stratum borrows from its parent stratum; vacated_income is "
                                       "counted over the kept cells",
            "not_in_release_model": f"{store.MODEL_FILE}'s counts are not in a report's linear-programming release "
                                    "model (no identities with a report's tables); the run is declared in the "
                                    "ledger beside the output, and a later report of the register names it in its "
                                    "output check: a report and a scenario run of one register are two outputs to "
                                    "check"}


def scenario_checking(model_summary: dict, comparison: pl.DataFrame, register_source: bool) -> dict:
    """The scenario run's output-checking summary: the model's counts and where the comparison's figures come from."""
    methods = comparison["method"].unique().sort().to_list()
    return {**model_summary, "comparison": {
        "rows": comparison.height, "withheld_rows": int(comparison["suppressed"].sum()), "methods": methods,
        "source": (f"register: every transition-model figure is computed from {store.MODEL_FILE}'s published counts"
                   if register_source else "synthetic preset: no register microdata; the microsimulation runs "
                   "on synthetic markets")}}


def scenario_checking_text(summary: dict) -> str:
    """:func:`scenario_checking` in plain words (for a secure environment's output checker)."""
    c = summary["comparison"]
    lines = [f"Output checking summary — scenario run: {summary['method']}",
             f"Rule set {summary['rules']['rules']}: counts of 1 to {summary['rules']['threshold'] - 1} vacancy "
             f"records withheld (written as 0), and the counts withheld with them so that the filler-group "
             f"shares stay consistent; {summary['withheld_counts']} counts withheld in all.",
             f"Pooling: {summary['pooling']}; "
             + "; ".join(f"{k}: {v['pools']} pools of {v['records']} records, smallest {v['smallest_published_count']}"
                         for k, v in summary["pooled"].items()) + ".",
             f"Complements and margins: {summary['complements_and_margins']}.",
             f"Not covered: {summary['not_in_release_model']}.",
             f"Ledger: {summary.get('ledger', 'not declared (synthetic source)')}.",
             f"{store.COMPARISON_FILE}: {c['rows']} rows ({', '.join(c['methods'])}), {c['withheld_rows']} withheld; "
             f"{c['source']}.", ""]
    for name, t in summary["tables"].items():
        lines.append(f"{name}: {t['cells']} cells, {t['nonzero_counts']} non-zero counts, {t['published_counts']} "
                     f"published, {t['withheld']} withheld, {t['recounted']} recounted over kept cells; "
                     f"smallest published count "
                     f"{t['smallest_published_count']}")
    return "\n".join(lines)
