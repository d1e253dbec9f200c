"""Public analysis tables of a ChainSet (polars in, polars out).

Every function takes a :class:`~flyttkedja.core.ChainSet` and returns a tidy
polars DataFrame with the seed-group columns (``by``; ``"all"`` on margin
rows), the table's own keys, and

``statistic``  what ``value`` is (``per_100``, ``share``, ``mean``, ``median`` ...)
``n``          records counted in the numerator (households/links or chains)
``n_base``     records in the denominator (usually chains = seeds of the group)
``value``      ``scale · n / n_base`` (the median for ``statistic == "median"``)
``ci_low``, ``ci_high``  bootstrap percentile interval (``ci=True``)
``suppressed`` the row's value was withheld by disclosure control

Definitions (denominators, groups, interval method) are in docs/analysis.md.

Common keyword arguments: ``by`` (seed attributes to group by, default
``("tenure",)``; any chains column, plus ``seed_year`` and ``size_band``),
``ci`` (default True), ``replicates`` (1000), ``level`` (0.95), ``seed`` (0),
``cluster`` ("auto": the seed's ``building_id`` when seeds share buildings;
None: chains), ``disclosure`` ("suppress", "cell_key" or None),
``threshold`` (5), ``target_groups``, ``income_median``, ``areas``, ``rounds`` (6).

Example
-------
>>> from flyttkedja.analysis import length_summary
>>> length_summary(chainset, by=["tenure", "rooms"], replicates=200)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from flyttkedja.analysis import _specs
from flyttkedja.analysis._engine import ALL, Prepared, Spec, item_values, items_of, medians, prepare
from flyttkedja.analysis.bootstrap import percentile_interval, replicate_cell_totals
from flyttkedja.analysis.disclosure import Rules, cell_key_perturbation, implied_zeros, primary_suppression, protect
from flyttkedja.analysis.groups import TARGET_GROUPS
from flyttkedja.analysis.conventions import add_differences, check_same_seeds, convention_pairs
from flyttkedja.analysis.release import add_scenario_ties, check_by, checking_summary, release_model, scenario_ties
from flyttkedja.core.chainset import ChainSet

DISCLOSURE_MODES = ("suppress", "cell_key", None)
OUTPUT_COLUMNS = ["statistic", "n", "n_base", "value", "ci_low", "ci_high", "suppressed"]


# whole-number options and their ranges, checked before any work: beyond them a run only wastes memory
# (bootstrap totals are replicates × cells: 10**8 replicates would ask for terabytes) or means nothing
INTEGER_OPTIONS = {"replicates": (0, 100_000), "rounds": (1, 50), "seed": (0, 2**64 - 1), "threshold": (1, 10_000)}


@dataclass(frozen=True)
class Options:
    """How tables are estimated and protected (see module docstring).

    ``rules``: ``"scb"`` (threshold 5) or ``"sacro"`` (threshold 10, wider
    intervals); ``threshold`` overrides the rule set's, below 5 only with
    ``unsafe=True``. ``cell_key``: the Cell Key Method's secret key (int,
    str or bytes; default the environment variable ``FLYTTKEDJA_CELL_KEY``, else
    a fresh random key — then two runs perturb differently). Never recorded.
    """

    ci: bool = True
    replicates: int = 1000
    level: float = 0.95
    seed: int = 0
    disclosure: str | None = "suppress"
    threshold: int | None = None
    rounds: int = 6
    rules: str = "scb"
    unsafe: bool = False
    cell_key: int | str | bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.disclosure not in DISCLOSURE_MODES:
            raise ValueError(f"disclosure must be one of {DISCLOSURE_MODES}, got {self.disclosure!r}")
        for name, (low, high) in INTEGER_OPTIONS.items():
            value = getattr(self, name)
            if value is None and name == "threshold":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level!r}")
        self.protection_rules()  # refuses unsafe thresholds up front

    def protection_rules(self) -> Rules:
        return Rules.named(self.rules, self.threshold, self.unsafe)

    def key_seed(self) -> int:
        """The record-key seed: derived from the secret cell key in ``cell_key`` mode (see :func:`cell_key_seed`)."""
        return cell_key_seed(self.cell_key) if self.disclosure == "cell_key" else self.seed


def cell_key_seed(secret: int | str | bytes | None) -> int:
    """A 64-bit record-key seed from a secret (given, ``FLYTTKEDJA_CELL_KEY``, or fresh random).

    The seed is a keyed hash of the secret: neither is written anywhere. A
    fixed, known key lets anyone recompute the perturbations and undo them.
    """
    if secret is None:
        secret = os.environ.get("FLYTTKEDJA_CELL_KEY")
    if secret is None:
        warnings.warn("disclosure='cell_key' without a secret key: using a fresh random one; set "
                      "FLYTTKEDJA_CELL_KEY (or cell_key=) to a persistent secret so that every release of a "
                      "register perturbs the same count the same way", stacklevel=3)
        secret = secrets.token_bytes(32)
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8, person=b"flyttkedja-ckm").digest(), "little")


TABLES = ("length_summary", "length_distribution", "flows", "reach", "rounds", "segregation", "end_reasons")
DEPTH_TABLES = ("depth_summary", "depth_distribution")  # trees' rounds (a path's depth is its length)


def default_tables(chainset: ChainSet) -> tuple[str, ...]:
    """The tables of a ChainSet: :data:`TABLES`, and for trees also :data:`DEPTH_TABLES`."""
    return TABLES + (DEPTH_TABLES if chainset.convention == "tree" else ())


def build_specs(prepared: Prepared, names: Sequence[str], rounds: int) -> tuple[_specs.Builder, list[Spec]]:
    """Specs of the named tables over one builder (one global cell numbering)."""
    b = _specs.Builder(prepared)
    return b, specs_for(b, names, rounds)


def specs_for(b: _specs.Builder, names: Sequence[str], rounds: int) -> list[Spec]:
    """Specs of the named tables over builder ``b`` (or a view of one)."""
    specs: list[Spec] = []
    if "length_summary" in names or "length_distribution" in names:
        specs += [s for s in _specs.length_specs(b) if s.name in names]
    if "flows" in names:
        specs.append(_specs.flow_spec(b, rounds))
    if "reach" in names:
        specs.append(_specs.reach_spec(b))
    if "rounds" in names:
        spec = _specs.rounds_spec(b, rounds)
        if spec is not None:
            specs.append(spec)
    if "segregation" in names:
        specs.append(_specs.segregation_spec(b))
    if "end_reasons" in names:
        specs.append(_specs.end_reason_spec(b))
    if "depth_summary" in names or "depth_distribution" in names:  # last: the others' cells as for paths
        specs += [s for s in _specs.depth_specs(b) if s.name in names]
    if not b.p.by:  # one group: its rows duplicate the "all" margin rows
        for spec in specs:
            spec.rows = spec.rows.filter(pl.col("_group").is_null())
    return specs


def coarser(prepared: Prepared, by: tuple[str, ...]) -> tuple[Prepared, np.ndarray]:
    """``prepared`` grouped by ``by`` (a subset of its ``by``): the coarse Prepared and fine → coarse group map.

    Fine groups are matched by their (string) values, so fine groups without
    chains (see :func:`unseen_groups`) map too; those whose coarse group has
    no chains map to −1.
    """
    chains = prepared.chains
    n_fine = prepared.groups.height
    group_map = np.zeros(n_fine, np.int32)
    if not by:
        return replace(prepared, by=(), groups=pl.DataFrame({"_group": [0]}, schema={"_group": pl.Int32})), group_map
    groups = (chains.select(by).unique().sort(by, nulls_last=True).with_row_index("_group")
              .with_columns(pl.col("_group").cast(pl.Int32))
              .with_columns([pl.col(c).cast(pl.String).fill_null("missing") for c in by]))
    fine = prepared.groups.select(pl.col("_group").alias("_fine"), *by).join(groups, on=list(by), how="left")
    group_map[fine["_fine"].to_numpy()] = fine["_group"].fill_null(-1).to_numpy()
    return replace(prepared, by=tuple(by), groups=groups.select("_group", *by)), group_map


def unseen_groups(prepared: Prepared, releases: list[tuple[str, ...]]) -> Prepared:
    """Add the fine groups no chain falls in, as far as no release shows them empty.

    Over the union of several releases' ``by``, which fine combinations hold
    chains is not published (only each release's own groups are): an empty
    combination must be an unknown like any other, so it gets (zero) cells
    too. A combination whose group in some release has no row at all is known
    to be empty and is left out.
    """
    by = prepared.by
    values = [prepared.groups.select(pl.col(c).unique().sort()) for c in by]
    full = values[0]
    for v in values[1:]:
        full = full.join(v, how="cross")
    extra = full.join(prepared.groups.select(by), on=list(by), how="anti")
    for release_by in releases:
        if release_by:
            seen = prepared.groups.select(release_by).unique()
            extra = extra.join(seen, on=list(release_by), how="semi")
    if extra.is_empty():
        return prepared
    n = prepared.groups.height
    extra = extra.with_columns(_group=pl.int_range(n, n + extra.height, dtype=pl.Int32)).select("_group", *by)
    return replace(prepared, groups=pl.concat([prepared.groups, extra]))


@dataclass
class Earlier:
    """An earlier release from the ledger: its specs over this release's cells and what it published."""

    name: str
    specs: list[Spec]
    published: dict[str, dict[str, list]]


@dataclass
class Alongside:
    """The other chain convention's tables in the same release: its builder (numbering its cells after
    the first's), its specs and its groups (:mod:`flyttkedja.analysis.conventions`)."""

    builder: _specs.Builder
    specs: list[Spec]
    prepared: Prepared


def publish(b: _specs.Builder, specs: list[Spec], options: Options, *, prepared: Prepared | None = None,
            earlier: Sequence[Earlier] = (), alongside: Alongside | None = None, ties: Sequence = ()
            ) -> tuple[dict[str, pl.DataFrame], dict]:
    """Evaluate, bootstrap and protect the specs as one release; returns (name → DataFrame, checking summary).

    Every count of every table is an *item* (a linear functional of the
    cells); the same functional in two tables is one item, withheld or
    published everywhere. With ``disclosure="suppress"`` the items of all
    tables — and those of ``earlier`` releases, whose published counts are
    known to the attacker — are protected together (:func:`release_model`,
    :func:`~flyttkedja.analysis.disclosure.protect`). ``prepared``: the groups
    of the specs when they come from a :meth:`~_specs.Builder.view` of ``b``.
    ``alongside``: the other convention's tables, in the same release (their
    frames are returned under ``"<convention>_<name>"``). ``ties``: declared
    scenario runs whose model's first-vacancy margins join the protection
    model as known (:func:`~flyttkedja.analysis.release.add_scenario_ties`).
    """
    builders = [b] + ([alongside.builder] if alongside is not None else [])
    families = [(f, bb.p) for bb in builders for f in bb.families]
    n_cells = builders[-1].n_cells
    offsets = np.cumsum([0] + [f.cells.height for f, _ in families])
    totals, key_sums = np.zeros(n_cells), np.zeros(n_cells)
    for (f, _), o in zip(families, offsets):  # per family: no concatenation for the point estimates
        local = f.records["_cell"].to_numpy()
        totals[o:o + f.cells.height] = np.bincount(local, minlength=f.cells.height)
        if options.disclosure == "cell_key":
            key_sums[o:o + f.cells.height] = np.bincount(local, weights=f.records["_rkey"].to_numpy(),
                                                         minlength=f.cells.height)
    present = np.flatnonzero(totals > 0)  # zero cells (completed families) hold no record in any replicate
    reps = None
    if options.ci and options.replicates > 0 and b.p.n_units > 0:
        # the same seeds under both conventions: one resample of the units serves both (paired intervals)
        cells = np.concatenate([f.records["_cell"].to_numpy() + o for (f, _), o in zip(families, offsets)])
        units = np.concatenate([p.chains["_unit"].to_numpy()[f.records["_chain"].to_numpy()] for f, p in families])
        reps = replicate_cell_totals(units, np.searchsorted(present, cells), n_units=b.p.n_units,
                                     n_cells=len(present), replicates=options.replicates, seed=options.seed)
    other_specs = [] if alongside is None else alongside.specs
    prior = [s for e in earlier for s in e.specs]
    everything = [*specs, *other_specs, *prior]
    n_current = len(specs) + len(other_specs)
    rows = pl.concat([s.rows.select("num", "den") for s in everything]) if everything else None
    items, num_all, den_all = items_of(rows)
    vals = item_values(items, totals)
    bounds = np.cumsum([0] + [s.rows.height for s in everything])
    hidden = np.zeros(items.n_items, bool)
    protection, summary_info, rules = None, {}, None
    model = None
    if options.disclosure == "suppress":
        rules = options.protection_rules()
        model, summary_info = release_model(builders, items, totals, options.rounds)
        fixed, withheld_before = _earlier_items(earlier, n_current, num_all, den_all, bounds, vals)
        # zeros under a zero an earlier release published are known already: published, never "protected"
        known = implied_zeros(model.A, vals, fixed) & ~fixed if fixed.any() else np.zeros_like(fixed)
        model.fixed = fixed | known
        withheld_before &= ~known
        summary_info["known_from_earlier_releases"] = int(known.sum())
        # withholding an item blanks every row that shows it (a group's n_base: all its rows): cost the rows
        shown = np.bincount(np.r_[num_all[:bounds[n_current]], den_all[:bounds[n_current]]],
                            minlength=items.n_items)
        cost = (vals + 1.0) * (1.0 + shown)
        primary = primary_suppression(np.rint(vals), rules.threshold) | withheld_before
        untied = (*model.A.shape, model.E.shape[0], model.G.shape[0])
        if ties:  # known margins of the chains from a declared scenario run: fixed items, never withheld
            n_before = model.A.shape[0]
            summary_info["scenario_runs"] = add_scenario_ties(model, b, ties)
            n_new = model.A.shape[0] - n_before
            cost, primary = np.r_[cost, np.ones(n_new)], np.r_[primary, np.zeros(n_new, bool)]
        if alongside is not None and alongside.specs:  # small differences between the conventions: never shown
            pairs = convention_pairs(specs, alongside.specs, num_all, den_all, bounds)
            n_diff = add_differences(model, pairs, rules.threshold)
            summary_info["differences_between_conventions"] = n_diff
            cost, primary = np.r_[cost, np.ones(n_diff)], np.r_[primary, np.ones(n_diff, bool)]
        protection = protect(model, rules, cost=cost, primary=primary)
        hidden = protection.suppressed
        summary_info["earlier_releases"] = len(earlier)
    keys = item_values(items, key_sums) if options.disclosure == "cell_key" else None
    rep_vals = item_values(_restrict(items, present), reps) if reps is not None else None
    frames = {}
    item_tables = {}
    current = [(s.name, s, prepared or b.p) for s in specs]
    if alongside is not None:
        current += [(f"{alongside.prepared.convention}_{s.name}", s, alongside.prepared) for s in alongside.specs]
    for j, (name, s, p) in enumerate(current):
        sl = slice(bounds[j], bounds[j + 1])
        frames[name] = _publish_one(p, s, num_all[sl], den_all[sl], vals, totals, reps, rep_vals, keys, hidden,
                                    options)
        item_tables[name] = np.unique(np.r_[num_all[sl], den_all[sl]])
    method = options.disclosure
    summary = checking_summary(frames, protection, item_tables, rules, summary_info, method)
    if summary_info.get("differences_between_conventions"):  # never shown: counted apart from withheld counts
        summary["withheld_items"] -= summary_info["differences_between_conventions"]
    if protection is not None:  # for attacks on the release (tests, scripts/disclosure_attack.py); not written
        summary["_state"] = ReleaseState(model, protection, np.arange(bounds[n_current]),
                                         num_all, den_all, bounds[n_current], *_chain_cells(b), untied)
    return frames, summary


@dataclass
class ReleaseState:
    """The protection model and result of a release, kept in memory for attacks on it."""

    model: object
    protection: object
    rows: np.ndarray
    num: np.ndarray
    den: np.ndarray
    n_current_rows: int

    #: the chains family (seed group × length × end reason): each chain's cell (ChainSet order) and the
    #: cells with their global numbers (``_cell``), and the seed groups — what an attacker who also holds a
    #: scenario run's model.json ties to (tests/test_disclosure_attack.py)
    chain_cells: np.ndarray | None = None
    chain_cell_dims: pl.DataFrame | None = None
    groups: pl.DataFrame | None = None
    #: (items, cells, identities, inequalities) of the model before a scenario run's ties were appended
    untied: tuple | None = None

    def published(self) -> np.ndarray:
        """Items an attacker sees: published now or by an earlier release."""
        return ~self.protection.suppressed | self.model.fixed


def _chain_cells(b: _specs.Builder) -> tuple:
    """(chain → global cell, the chains family's cells, the groups) of builder ``b`` (see :class:`ReleaseState`)."""
    if "chains" not in b.named:
        return None, None, b.p.groups
    fam, off = b.named["chains"]
    cells = np.full(b.p.chains.height, -1, np.int64)
    cells[fam.records["_chain"].to_numpy()] = fam.records["_cell"].to_numpy() + off
    return cells, fam.cells.with_columns(pl.col("_cell") + off), b.p.groups


def _earlier_items(earlier, n_current, num_all, den_all, bounds, vals) -> tuple[np.ndarray, np.ndarray]:
    """Items published by earlier releases (fixed) and items they withheld; checks the published values.
    The earlier releases' specs follow the ``n_current`` specs of this release."""
    fixed = np.zeros(len(vals), bool)
    seen = np.zeros(len(vals), bool)
    j = n_current
    for e in earlier:
        for s in e.specs:
            sl = slice(bounds[j], bounds[j + 1])
            j += 1
            pub = e.published.get(s.name)
            if pub is None:
                continue
            for col, idx in (("n", num_all[sl]), ("n_base", den_all[sl])):
                values = np.array([np.nan if v is None else v for v in pub[col]], np.float64)
                if len(values) != len(idx):
                    raise ValueError(f"ledger: release {e.name!r} table {s.name}: {len(values)} rows recorded, "
                                     f"{len(idx)} recomputed — another register, options or version")
                ok = ~np.isnan(values)
                wrong = ok & (np.abs(values - np.rint(vals[idx])) > 0.5)
                if wrong.any():
                    raise ValueError(f"ledger: release {e.name!r} table {s.name}: published {col} differs from "
                                     f"the recomputed value in {int(wrong.sum())} rows — another register or options")
                fixed[idx[ok]] = True
                seen[idx] = True
    return fixed, seen & ~fixed


def _restrict(items, present: np.ndarray):
    """``items`` over the present (non-zero) cells only, renumbered as positions in ``present``."""
    keep = np.isin(items.cell, present)
    return type(items)(items.item[keep], np.searchsorted(present, items.cell[keep]), items.coef[keep], items.n_items)


def _ratio(scale: np.ndarray, n: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, scale * n / np.where(base > 0, base, 1.0), np.nan)


def _publish_one(p: Prepared, spec: Spec, num_i, den_i, vals, totals, reps, rep_vals, keys, hidden,
                 options: Options) -> pl.DataFrame:
    rows = spec.rows
    scale = rows["scale"].to_numpy()
    is_median = (rows["kind"] == "median").to_numpy()
    n, base = vals[num_i], vals[den_i]
    value = _ratio(scale, n, base)
    hist = _median_inputs(rows, is_median)
    if is_median.any():
        value[is_median] = medians(*hist, totals[None, :])[0]
    low = high = np.full(rows.height, np.nan)
    if reps is not None:
        rep_stat = _ratio(scale, rep_vals[:, num_i], rep_vals[:, den_i])
        if is_median.any():
            rep_stat[:, is_median] = _rep_medians(hist, reps, totals)
        low, high = percentile_interval(rep_stat, options.level)
    suppressed = np.zeros(rows.height, bool)
    n_pub, base_pub = n.copy(), base.copy()
    if options.disclosure == "suppress":
        n_pub[hidden[num_i]] = np.nan
        base_pub[hidden[den_i]] = np.nan
        suppressed = hidden[num_i] | hidden[den_i]
    elif options.disclosure == "cell_key":
        perturbed = np.maximum(vals + cell_key_perturbation(np.rint(vals), keys), 0)
        n_pub, base_pub = perturbed[num_i], perturbed[den_i]
        value = np.where(is_median, value, _ratio(scale, n_pub, base_pub))
    for arr in (value, low, high):
        arr[suppressed] = np.nan
    return _frame(p, spec, rows, n_pub, base_pub, value, low, high, suppressed)


def _rep_medians(hist, reps: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Replicate medians: the histograms' cells mapped to the present cells of ``reps``."""
    present = np.flatnonzero(totals > 0)
    cells, lengths = [], []
    for c, k in zip(*hist):
        keep = totals[c] > 0
        cells.append(np.searchsorted(present, c[keep]))
        lengths.append(k[keep])
    return medians(cells, lengths, reps)


def _median_inputs(rows: pl.DataFrame, is_median: np.ndarray) -> tuple[list, list]:
    cells, lengths = [], []
    for f in rows.filter(pl.Series(is_median))["num"].to_list():
        cells.append(np.array([e["cell"] for e in f], dtype=np.int64))
        lengths.append(np.array([e["coef"] for e in f], dtype=np.float64))
    return cells, lengths


def _frame(p: Prepared, spec: Spec, rows, n, base, value, low, high, suppressed) -> pl.DataFrame:
    out = rows.select("_group", *[k for k in spec.keys if k != "statistic"], "statistic")
    out = out.join(p.groups, on="_group", how="left", nulls_equal=True, maintain_order="left")
    out = out.with_columns([pl.col(c).fill_null(ALL) for c in p.by])
    fix = [pl.col(k).cast(pl.String).fill_null(ALL) for k in spec.keys
           if k != "statistic" and out[k].null_count()]
    out = out.with_columns(fix) if fix else out
    as_int = lambda a: pl.Series(np.where(np.isnan(a), 0, np.rint(a)).astype(np.int64)).scatter(  # noqa: E731
        np.flatnonzero(np.isnan(a)), None)
    out = out.with_columns(
        n=as_int(n), n_base=as_int(base),
        value=pl.Series(value).fill_nan(None), ci_low=pl.Series(low).fill_nan(None),
        ci_high=pl.Series(high).fill_nan(None), suppressed=pl.Series(suppressed),
    )
    out = out.with_columns(convention=pl.lit(p.convention))  # which rule produced the chains
    return out.select("convention", *p.by, *[k for k in spec.keys if k != "statistic"], *OUTPUT_COLUMNS)


# ------------------------------------------------------------------ public API
def tables(
    chainset: ChainSet,
    names: Sequence[str] | None = None,
    *,
    by: Sequence[str] = ("tenure",),
    areas=None,
    target_groups: Mapping[str, pl.Expr] | None = None,
    income_median: float | None = None,
    cluster: str | None = "auto",
    **options,
) -> dict[str, pl.DataFrame]:
    """Several tables at once, sharing one bootstrap (the same resamples for all).

    ``names``: any of :data:`TABLES` and :data:`DEPTH_TABLES` ("rounds" needs ``areas``;
    default: :func:`default_tables`). Returns name → DataFrame; every table's first
    column, ``convention``, says which rule traced the chains ("path" or "tree").
    """
    names = default_tables(chainset) if names is None else names
    return _tables_and_units(chainset, names, by=by, areas=areas, target_groups=target_groups,
                             income_median=income_median, cluster=cluster, **options)[0]


def _tables_and_units(chainset, names, *, by, areas, target_groups, income_median, cluster, ledger=None,
                      other=None, **options):
    """:func:`tables` plus what the bootstrap resampled and the output-checking summary.

    ``ledger``: a :class:`~flyttkedja.analysis.release.Ledger` of earlier
    releases of this register; their published counts join the protection model.
    ``other``: the same register's chains under the other convention
    (:func:`flyttkedja.core.retrace`); its tables are published in the same
    release, as ``"<convention>_<name>"`` (:mod:`flyttkedja.analysis.conventions`).
    """
    unknown = [n for n in names if n not in TABLES + DEPTH_TABLES]
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; choose from {TABLES + DEPTH_TABLES}")
    opts = Options(**options)
    by = (by,) if isinstance(by, str) else tuple(by)
    if not isinstance(chainset, ChainSet):
        raise TypeError(f"expected a ChainSet, got {type(chainset).__name__}")
    if opts.disclosure is not None:
        check_by(chainset.chains, by, opts.protection_rules().threshold)
    earlier = [] if ledger is None or opts.disclosure != "suppress" else ledger.reports
    for r in earlier:
        _check_compatible(r, opts, target_groups, areas)
    mine = chainset.convention
    their = "tree" if mine == "path" else "path"
    earlier_tables = [[ledger_table(t, r.get("convention", mine)) for t in r["tables"]] for r in earlier]
    publish_other = other is not None
    if other is None and any(c != mine for ts in earlier_tables for c, _ in ts):
        from flyttkedja.core import retrace  # an earlier release showed both conventions: recompute its tables

        other = retrace(chainset, their)
    if other is not None:
        check_same_seeds(chainset, other)
    union = tuple(dict.fromkeys([*by, *(c for r in earlier for c in r["by"])]))

    def prepared_for(cs):
        p = prepare(cs, by=union, areas=areas, target_groups=target_groups, income_median=income_median,
                    cluster=cluster, key_seed=opts.key_seed())
        return unseen_groups(p, [by, *(tuple(r["by"]) for r in earlier)]) if union != by else p

    def wanted(convention, current):
        return [n for n in TABLES + DEPTH_TABLES if n in current
                or any((convention, n) in ts for ts in earlier_tables)]

    prepared = prepared_for(chainset)
    b = _specs.Builder(prepared)
    fine_specs = specs_for(b, wanted(mine, names), opts.rounds)  # builds every family once, over the finest groups
    builders = {mine: (b, prepared, fine_specs)}
    their_names = []
    if other is not None:  # the other convention's cells are numbered after these: one cell vector
        prepared_o = prepared_for(other)
        if not prepared_o.groups.equals(prepared.groups):
            raise ValueError("both conventions: the seed groups differ (the chains are not of the same seeds)")
        their_names = [n for n in names if n in default_tables(other)] if publish_other else []
        b_o = _specs.Builder(prepared_o, start=b.n_cells)
        builders[their] = (b_o, prepared_o, specs_for(b_o, wanted(their, their_names), opts.rounds))

    def release_specs(convention, release_by: tuple[str, ...], wanted) -> tuple[Prepared, list[Spec]]:
        bb, fine, fine_s = builders[convention]
        if release_by == union:
            return fine, [s for s in fine_s if s.name in wanted]
        coarse, group_map = coarser(fine, release_by)
        return coarse, specs_for(bb.view(coarse, group_map), wanted, opts.rounds)

    current_p, specs = release_specs(mine, by, names)
    alongside = None
    if other is not None:  # its cells are in the release even when only an earlier release showed them
        their_p, their_specs = release_specs(their, by, their_names) if their_names else (builders[their][1], [])
        alongside = Alongside(builders[their][0], their_specs, their_p)
    prior = []
    for r, ts in zip(earlier, earlier_tables):
        release_specs_ = []
        for convention in (mine, their):
            tables_c = [n for c, n in ts if c == convention]
            if tables_c:
                named = release_specs(convention, tuple(r["by"]), tables_c)[1]
                release_specs_ += [s if convention == mine else replace(s, name=f"{convention}_{s.name}")
                                   for s in named]
        # its published counts under this release's names (a table of this convention has no prefix)
        named_here = {t: n if c == mine else f"{c}_{n}" for t, (c, n) in zip(r["tables"], ts)}
        prior.append(Earlier(r["name"], release_specs_,
                             {named_here.get(t, t): v for t, v in r["published"].items()}))
    ties = scenario_ties(ledger.scenario_runs, chainset) if ledger is not None and opts.disclosure == "suppress" \
        else []
    frames, summary = publish(b, specs, opts, prepared=current_p, earlier=prior, alongside=alongside, ties=ties)
    if ledger is not None and opts.disclosure == "suppress":
        summary["scenario_runs_declared"] = [r["name"] for r in ledger.scenario_runs]
    units = {"resampled": prepared.params["cluster"] or "chains", "units": prepared.n_units}
    return frames, units, summary


def ledger_table(name: str, convention: str) -> tuple[str, str]:
    """(convention, table) of a ledger's table name: ``"tree_flows"`` → ("tree", "flows"); a name without a
    convention is of ``convention``, the one the earlier release recorded (one ledger serves both).

    >>> ledger_table("tree_flows", "path"), ledger_table("flows", "path")
    (('tree', 'flows'), ('path', 'flows'))
    """
    for c in ("path", "tree"):
        if name.startswith(f"{c}_"):
            return c, name[len(c) + 1:]
    return convention, name


def _check_compatible(release: dict, opts: Options, target_groups, areas) -> None:
    """An earlier release can join the model only if its tables can be recomputed the same way here."""
    name = release.get("name")
    if release.get("rounds") != opts.rounds:
        raise ValueError(f"ledger: release {name!r} used rounds={release.get('rounds')}; this one rounds="
                         f"{opts.rounds}. Use the same rounds for every release of a register")
    groups = list((TARGET_GROUPS if target_groups is None else target_groups).keys())
    if release.get("target_groups") != groups:
        raise ValueError(f"ledger: release {name!r} used target groups {release.get('target_groups')}; "
                         f"this one {groups}. Use the same target groups for every release of a register")
    if "rounds" in release.get("tables", []) and areas is None:
        raise ValueError(f"ledger: release {name!r} published the rounds table; give the same areas")


def _one(name: str):
    def table(chainset: ChainSet, **kwargs) -> pl.DataFrame:
        return tables(chainset, [name], **kwargs)[name]
    return table


def length_summary(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Chain length by seed group: ``mean``, ``median`` and ``per_100`` (moves per 100 seeds).

    ``n`` = links (moves) in the group's chains, ``n_base`` = chains. The
    median is the lower median (smallest length with at least half the chains
    at or below it).
    """
    return _one("length_summary")(chainset, **kwargs)


def length_distribution(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Share of chains of each length, by seed group (``n`` = chains of that length)."""
    return _one("length_distribution")(chainset, **kwargs)


def vacancy_flows(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Dwellings vacated per 100 seeds, by seed group × step × (tenure | size_band | area_type) of the vacated dwelling.

    ``step`` is "1".."K", "K+1+" (later steps) or "all"; ``dimension`` names
    the attribute and ``category`` its value ("all" = every vacated dwelling).
    Tidy long format, ready for a Sankey diagram (seed group → category by step).
    """
    return _one("flows")(chainset, **kwargs)


def reach(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Target groups reached: households housed per 100 seeds (``per_100``) and share of chains (``share_of_chains``)."""
    return _one("reach")(chainset, **kwargs)


def rounds(chainset: ChainSet, *, areas, **kwargs) -> pl.DataFrame:
    """Mast's rounds: per step k, share of links vacating a below-median / bottom-quintile income area, and cumulative per 100 seeds."""
    return _one("rounds")(chainset, areas=areas, **kwargs)


def segregation(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Origin area type (vacated dwelling; "no_dwelling") → destination area type of links: per 100 seeds and share of origin."""
    return _one("segregation")(chainset, **kwargs)


def end_reasons(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Share of leaves ending for each reason, by seed group (``n_base`` = leaves; a path
    has one leaf, so for paths this is the share of chains)."""
    return _one("end_reasons")(chainset, **kwargs)


def depth_summary(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Depth (rounds) by seed group: ``mean`` and ``median`` (``n`` = rounds summed, ``n_base`` = chains)."""
    return _one("depth_summary")(chainset, **kwargs)


def depth_distribution(chainset: ChainSet, **kwargs) -> pl.DataFrame:
    """Share of chains of each depth (rounds), by seed group."""
    return _one("depth_distribution")(chainset, **kwargs)
