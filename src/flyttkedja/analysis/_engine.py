"""The machinery under every analysis table: cells, records and ratio statistics.

Every published number is a ratio of two sums over chains,
``value = scale · Σ_chains num / Σ_chains den``. Each table therefore counts
*records* (a chain, or a link = one household move) into small *cells*
(e.g. seed group × step × vacated tenure), and each published statistic is a
linear functional of the cell counts: a list of ``(cell, coef)`` for its
numerator ``n`` and for its base ``n_base``. Point estimates, the bootstrap
(on a chain × cell matrix of counts) and disclosure control (on the
functionals) all work on this one representation.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from flyttkedja._random import GOLD, mix_array, seed_scramble
from flyttkedja.analysis.groups import (
    HOUSEHOLD_COLUMNS,
    TARGET_GROUPS,
    area_income_classes,
    household_frame,
    income_reference,
    size_band,
    target_flags,
)
from flyttkedja.core.chainset import ChainSet
from flyttkedja.schema import SchemaError

ALL = "all"  # label of margin rows in published tables
SEED_DERIVED = {  # seed attributes derived from the chains table
    "seed_year": pl.col("seed_date").dt.year().cast(pl.Int32),
    "size_band": size_band(pl.col("rooms")),
}


def record_keys(ids: np.ndarray, seed: int, domain: int) -> np.ndarray:
    """Uniform record keys in [0, 1), a fixed function of (record id, seed, domain).

    One splitmix64 step (:func:`flyttkedja._random.mix_array` of ``+ GOLD``) from
    ``id * 4 + domain`` xor the seed's :func:`~flyttkedja._random.seed_scramble`;
    top 53 bits as a float. Domain 0 = chains (id = chain_id), 1 = links (id = move_row).
    """
    x = (ids.astype(np.uint64) * np.uint64(4) + np.uint64(domain)) ^ np.uint64(seed_scramble(seed))
    with np.errstate(over="ignore"):
        x = mix_array(x + GOLD)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass
class Prepared:
    """Chains and links of a ChainSet with everything the tables group by.

    ``chains``: one row per chain in ChainSet order, with ``_chain`` (row
    index), ``_group`` (seed group id), ``_unit`` (bootstrap unit),
    ``_rkey`` (record key), the seed attributes and ``depth`` (rounds; the
    length when the ChainSet has none). ``leaves`` (trees only): one row per
    leaf — a link whose branch ends there, or the seed of an empty tree —
    with its ``end_reason``. ``links``: one row per
    link with ``_chain``, ``step``, ``_group``, ``_rkey``, the vacated
    dwelling's ``from_tenure, from_size_band, from_area_type,
    from_income_class`` (null when the move vacated nothing), the filled
    dwelling's ``to_area_type`` and one boolean column per target group.
    """

    chains: pl.DataFrame
    links: pl.DataFrame
    groups: pl.DataFrame  # _group + the `by` columns as strings
    by: tuple[str, ...]
    target_groups: tuple[str, ...]
    n_units: int
    has_areas: bool
    params: dict = field(default_factory=dict)
    convention: str = "path"  # docs/chains.md: "path" or "tree"
    leaves: pl.DataFrame | None = None  # trees: one row per leaf (_chain, _rkey, _group, end_reason)


def prepare(
    chainset: ChainSet,
    *,
    by: Sequence[str] = ("tenure",),
    areas=None,
    target_groups: Mapping[str, pl.Expr] | None = None,
    income_median: float | None = None,
    cluster: str | None = "auto",
    key_seed: int = 0,
) -> Prepared:
    """Validate and join what the tables need; see :class:`Prepared`."""
    if not isinstance(chainset, ChainSet):
        raise TypeError(f"expected a ChainSet, got {type(chainset).__name__}")
    if areas is not None:  # before any work: incomplete areas, or areas of another region, are refused
        from flyttkedja.io import to_arrow
        from flyttkedja.schema import check_areas
        areas = check_areas(to_arrow(areas, "areas"), chainset.dwellings)
    by = (by,) if isinstance(by, str) else tuple(by)
    chains = chainset.chains.with_columns(
        **{k: v for k, v in SEED_DERIVED.items() if k not in chainset.chains.columns
           and (k != "size_band" or "rooms" in chainset.chains.columns)})
    if "depth" not in chains.columns:  # written before trees: a path's depth is its length
        chains = chains.with_columns(depth=pl.col("length"))
    missing = [c for c in by if c not in chains.columns]
    if missing:
        raise SchemaError(f"chains: no seed attribute(s) {missing} to group by; available: {chains.columns}")
    groups = (chains.select(by).unique().sort(by, nulls_last=True).with_row_index("_group")
              .with_columns(pl.col("_group").cast(pl.Int32)))
    chains = chains.with_row_index("_chain").with_columns(pl.col("_chain").cast(pl.Int64))
    chains = chains.join(groups, on=list(by), how="left", nulls_equal=True, maintain_order="left") if by \
        else chains.with_columns(_group=pl.lit(0, pl.Int32))
    if not by:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.Int32})
    groups = groups.with_columns([pl.col(c).cast(pl.String).fill_null("missing") for c in by])
    chains = chains.with_columns(_rkey=record_keys(chains["chain_id"].to_numpy(), key_seed, 0))
    index = _DwellingIndex(chainset.dwellings)
    units, n_units, cluster_used = _units(chainset, chains, cluster, index)
    chains = chains.with_columns(_unit=units)
    links = _links(chainset, chains, areas, target_groups, income_median, key_seed, index)
    names = tuple((TARGET_GROUPS if target_groups is None else target_groups).keys())
    # a tree with one leaf is a path: then the chains are the leaves (and the tables the path's)
    trees = chainset.convention == "tree" and "leaves" in chains.columns and bool((chains["leaves"] > 1).any())
    leaves = _leaves(chainset, chains, key_seed) if trees else None
    return Prepared(chains, links, groups, by, names, n_units, areas is not None,
                    {"cluster": cluster_used, "key_seed": key_seed}, chainset.convention, leaves)


def _leaves(chainset: ChainSet, chains: pl.DataFrame, key_seed: int) -> pl.DataFrame:
    """A tree's leaves: its links with an end reason (record key of the link), and the seed of
    each empty tree (record key of the chain)."""
    ends = chainset.links.filter(pl.col("end_reason").is_not_null()).select("chain_id", "move_row", "end_reason")
    ends = ends.join(chains.select("chain_id", "_chain", "_group"), on="chain_id", how="left", maintain_order="left")
    ends = ends.with_columns(_rkey=record_keys(ends["move_row"].to_numpy(), key_seed, 1))
    empty = chains.filter(pl.col("length") == 0).select("_chain", "_rkey", "_group", "end_reason")
    return pl.concat([ends.select("_chain", "_rkey", "_group", "end_reason"), empty]).sort("_chain", maintain_order=True)


def _units(chainset: ChainSet, chains: pl.DataFrame, cluster: str | None,
           index: "_DwellingIndex") -> tuple[np.ndarray, int, str | None]:
    """Bootstrap unit of each chain: the chain itself, or its seed's ``building_id`` cluster."""
    if cluster == "auto":
        cluster = "building_id" if "building_id" in chainset.dwellings.column_names else None
    if cluster is None:
        return np.arange(chains.height, dtype=np.int64), chains.height, None
    if cluster not in chainset.dwellings.column_names:
        raise SchemaError(f"dwellings: no column {cluster!r} to cluster the bootstrap on")
    key = index.lookup(chains["seed_dwelling"], [cluster])[0][cluster]
    nulls = key.is_null().to_numpy()  # seeds without a cluster value are clusters of their own
    codes = np.unique(key.fill_null(0).to_numpy(), return_inverse=True)[1].astype(np.int64).ravel()
    codes[nulls] = codes.max(initial=-1) + 1 + np.arange(int(nulls.sum()))
    codes = np.unique(codes, return_inverse=True)[1].astype(np.int64).ravel()
    n = int(codes.max(initial=-1)) + 1
    if n == chains.height:  # no two seeds share a cluster: resample chains
        return np.arange(chains.height, dtype=np.int64), chains.height, None
    return codes, n, cluster


def _links(chainset, chains, areas, target_groups, income_median, key_seed, index) -> pl.DataFrame:
    moves_cols = set(chainset.moves.column_names)
    need = ["vacates", *HOUSEHOLD_COLUMNS]
    missing = [c for c in need if c not in moves_cols]
    if missing:
        raise SchemaError(f"moves: missing column(s) {missing} needed by the analysis")
    dcols = ["tenure", "rooms", "area_type", "area_id"]
    dmissing = [c for c in dcols if c not in chainset.dwellings.column_names]
    if dmissing:
        raise SchemaError(f"dwellings: missing column(s) {dmissing} needed by the analysis")
    links = _dwelling_attributes(chainset.link_attributes(need), index, {"to": ["area_type"], "from": dcols})
    vac = pl.col("vacates") & pl.col("from_dwelling").is_not_null() & pl.col("from_tenure").is_not_null()
    links = links.with_columns(
        from_tenure=pl.when(vac).then(pl.col("from_tenure")),
        from_size_band=pl.when(vac).then(size_band(pl.col("from_rooms"))),
        from_area_type=pl.when(vac).then(pl.col("from_area_type")),
        from_area_id=pl.when(vac).then(pl.col("from_area_id")),
    )
    if areas is not None:
        from flyttkedja.io import to_arrow
        classes = area_income_classes(to_arrow(areas, "areas"), chainset.dwellings)
        links = links.join(classes.rename({"area_id": "from_area_id", "income_class": "from_income_class"}),
                           on="from_area_id", how="left", maintain_order="left")
        links = links.with_columns(pl.when(vac).then(pl.col("from_income_class").fill_null("unknown"))
                                   .alias("from_income_class"))
    else:
        links = links.with_columns(from_income_class=pl.lit(None, pl.String))
    reference = income_reference(chainset.moves) if income_median is None else income_median
    households = household_frame(links, reference)
    groups = TARGET_GROUPS if target_groups is None else dict(target_groups)
    if not groups:
        raise ValueError("target_groups: give at least one group (name → polars expression)")
    flags = target_flags(households, groups)
    idx = chains.select("chain_id", "_chain", "_group")
    links = links.join(idx, on="chain_id", how="left", maintain_order="left")
    if links["_chain"].null_count():
        bad = links.filter(pl.col("_chain").is_null())["chain_id"].head(5).to_list()
        raise SchemaError(f"links: chain_id(s) {bad} not in chains")
    out = links.select("_chain", "_group", "step", "from_tenure", "from_size_band", "from_area_type",
                       "from_income_class", pl.col("to_area_type"))
    return pl.concat([out, flags], how="horizontal").with_columns(
        _rkey=record_keys(links["move_row"].to_numpy(), key_seed, 1))


class _DwellingIndex:
    """Dwelling attributes looked up by id through a sorted copy of the ids (no hash join)."""

    def __init__(self, dwellings):
        ids = dwellings.column("dwelling_id").to_numpy()
        self.order = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.order]
        self.dwellings = dwellings

    def lookup(self, wanted: pl.Series, names: list[str]) -> tuple[pl.DataFrame, np.ndarray]:
        """``names`` columns for each id of ``wanted`` (null where absent) and the found mask."""
        attrs = pl.from_arrow(self.dwellings.select(names))
        if not len(self.sorted_ids):
            return attrs.clear(len(wanted)), np.zeros(len(wanted), bool)
        values = wanted.fill_null(self.sorted_ids[0]).to_numpy()
        pos = np.minimum(np.searchsorted(self.sorted_ids, values), len(self.sorted_ids) - 1)
        found = (self.sorted_ids[pos] == values) & wanted.is_not_null().to_numpy()
        gathered = attrs[self.order[pos]]
        if not found.all():
            gathered = gathered.with_columns([gathered[c].scatter(np.flatnonzero(~found), None) for c in names])
        return gathered, found


def _dwelling_attributes(links: pl.DataFrame, index: _DwellingIndex, columns: dict[str, list[str]]) -> pl.DataFrame:
    """Add ``<side>_<col>`` for side "to" (the filled dwelling) and "from" (the left one)."""
    out = []
    for side, names in columns.items():
        gathered, found = index.lookup(links[f"{side}_dwelling"], names)
        if side == "to" and not found.all():
            bad = links[f"{side}_dwelling"].filter(pl.Series(~found)).head(5).to_list()
            raise SchemaError(f"links.to_dwelling: dwelling(s) {bad} not in the dwellings table")
        out.append(gathered.rename({c: f"{side}_{c}" for c in names}))
    return pl.concat([links, *out], how="horizontal")


# ---------------------------------------------------------------- cells and specs
@dataclass
class Family:
    """Records counted into cells: ``records`` (_chain, _cell, _rkey), ``cells`` (_cell + dims)."""

    records: pl.DataFrame
    cells: pl.DataFrame


def family(records: pl.DataFrame, dims: Sequence[str]) -> Family:
    """Number the distinct ``dims`` combinations of ``records`` as cells 0..k-1 (sorted, nulls last).

    Each dim is coded by its sorted distinct values (null last); the codes
    combine into one mixed-radix integer, and a bincount over those finds the
    combinations present — linear in the records, no hash join.
    """
    dims = list(dims)
    combined = np.zeros(records.height, dtype=np.int64)
    levels, stride = [], 1
    for d in reversed(dims):
        col = records[d]
        values = col.drop_nulls().unique().sort()
        code = col.replace_strict(values, pl.Series(np.arange(len(values))), default=len(values),
                                  return_dtype=pl.Int64).to_numpy()
        combined += code * stride
        levels.append((d, values, stride, len(values) + 1))
        stride *= len(values) + 1
    if stride <= max(1 << 24, 4 * records.height):
        present = np.flatnonzero(np.bincount(combined, minlength=stride))
        rank = np.zeros(stride, dtype=np.int64)
        rank[present] = np.arange(len(present))
        cell = rank[combined]
    else:  # too many combinations for a table: sort instead
        present, cell = np.unique(combined, return_inverse=True)
    cells = {"_cell": np.arange(len(present), dtype=np.int64)}
    for d, values, step, size in reversed(levels):
        code = (present // step) % size
        cells[d] = pl.Series(d, values.to_list() + [None], dtype=records.schema[d])[code]
    return Family(records.select("_chain", "_rkey").with_columns(_cell=cell.ravel()), pl.DataFrame(cells))


@dataclass
class Spec:
    """One published table: its families and rows.

    ``rows`` holds the key columns, ``statistic``, ``scale``, ``kind``
    ("ratio" or "median") and the functionals ``num`` / ``den`` as
    ``list[struct{cell, coef}]`` over this spec's global cell numbers.
    """

    name: str
    rows: pl.DataFrame
    keys: list[str]


def margins(cells: pl.DataFrame, dims: Sequence[str], offset: int, full: bool = True) -> pl.DataFrame:
    """Every combination of ``dims`` with margins (null = all) → list of global cell numbers.

    With ``full`` the rows are the product of the observed values of each dim
    (so zero cells are published as zeros and tables have a fixed shape).
    Tables have at most a few thousand cells, so this runs in plain Python
    over the cells (one pass, every cell added to its 2^len(dims) margins).
    """
    dims = list(dims)
    lists: dict[tuple, list[int]] = {}
    for row in cells.select("_cell", *dims).iter_rows():
        for keep in itertools.product((True, False), repeat=len(dims)):
            key = tuple(v if k else None for v, k in zip(row[1:], keep))
            lists.setdefault(key, []).append(row[0] + offset)
    if full:
        values = [[*sorted(v for v in cells[d].unique().to_list() if v is not None), None] for d in dims]
        keys = list(itertools.product(*values))
    else:
        keys = list(lists)
    schema = {**{d: cells.schema[d] for d in dims}, "_cells": pl.List(pl.Int64)}
    frame = pl.DataFrame([(*key, lists.get(key, [])) for key in keys], schema=schema, orient="row")
    return frame.sort(dims, nulls_last=True, maintain_order=True)


def ratio_rows(frame: pl.DataFrame, statistic: str | None, num: str, den: str, scale: float | None) -> pl.DataFrame:
    """Rows of a ratio statistic: ``num`` and ``den`` name list[i64] cell columns (coefficient 1).

    ``statistic`` and ``scale`` set those columns; ``statistic=None`` keeps the frame's own.
    """
    as_f = lambda c: pl.col(c).list.eval(pl.struct(cell=pl.element(), coef=pl.lit(1.0)))  # noqa: E731
    own = {} if statistic is None else {"statistic": pl.lit(statistic), "scale": pl.lit(float(scale))}
    return frame.with_columns(kind=pl.lit("ratio"), num=as_f(num), den=as_f(den), **own).drop(
        [c for c in {num, den} if c not in ("num", "den")])


# -------------------------------------------------------------------- evaluation
@dataclass
class Items:
    """Distinct functionals of a set of rows as a sparse matrix: item i = Σ coef · cell."""

    item: np.ndarray
    cell: np.ndarray
    coef: np.ndarray
    n_items: int


def items_of(rows: pl.DataFrame) -> tuple[Items, np.ndarray, np.ndarray]:
    """Number the distinct num/den functionals; returns (items, num item per row, den item per row)."""
    both = pl.concat([rows.select(f=pl.col("num")), rows.select(f=pl.col("den"))])
    keyed = both.with_columns(_k=pl.col("f").list.eval(pl.element().struct.field("cell").cast(pl.String) + ":"
                                                       + pl.element().struct.field("coef").cast(pl.String))
                              .list.sort().list.join(","))
    codes = keyed["_k"].rank("dense").cast(pl.Int64).to_numpy() - 1
    n_items = int(codes.max(initial=-1)) + 1
    first = np.full(n_items, -1, dtype=np.int64)
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = order
    uniq = keyed[first].with_columns(item=pl.Series(np.arange(n_items))).select("item", "f").explode("f")
    uniq = uniq.filter(pl.col("f").is_not_null()).unnest("f")
    items = Items(uniq["item"].to_numpy(), uniq["cell"].to_numpy().astype(np.int64),
                  uniq["coef"].to_numpy().astype(np.float64), n_items)
    return items, codes[: rows.height], codes[rows.height:]


def item_values(items: Items, cell_totals: np.ndarray) -> np.ndarray:
    """Item values from cell totals; ``cell_totals`` is (n_cells,) or (replicates, n_cells)."""
    if cell_totals.ndim == 1:
        return np.bincount(items.item, weights=cell_totals[items.cell] * items.coef, minlength=items.n_items)
    used, col = np.unique(items.cell, return_inverse=True)
    weights = np.zeros((len(used), items.n_items))  # dense: a table has at most a few thousand cells
    np.add.at(weights, (col.ravel(), items.item), items.coef)
    return cell_totals[:, used] @ weights


def medians(hist_cells: list[np.ndarray], lengths: list[np.ndarray], totals: np.ndarray) -> np.ndarray:
    """Lower median per histogram (smallest length with at least half the chains at or below it).

    ``totals`` is (replicates, n_cells); returns (replicates, n_hist), NaN when empty.
    """
    out = np.full((totals.shape[0], len(hist_cells)), np.nan)
    for j, (cells, ks) in enumerate(zip(hist_cells, lengths)):
        if len(cells) == 0:
            continue
        order = np.argsort(ks, kind="stable")
        counts = totals[:, cells[order]]
        cum = np.cumsum(counts, axis=1)
        ok = cum[:, -1] > 0
        first = np.argmax(cum >= 0.5 * cum[:, -1:], axis=1)
        out[ok, j] = ks[order][first[ok]]
    return out
