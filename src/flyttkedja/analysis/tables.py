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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from flyttkedja.analysis import _specs
from flyttkedja.analysis._engine import ALL, Prepared, Spec, item_values, items_of, medians, prepare
from flyttkedja.analysis.bootstrap import percentile_interval, replicate_cell_totals
from flyttkedja.analysis.disclosure import DEFAULT_THRESHOLD, cell_key_perturbation, secondary_suppression
from flyttkedja.core.chainset import ChainSet

DISCLOSURE_MODES = ("suppress", "cell_key", None)
OUTPUT_COLUMNS = ["statistic", "n", "n_base", "value", "ci_low", "ci_high", "suppressed"]


@dataclass(frozen=True)
class Options:
    """How tables are estimated and protected (see module docstring)."""

    ci: bool = True
    replicates: int = 1000
    level: float = 0.95
    seed: int = 0
    disclosure: str | None = "suppress"
    threshold: int = DEFAULT_THRESHOLD
    rounds: int = 6

    def __post_init__(self) -> None:
        if self.disclosure not in DISCLOSURE_MODES:
            raise ValueError(f"disclosure must be one of {DISCLOSURE_MODES}, got {self.disclosure!r}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.rounds < 1 or self.threshold < 1 or self.replicates < 0:
            raise ValueError("rounds and threshold must be ≥ 1 and replicates ≥ 0")


TABLES = ("length_summary", "length_distribution", "flows", "reach", "rounds", "segregation", "end_reasons")
DEPTH_TABLES = ("depth_summary", "depth_distribution")  # trees' rounds (a path's depth is its length)


def default_tables(chainset: ChainSet) -> tuple[str, ...]:
    """The tables of a ChainSet: :data:`TABLES`, and for trees also :data:`DEPTH_TABLES`."""
    return TABLES + (DEPTH_TABLES if chainset.convention == "tree" else ())


def build_specs(prepared: Prepared, names: Sequence[str], rounds: int) -> tuple[_specs.Builder, list[Spec]]:
    """Specs of the named tables over one builder (one global cell numbering)."""
    b = _specs.Builder(prepared)
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
    if not prepared.by:  # one group: its rows duplicate the "all" margin rows
        for spec in specs:
            spec.rows = spec.rows.filter(pl.col("_group").is_null())
    return b, specs


def publish(b: _specs.Builder, specs: list[Spec], options: Options) -> dict[str, pl.DataFrame]:
    """Evaluate, bootstrap and protect the specs; returns table name → DataFrame."""
    offsets = np.cumsum([0] + [f.cells.height for f in b.families])
    totals, key_sums = np.zeros(b.n_cells), np.zeros(b.n_cells)
    for f, o in zip(b.families, offsets):  # per family: no concatenation for the point estimates
        local = f.records["_cell"].to_numpy()
        totals[o:o + f.cells.height] = np.bincount(local, minlength=f.cells.height)
        if options.disclosure == "cell_key":
            key_sums[o:o + f.cells.height] = np.bincount(local, weights=f.records["_rkey"].to_numpy(),
                                                         minlength=f.cells.height)
    reps = None
    if options.ci and options.replicates > 0 and b.p.n_units > 0:
        cells = np.concatenate([f.records["_cell"].to_numpy() + o for f, o in zip(b.families, offsets)])
        chains = np.concatenate([f.records["_chain"].to_numpy() for f in b.families])
        units = b.p.chains["_unit"].to_numpy()[chains]
        reps = replicate_cell_totals(units, cells, n_units=b.p.n_units, n_cells=b.n_cells,
                                     replicates=options.replicates, seed=options.seed)
    return {s.name: _publish_one(b.p, s, totals, key_sums, reps, options) for s in specs}


def _ratio(scale: np.ndarray, n: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, scale * n / np.where(base > 0, base, 1.0), np.nan)


def _publish_one(p: Prepared, spec: Spec, totals, key_sums, reps, options: Options) -> pl.DataFrame:
    rows = spec.rows
    items, num_i, den_i = items_of(rows)
    vals = item_values(items, totals)
    scale = rows["scale"].to_numpy()
    is_median = (rows["kind"] == "median").to_numpy()
    n, base = vals[num_i], vals[den_i]
    value = _ratio(scale, n, base)
    hist = _median_inputs(rows, is_median)
    if is_median.any():
        value[is_median] = medians(*hist, totals[None, :])[0]
    low = high = np.full(rows.height, np.nan)
    if reps is not None:
        rep_vals = item_values(items, reps)
        rep_stat = _ratio(scale, rep_vals[:, num_i], rep_vals[:, den_i])
        if is_median.any():
            rep_stat[:, is_median] = medians(*hist, reps)
        low, high = percentile_interval(rep_stat, options.level)
    suppressed = np.zeros(rows.height, bool)
    n_pub, base_pub = n.copy(), base.copy()
    if options.disclosure == "suppress":
        hidden = _suppress_items(items, vals, np.unique(den_i), options.threshold)
        n_pub[hidden[num_i]] = np.nan
        base_pub[hidden[den_i]] = np.nan
        suppressed = hidden[num_i] | hidden[den_i]
    elif options.disclosure == "cell_key":
        keys = item_values(items, key_sums)
        perturbed = np.maximum(vals + cell_key_perturbation(np.rint(vals), keys), 0)
        n_pub, base_pub = perturbed[num_i], perturbed[den_i]
        value = np.where(is_median, value, _ratio(scale, n_pub, base_pub))
    for arr in (value, low, high):
        arr[suppressed] = np.nan
    return _frame(p, spec, rows, n_pub, base_pub, value, low, high, suppressed)


def _median_inputs(rows: pl.DataFrame, is_median: np.ndarray) -> tuple[list, list]:
    cells, lengths = [], []
    for f in rows.filter(pl.Series(is_median))["num"].to_list():
        cells.append(np.array([e["cell"] for e in f], dtype=np.int64))
        lengths.append(np.array([e["coef"] for e in f], dtype=np.float64))
    return cells, lengths


def _suppress_items(items, vals, protected_items, threshold) -> np.ndarray:
    """Suppression mask over items (primary + secondary) for one table."""
    used = np.unique(items.cell)
    col = np.searchsorted(used, items.cell)
    A = np.zeros((items.n_items, len(used)))
    np.add.at(A, (items.item, col), items.coef)
    protected = np.zeros(items.n_items, bool)
    protected[protected_items] = True
    return secondary_suppression(A, np.rint(vals), threshold=threshold, protected=protected)


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


def _tables_and_units(chainset, names, *, by, areas, target_groups, income_median, cluster, **options):
    """:func:`tables` plus what the bootstrap resampled: ``{"cluster": ..., "units": n}``."""
    unknown = [n for n in names if n not in TABLES + DEPTH_TABLES]
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; choose from {TABLES + DEPTH_TABLES}")
    opts = Options(**options)
    prepared = prepare(chainset, by=by, areas=areas, target_groups=target_groups,
                       income_median=income_median, cluster=cluster, key_seed=opts.seed)
    b, specs = build_specs(prepared, names, opts.rounds)
    units = {"resampled": prepared.params["cluster"] or "chains", "units": prepared.n_units}
    return publish(b, specs, opts), units


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
