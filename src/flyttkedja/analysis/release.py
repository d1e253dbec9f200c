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

MODEL_FILE_WORDS = f"{store.MODEL_FILE}'s"
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
    """Content hash of the register's chains as both conventions share them: every chain's id, seed and
    end reason (a tree's end reason is its spine's, the path's). One ledger then serves a path and a tree
    report of one register; each release records its own convention.

    >>> register_fingerprint(paths) == register_fingerprint(retrace(paths, "tree"))   # doctest: +SKIP
    True
    """
    return _fingerprint(chainset, ("chain_id", "seed_dwelling", "end_reason"))


def legacy_fingerprint(chainset) -> str:
    """The fingerprint ledgers of earlier versions recorded: it hashed the chains' length too, so it
    differs between the conventions (a ledger with it is read by releases of the convention that wrote it)."""
    return _fingerprint(chainset, ("chain_id", "seed_dwelling", "length", "end_reason"))


def _fingerprint(chainset, columns) -> str:
    h = hashlib.blake2b(digest_size=16)
    for c in columns:
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

    def check_register(self, fingerprint: str, legacy: str | None = None) -> None:
        """Refuse another register's ledger; ``legacy``: the chains' :func:`legacy_fingerprint`, which a
        ledger of an earlier version may hold (it is rewritten with ``fingerprint`` at the next record)."""
        if self.register is not None and self.register not in (fingerprint, legacy):
            raise ValueError(f"{self.path}: the ledger belongs to another register (or other chains; a ledger "
                             "of an earlier flyttkedja serves only the chain convention that wrote it); "
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
                         summary: dict, legacy: str | None = None) -> str | None:
    """Record a scenario run of a register in the ledger at ``path`` (atomically): its name, the
    transition model's file hash, its first-vacancy margins (:func:`first_margins`) and, per count array,
    the published and withheld counts (``summary``: :func:`model_checking`). Returns None, or why the run
    was not recorded (the ledger is another register's). ``legacy``: the chains' :func:`legacy_fingerprint`,
    which a ledger of an earlier version holds (the run's record rewrites it with ``fingerprint``, as a
    report's does). A later report of the register ties those margins to its chains in its protection
    model (:func:`add_scenario_ties`) and says so in its output check.
    """
    ledger = Ledger.open(path)
    if ledger.register is not None and ledger.register not in (fingerprint, legacy):
        return (f"{ledger.path} belongs to another register (or other chains: a ledger of an earlier flyttkedja "
                "serves only the chain convention that wrote it); the run is not declared there")
    from flyttkedja.scenario.model import load_model  # what the file publishes, read back

    entry = {"name": name, "kind": "scenario", "model": store.MODEL_FILE,
             "model_sha256": hashlib.sha256(Path(model_file).read_bytes()).hexdigest(),
             "first_margins": first_margins(load_model(model_file)),
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
                         f"this register. {TIE_WORDS}")
            for name, t in summary.get("scenario_runs", {}).items():
                lines.append(f"  {name}: " + (f"tied — {t['strata_outcomes_known']} known and "
                                              f"{t['strata_outcomes_bounded']} bounded margins, {t['pools']} pools, "
                                              f"{t['identities']} identities; protected together with this release"
                                              if isinstance(t, dict) else f"NOT in this release's model: {t}"))
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
    if model.flow is not None:  # the new-household pool's v per kind (scenario.model.vacancy_flow)
        pub = out.flow or {}
        tables["model.vacancy_flow"] = {"cells": len(model.flow), "nonzero_counts": len(model.flow),
                                        "published_counts": len(pub), "withheld": len(model.flow) - len(pub),
                                        "recounted": 0, "smallest_published_count": min(pub.values()) if pub else None}
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
            "not_in_release_model": f"the run is declared in the ledger beside the output with {store.MODEL_FILE}'s "
                                    "first-vacancy margins; a later report of the register ties them to its chains "
                                    f"({TIE_WORDS}) Not in a report's linear-programming model, protected by the "
                                    "model's own rules only: the first fillers' origin strata (against a report's "
                                    "step-1 flows), first_group (against reach and segregation), later, fills, "
                                    "group_fills, first_cogroup, vacated_income — check the two outputs together"}


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


# ------------------------------------------------------------------ a declared scenario run in a later release
TIE_WORDS = (f"{MODEL_FILE_WORDS} first-vacancy counts per stratum and outcome (each end reason, or the "
             "filler left a dwelling), summed, are in this release's protection model as known margins of its "
             "chains by seed group, length and end reason (a cell written as 0 counts 0 to threshold − 1).")
VACATED = "vacated"  # a first vacancy filled by a household that left a dwelling (the chain goes on)


def first_margins(model) -> dict:
    """What a scenario run's model file publishes of new builds' first vacancies, as the ledger records it.

    ``model``: the :class:`~flyttkedja.scenario.model.TransitionModel` as written (e.g.
    :func:`~flyttkedja.scenario.model.load_model` of ``model.json``). A new build's first vacancy is
    counted in ``first[s, o]``: ``s`` its stratum, ``o`` the stratum of the dwelling its filler left,
    or the chain's end reason (no filler, or a filler who left no dwelling). Per stratum and outcome
    *class* — each end reason, and ``"vacated"`` (any stratum) — this keeps ``published``, the sum of
    the file's fine counts, and ``zero_cells``, the cells written as 0 (a true zero or a withheld count
    of 1 to threshold − 1) outside every pool; and per pool of withheld counts (model.json's
    ``pooled``, format /3) its value and its cells per stratum and class. These are what a report's
    chains by seed group, length and end reason tie to (:func:`add_scenario_ties`). Counts in records.

    >>> first_margins(model)["classes"][-1]          # doctest: +SKIP
    'vacated'
    """
    from flyttkedja.scenario.model import POOL_FIELDS

    fine = np.rint(np.asarray(model.published("first") if hasattr(model, "published") else model.first,
                              np.float64))
    S, W = len(model.strata), fine.shape[1]
    C = W - S + 1
    col_class = np.r_[np.full(S, C - 1), np.arange(W - S)]  # a stratum column is "vacated" (the last class)
    zero = fine == 0
    covered = np.zeros_like(zero)
    pools = []
    pooled = (getattr(model, "pooled", None) or {}).get("first")
    if pooled is not None and len(pooled["value"]):
        levels = model.levels()
        for a, r, b, c, v in zip(*(np.asarray(pooled[k]).tolist() for k in POOL_FIELDS)):
            cols = np.zeros(W, bool)  # a pool counts the cells of its rows × columns written as 0 and in no
            if b == 0:                # earlier pool (scenario.model._pool publishes them in this order)
                cols[c] = True
            else:
                cols[:S] = levels[b][:S] == c
            mask = (levels[a][:S] == r)[:, None] & cols[None, :] & zero & ~covered
            covered |= mask
            key, n = np.unique(np.nonzero(mask)[0] * C + col_class[np.nonzero(mask)[1]], return_counts=True)
            pools.append({"value": int(v), "cells": np.c_[key // C, key % C, n].astype(np.int64).tolist()})

    def per_class(a):  # (S, W) → (S, classes): each end reason's column, then the stratum columns summed
        return np.c_[a[:, S:], a[:, :S].sum(axis=1)].astype(np.int64).tolist()

    return {"keys": list(model.keys), "strata": list(model.strata), "classes": [*model.reasons, VACATED],
            "threshold": int(model.threshold), "published": per_class(fine),
            "zero_cells": per_class((zero & ~covered).astype(np.int64)), "pools": pools}


def first_class(length: np.ndarray, end_reason: np.ndarray, classes: list[str]) -> np.ndarray:
    """Index in ``classes`` (:func:`first_margins`) of the class of a new build's first vacancy, per chain
    (or chain cell) from its length and end reason: a chain of length 0 ends at its first vacancy (unfilled,
    censored); one of length 1 ended by a move (:data:`MOVE_ENDS`) was filled by a household that left no
    dwelling; every other chain's first filler left a dwelling. −1: a reason the model does not know."""
    length = np.asarray(length)
    reason = np.asarray(end_reason, dtype=object)
    at_first = (length == 0) | ((length == 1) & np.isin(reason, MOVE_ENDS))
    code = {c: i for i, c in enumerate(classes)}
    out = np.array([code.get(r, -1) for r in reason], np.int64) if len(reason) else np.zeros(0, np.int64)
    return np.where(at_first, out, code[VACATED])


@dataclass
class ScenarioTie:
    """A declared scenario run's first-vacancy margins over one release's chains (:func:`scenario_ties`).

    ``stratum`` (per chain of the release, ChainSet order): the index of the chain's seed stratum in the
    model, −1 for a chain the model does not count in ``first`` (not a new build). ``margins``:
    :func:`first_margins`. ``why``: set when the margins cannot be tied (then nothing is added).
    """

    name: str
    margins: dict | None
    stratum: np.ndarray | None
    why: str | None = None


def scenario_ties(runs: list[dict], chainset) -> list[ScenarioTie]:
    """The ledger's scenario runs as ties to a release of ``chainset`` (the register the ledger is of)."""
    from flyttkedja.scenario.model import stratum_expr  # the model's one definition of a stratum label

    out = []
    chains = chainset.chains
    for run in runs:
        m = run.get("first_margins")
        if m is None:
            out.append(ScenarioTie(run["name"], None, None, "declared by an older version, without its model's "
                                                            "margins"))
            continue
        missing = sorted({"rooms" if k == "size_band" else k for k in m["keys"]} - set(chains.columns))
        if missing:
            out.append(ScenarioTie(run["name"], m, None, f"the chains have no {', '.join(missing)}"))
            continue
        labels = chains.select(stratum_expr(m["keys"])).to_series()
        index = pl.Series(np.arange(len(m["strata"]), dtype=np.int64))
        stratum = labels.replace_strict(pl.Series(m["strata"]), index, default=-1, return_dtype=pl.Int64).to_numpy()
        if "seed_kind" in chains.columns:
            stratum = np.where((chains["seed_kind"] == "new_build").to_numpy(), stratum, -1)
        out.append(ScenarioTie(run["name"], m, stratum))
    return out


def add_scenario_ties(model: Model, b, ties: list[ScenarioTie]) -> dict:
    """Append to ``model`` (in place) the cells and rows that tie each run's first-vacancy margins to the
    release's chains by seed group × length × end reason (``b``: the builder of the release's finest groups).

    For every seed group g, stratum s a new build of g can have (their common attributes agree) and
    class o of g's chain cells, a new cell ``z[g, s, o]`` (g's new builds of stratum s whose first
    vacancy is of class o), and ``m[g, o]`` for g's other chains when the register has other seeds,
    with the identity Σ g's chain cells of class o = Σ_s z[g, s, o] + m[g, o]. For every stratum s and
    class o, Σ_g z[g, s, o] = V + Σ_k q[k, s, o] + r[s, o] · unit: V the published fine counts' sum,
    q the part of pool k (model.json's ``pooled``) in (s, o) — the pools' values are known items —
    and r the cells written as 0 in no pool, each part at most threshold − 1 records per cell
    (inequalities against a unit cell fixed at 1). This is exact: s and the withheld cells enter the
    report only through these sums. A tie whose counts cannot be those of these chains (another
    register, keys or convention) is not added. Returns, per run, what was added or why not.
    """
    info = {}
    if "chains" not in b.named:
        return {t.name: "the release has no chain counts" for t in ties}
    fam, off = b.named["chains"]
    records = fam.records.select("_chain", "_cell")
    chain_cell = np.full(b.p.chains.height, -1, np.int64)
    chain_cell[records["_chain"].to_numpy()] = records["_cell"].to_numpy()
    cell_group = fam.cells["_group"].to_numpy().astype(np.int64)
    for t in ties:
        if t.why is not None:
            info[t.name] = t.why
            continue
        m = t.margins
        classes, S, C = m["classes"], len(m["strata"]), len(m["classes"])
        cell_class = first_class(fam.cells["length"].to_numpy(), fam.cells["end_reason"].to_numpy(), classes)
        g_of, o_of = cell_group[chain_cell], cell_class[chain_cell]
        new = t.stratum >= 0
        if (new & (o_of < 0)).any():
            info[t.name] = "a new build's chain ends for a reason the model does not know"
            continue
        compat = _compatible(b.p.groups, m["keys"], m["strata"])
        if not compat[g_of[new], t.stratum[new]].all():
            info[t.name] = "its strata do not match these chains' seed groups (another register or strata keys)"
            continue
        z_truth = np.bincount((g_of[new] * S + t.stratum[new]) * C + o_of[new], minlength=compat.size * C)
        other = ~new & (o_of >= 0)
        m_truth = np.bincount(g_of[other] * C + o_of[other], minlength=compat.shape[0] * C) if other.any() else None
        added = _append_tie(model, off, cell_group, cell_class, compat, z_truth, m_truth, m)
        info[t.name] = added if added is not None else (
            "its counts do not match these chains (another register, strata keys or chain convention)")
    return info


def _compatible(groups: pl.DataFrame, keys: list[str], strata: list[str]) -> np.ndarray:
    """(groups × strata) bool: a new build of seed group g can lie in stratum s (the attributes that are
    both a ``by`` column and a stratum key agree, each labelled by the model's stratum definition)."""
    from flyttkedja.scenario.model import stratum_expr

    parts = np.array([s.split("|") for s in strata], dtype=object).reshape(len(strata), len(keys))
    out = np.ones((groups.height, len(strata)), bool)
    for i, k in enumerate(keys):
        col = "rooms" if k == "size_band" else k
        if col not in groups.columns:
            continue
        g = groups.select(pl.col(col).replace("missing", None))
        if col == "rooms":
            g = g.select(pl.col(col).cast(pl.Int64, strict=False))
        label = g.select(stratum_expr([k])).to_series().to_numpy().astype(object)
        out &= label[:, None] == parts[None, :, i]
    return out


def _append_tie(model: Model, off, cell_group, cell_class, compat, z_truth, m_truth, margins) -> dict | None:
    """The cells, identities and items of one tie (see :func:`add_scenario_ties`); None (nothing added)
    when the published counts cannot be those of these chains."""
    n0 = model.A.shape[1]
    n_groups, S = compat.shape
    C = len(margins["classes"])
    V = np.asarray(margins["published"], np.float64).ravel()
    Z = np.asarray(margins["zero_cells"], np.float64).ravel()
    top = margins["threshold"] - 1.0
    pools = margins.get("pools", [])
    valid = cell_class >= 0
    go_cell = cell_group * C + cell_class
    keys = np.unique(go_cell[valid])  # (g, o) with chain cells: one identity each
    kg, ko = keys // C, keys % C
    zk, zs = np.nonzero(compat[kg])  # z cells: every stratum each key's group can have
    z_so = zs * C + ko[zk]
    zt = z_truth.reshape(n_groups, S, C)[kg[zk], zs, ko[zk]]
    # pool parts q (pool k's cells in (s, o)) and r (the cells of (s, o) written as 0 in no pool)
    q = np.array([(k, s * C + o, c) for k, p in enumerate(pools) for s, o, c in p["cells"]], np.int64).reshape(-1, 3)
    r_so = np.flatnonzero(Z > 0)
    so = np.unique(np.r_[z_so, np.flatnonzero(V > 0), q[:, 1], r_so]).astype(np.int64)
    nz, nm, nq, nr = len(zk), len(keys) if m_truth is not None else 0, len(q), len(r_so)
    z0, m0, q0, r0 = n0, n0 + nz, n0 + nz + nm, n0 + nz + nm + nq
    unit = r0 + nr
    n = unit + 1
    T = np.bincount(np.searchsorted(so, z_so), zt, len(so))
    split = _split(T - V[so], so, q, r_so, Z, np.array([p["value"] for p in pools], np.float64), top)
    if split is None:
        return None

    def rows_of(r, c, v, n_rows):
        return sparse.csr_matrix((np.asarray(v, np.float64), (r, c)), shape=(n_rows, n))

    def at(a):
        return np.searchsorted(so, a)

    # per (g, o): Σ chain cells − Σ_s z − m = 0; per (s, o): Σ_g z − Σ q − r − V · unit = 0
    E_go = rows_of(np.r_[np.searchsorted(keys, go_cell[valid]), zk, np.arange(nm)],
                   np.r_[off + np.flatnonzero(valid), z0 + np.arange(nz), m0 + np.arange(nm)],
                   np.r_[np.ones(valid.sum()), -np.ones(nz + nm)], len(keys))
    E_so = rows_of(np.r_[at(z_so), at(q[:, 1]), at(r_so), np.arange(len(so))],
                   np.r_[z0 + np.arange(nz), q0 + np.arange(nq), r0 + np.arange(nr), np.full(len(so), unit)],
                   np.r_[np.ones(nz), -np.ones(nq + nr), -V[so]], len(so))
    # a pool's part, and the unpooled zeros of (s, o), hold at most threshold − 1 records per cell
    bound = np.r_[top * q[:, 2], top * Z[r_so]]
    G_new = rows_of(np.r_[np.arange(nq + nr), np.arange(nq + nr)],
                    np.r_[q0 + np.arange(nq + nr), np.full(nq + nr, unit)], np.r_[np.ones(nq + nr), -bound], nq + nr)
    # known: every pool's value, and the unit cell
    items = rows_of(np.r_[q[:, 0], len(pools)], np.r_[q0 + np.arange(nq), unit], np.ones(nq + 1), len(pools) + 1)

    def widen(M):
        return sparse.hstack([M, sparse.csr_matrix((M.shape[0], n - n0))]).tocsr()

    mt = m_truth[keys] if m_truth is not None else np.zeros(0)
    model.A = sparse.vstack([widen(model.A), items]).tocsr()
    model.E = sparse.vstack([widen(model.E), E_go, E_so]).tocsr()
    model.G = sparse.vstack([widen(model.G), G_new]).tocsr()
    model.x = np.r_[model.x, zt, mt, split, 1.0]
    model.fixed = np.r_[model.fixed, np.ones(items.shape[0], bool)]
    model.derived = np.r_[model.derived, np.zeros(items.shape[0], bool)]
    if model.cell_group is not None:
        model.cell_group = np.r_[model.cell_group, kg[zk], kg[:nm], np.full(nq + nr + 1, -1)]
    exact = (Z[so] == 0) & ~np.isin(so, q[:, 1])
    return {"strata_outcomes_known": int(exact.sum()), "strata_outcomes_bounded": int((~exact).sum()),
            "pools": len(pools), "identities": len(keys) + len(so), "cells": n - n0}


def _split(rest: np.ndarray, so: np.ndarray, q: np.ndarray, r_so: np.ndarray, Z: np.ndarray, pool_values,
           top: float) -> np.ndarray | None:
    """Counts of the pool parts and unpooled zeros consistent with the chains: per (s, o) they sum to
    ``rest`` (the chains' count less the published fine counts), per pool to its value, each within
    0 … ``top`` per cell (None: no such counts — the model is not of these chains). A small LP: the
    report knows the chains, not which withheld cell of the model holds which record (any consistent
    split serves: the protection model needs a point consistent with everything published)."""
    from scipy.optimize import linprog

    nq, nr = len(q), len(r_so)
    if (rest < -1e-9).any():
        return None
    if nq + nr == 0:
        return np.zeros(0) if np.abs(rest).max(initial=0) < 1e-9 else None
    cols = np.arange(nq + nr)
    A = sparse.vstack([sparse.csr_matrix((np.ones(nq + nr), (np.searchsorted(so, np.r_[q[:, 1], r_so]), cols)),
                                         shape=(len(so), nq + nr)),
                       sparse.csr_matrix((np.ones(nq), (q[:, 0], cols[:nq])), shape=(len(pool_values), nq + nr))])
    res = linprog(np.zeros(nq + nr), A_eq=A, b_eq=np.r_[rest, pool_values],
                  bounds=np.c_[np.zeros(nq + nr), np.r_[top * q[:, 2], top * Z[r_so]]], method="highs")
    return np.asarray(res.x) if res.status == 0 else None
