"""Definitions of the published tables as cells and ratio statistics (see _engine)."""

from __future__ import annotations

import numpy as np
import polars as pl

from flyttkedja.analysis._engine import Family, Prepared, Spec, family, margins, ratio_rows
from flyttkedja.analysis.groups import BELOW_MEDIAN

NO_DWELLING = "no_dwelling"  # origin of a link that vacated no dwelling in the study area


class Builder:
    """Collects the cell families of several tables in one global cell numbering.

    Families are named (``chains``, ``flows``, ``rounds``, ``segregation``,
    ``reach_households``, ``reach_chains``) so that the disclosure model can
    state the identities between them, and completed with zero cells (every
    combination of the observed values, see :func:`complete`) so that a zero
    is an unknown like any other count once withheld. A :meth:`view` groups
    the same cells by fewer seed attributes (an earlier release's ``by``).
    """

    def __init__(self, prepared: Prepared, start: int = 0):
        self.p = prepared
        self.families: list[Family] = []
        #: cells are numbered from ``start``: a second builder continues the first's numbering, so that two
        #: sets of chains (the two conventions of one register) share one cell vector in one release
        self.start = start
        self.n_cells = start
        self.named: dict[str, tuple[Family, int]] = {}
        self._base: pl.DataFrame | None = None
        self._view = False

    def add(self, fam: Family) -> int:
        if self._view:
            raise RuntimeError("a view shares its parent's cells; it cannot add families")
        offset = self.n_cells
        self.families.append(fam)
        self.n_cells += fam.cells.height
        return offset

    def named_family(self, name: str, make, dims: list[str] | None = None) -> tuple[Family, int]:
        """The family ``name``, built by ``make()`` (and completed over ``dims``) the first time."""
        if name not in self.named:
            fam = make()
            if dims is not None:
                fam = complete(fam, dims, self.p.groups["_group"])
            self.named[name] = (fam, self.add(fam))
        return self.named[name]

    def chain_cells(self) -> tuple[Family, int]:
        """Chains counted by seed group × length × end reason (one record per chain, shared by tables)."""
        dims = ["_group", "length", "end_reason"]
        return self.named_family("chains", lambda: family(
            self.p.chains.select("_chain", "_rkey", *dims), dims), dims)

    def base(self) -> pl.DataFrame:
        """``_group`` (null = all) → ``_base``: cells counting the chains of each seed group."""
        if self._base is None:
            fam, off = self.chain_cells()
            self._base = margins(fam.cells, ["_group"], off).rename({"_cells": "_base"})
        return self._base

    def view(self, prepared: Prepared, group_map: np.ndarray) -> "Builder":
        """The same cells grouped by ``prepared``'s (coarser) groups: fine ``_group`` g → ``group_map[g]``."""
        v = Builder(prepared)
        v.families, v.start, v.n_cells, v._view = self.families, self.start, self.n_cells, True
        lookup = pl.Series(np.asarray(group_map, np.int32))
        for name, (fam, off) in self.named.items():
            cells = fam.cells.with_columns(_group=pl.col("_group").map_batches(
                lambda g: lookup.gather(g.cast(pl.Int64)), return_dtype=pl.Int32))
            v.named[name] = (Family(fam.records, cells), off)
        return v


MAX_COMPLETE = 200_000  # cells: above this a family keeps only observed combinations


def complete(fam: Family, dims: list[str], groups: pl.Series, levels: dict | None = None) -> Family:
    """Add zero cells for the combinations of the observed values of ``dims`` that hold no record.

    The seed group ranges over every group of the release. A withheld zero is
    then an unknown count like any other in the disclosure model (without it
    an attacker would be assumed to know which combinations are empty).
    Families whose full product exceeds :data:`MAX_COMPLETE` cells stay as observed.
    Structural zeros are left out: a chain of length 0 can only be ``unfilled`` or ``censored``.
    ``levels`` gives a dim's values explicitly (e.g. every target group).

    >>> records = pl.DataFrame({"_chain": [0, 1], "_rkey": [0.1, 0.2], "_group": [0, 1], "k": [1, 2]})
    >>> f = family(records, ["_group", "k"])
    >>> complete(f, ["_group", "k"], pl.Series([0, 1], dtype=pl.Int32)).cells.height
    4
    """
    if fam.cells.height == 0 and not levels:
        return fam
    levels = {"_group": groups, **(levels or {})}
    values = [pl.DataFrame({d: levels[d].cast(fam.cells.schema[d])}) if d in levels
              else fam.cells.select(pl.col(d).unique().sort(nulls_last=True)) for d in dims]
    size = int(np.prod([v.height for v in values]))
    if size > MAX_COMPLETE or size == fam.cells.height:
        return fam
    full = values[0]
    for v in values[1:]:
        full = full.join(v, how="cross")
    missing = full.join(fam.cells.select(dims), on=dims, how="anti", nulls_equal=True)
    if "length" in dims and "end_reason" in dims:
        missing = missing.filter((pl.col("length") != 0) | pl.col("end_reason").is_in(["unfilled", "censored"]))
    extra = missing.with_columns(_cell=pl.int_range(fam.cells.height, fam.cells.height + missing.height,
                                                    dtype=fam.cells.schema["_cell"]))
    return Family(fam.records, pl.concat([fam.cells, extra.select(fam.cells.columns)]))


def _with_base(b: Builder, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.join(b.base(), on="_group", how="left", nulls_equal=True, maintain_order="left")


def _weighted(frame: pl.DataFrame, cells_col: str, cells: pl.DataFrame, offset: int, coef_col: str,
              keys: list[str]) -> pl.DataFrame:
    """Turn a list-of-cells column into {cell, coef} functionals with coef from ``cells``."""
    lookup = cells.select(_c=pl.col("_cell") + offset, _coef=pl.col(coef_col).cast(pl.Float64))
    exploded = frame.select(*keys, _c=pl.col(cells_col)).explode("_c").join(lookup, on="_c", how="left")
    return exploded.group_by(keys, maintain_order=True).agg(
        num=pl.struct(cell="_c", coef="_coef").filter(pl.col("_c").is_not_null()),
        den=pl.struct(cell="_c", coef=pl.lit(1.0)).filter(pl.col("_c").is_not_null()))


def length_specs(b: Builder) -> list[Spec]:
    """Length distribution (share of chains of each length) and summary (mean, median, per 100)."""
    fam, off = b.chain_cells()
    return _summary_and_distribution(fam, off, "length", (("mean", 1.0, "ratio"), ("per_100", 100.0, "ratio"),
                                                          ("median", 1.0, "median")))


def depth_specs(b: Builder) -> list[Spec]:
    """Depth (rounds) distribution and summary (mean, median); a path's depth is its length."""
    dims = ["_group", "depth"]
    fam, off = b.named_family("depth", lambda: family(b.p.chains.select("_chain", "_rkey", *dims), dims), dims)
    return _summary_and_distribution(fam, off, "depth", (("mean", 1.0, "ratio"), ("median", 1.0, "median")))


def _summary_and_distribution(fam: Family, off: int, column: str, statistics) -> list[Spec]:
    """``<column>_summary`` (the ``statistics``: name, scale, kind) and ``<column>_distribution``
    (share of chains with each value) over a family of chains counted by seed group × ``column``."""
    m = margins(fam.cells, ["_group", column], off)
    base = m.filter(pl.col(column).is_null()).select("_group", _base=pl.col("_cells"))
    dist = m.filter(pl.col(column).is_not_null()).join(base, on="_group", how="left", nulls_equal=True,
                                                        maintain_order="left")
    dist = ratio_rows(dist, "share", "_cells", "_base", 1.0)
    summ = _weighted(base, "_base", fam.cells, off, column, ["_group"])
    rows = [summ.with_columns(statistic=pl.lit(s), scale=pl.lit(k), kind=pl.lit(kind)) for s, k, kind in statistics]
    summary = pl.concat(rows).sort("_group", nulls_last=True, maintain_order=True)
    return [Spec(f"{column}_summary", summary, ["statistic"]), Spec(f"{column}_distribution", dist, [column])]


def end_reason_spec(b: Builder) -> Spec:
    """Share of leaves ending for each reason, by seed group. A path has one leaf (its end:
    the share of chains); a tree one per branch end (``Prepared.leaves``)."""
    if b.p.leaves is not None:
        # named: a view (an earlier release's coarser groups) reuses the cells instead of adding them
        fam, off = b.named_family("leaves", lambda: family(b.p.leaves, ["_group", "end_reason"]))
    else:
        fam, off = b.chain_cells()
    m = margins(fam.cells, ["_group", "end_reason"], off)
    base = m.filter(pl.col("end_reason").is_null()).select("_group", _base=pl.col("_cells"))
    rows = m.filter(pl.col("end_reason").is_not_null()).join(base, on="_group", how="left", nulls_equal=True,
                                                              maintain_order="left")
    return Spec("end_reasons", ratio_rows(rows, "share", "_cells", "_base", 1.0), ["end_reason"])


def _step_label(k: int, rounds: int) -> str:
    return str(k) if k <= rounds else f"{rounds + 1}+"


def flow_spec(b: Builder, rounds: int) -> Spec:
    """Dwellings vacated per 100 seeds, by vacated tenure / size band / area type, by step and in total."""
    links = b.p.links.lazy().filter(pl.col("from_tenure").is_not_null()).select(
        "_chain", "_rkey", "_group", step=pl.col("step").clip(upper_bound=rounds + 1),
        tenure="from_tenure", size_band="from_size_band", area_type="from_area_type").collect
    dims = ["tenure", "size_band", "area_type"]
    fam, off = b.named_family("flows", lambda: family(links(), ["_group", "step", *dims]), ["_group", "step", *dims])
    parts = []
    for dim in dims:
        m = margins(fam.cells, ["_group", "step", dim], off)
        parts.append(m.select("_group", "step", dimension=pl.lit(dim), category=pl.col(dim), _cells="_cells"))
    rows = _with_base(b, pl.concat(parts))
    rows = rows.with_columns(step=pl.col("step").map_elements(lambda k: _step_label(k, rounds), pl.String))
    return Spec("flows", ratio_rows(rows, "per_100", "_cells", "_base", 100.0), ["step", "dimension", "category"])


def rounds_spec(b: Builder, rounds: int) -> Spec | None:
    """Mast's rounds: share of step-k links vacating a below-median / bottom-quintile area, cumulative per 100."""
    if not b.p.has_areas:
        return None
    links = b.p.links.lazy().filter(pl.col("from_income_class").is_not_null() & (pl.col("step") <= rounds)).select(
        "_chain", "_rkey", "_group", "step", income_class="from_income_class").collect
    dims = ["_group", "step", "income_class"]
    fam, off = b.named_family("rounds", lambda: family(links(), dims), dims)
    # the cells are few (groups × steps × classes): plain Python over their rows
    cells = [(c + off, g, k, cls) for c, g, k, cls in fam.cells.select("_cell", "_group", "step", "income_class")
             .iter_rows()]
    chains_of = dict(b.base().select("_group", "_base").iter_rows())
    classes = {"below_median": BELOW_MEDIAN, "bottom_quintile": ("bottom_quintile",)}
    out = []
    for g in [*b.p.groups["_group"].to_list(), None]:
        mine = [c for c in cells if g is None or c[1] == g]
        for k in range(1, rounds + 1):
            at_k = [c[0] for c in mine if c[2] == k]
            for name, cls in classes.items():
                hit = [c[0] for c in mine if c[2] == k and c[3] in cls]
                cum = [c[0] for c in mine if c[2] <= k and c[3] in cls]
                out.append((g, k, name, "share", hit, at_k, 1.0))
                out.append((g, k, name, "cumulative_per_100", cum, list(chains_of[g]), 100.0))
    rows = pl.DataFrame(out, schema={"_group": pl.Int32, "step": pl.Int32, "area_class": pl.String,
                                     "statistic": pl.String, "_n": pl.List(pl.Int64), "_d": pl.List(pl.Int64),
                                     "scale": pl.Float64}, orient="row")
    return Spec("rounds", ratio_rows(rows, None, "_n", "_d", None), ["step", "area_class", "statistic"])


def segregation_spec(b: Builder) -> Spec:
    """Origin area type (of the vacated dwelling) → destination area type, per 100 seeds and share of origin."""
    links = b.p.links.lazy().select("_chain", "_rkey", "_group", destination=pl.col("to_area_type"),
                                    origin=pl.col("from_area_type").fill_null(NO_DWELLING)).collect
    dims = ["_group", "origin", "destination"]
    fam, off = b.named_family("segregation", lambda: family(links(), dims), dims)
    m = margins(fam.cells, ["_group", "origin", "destination"], off)
    row_tot = m.filter(pl.col("destination").is_null()).select("_group", "origin", _row="_cells")
    m = _with_base(b, m).join(row_tot, on=["_group", "origin"], how="left", nulls_equal=True, maintain_order="left")
    per_100 = ratio_rows(m.drop("_row"), "per_100", "_cells", "_base", 100.0)
    share = ratio_rows(m.drop("_base"), "share_of_origin", "_cells", "_row", 1.0)
    rows = pl.concat([per_100, share]).sort("_group", "origin", "destination", nulls_last=True, maintain_order=True)
    return Spec("segregation", rows, ["origin", "destination", "statistic"])


def reach_spec(b: Builder) -> Spec:
    """Households of each target group housed per 100 seeds, and share of chains reaching the group."""
    names = list(b.p.target_groups)
    dims = ["_group", "_tg"]

    def households() -> Family:  # one record per (link, group it belongs to)
        links = b.p.links
        fam = family(pl.concat([links.filter(pl.col(t)).select("_chain", "_rkey", "_group", _tg=pl.lit(i, pl.Int16))
                                for i, t in enumerate(names)]), dims)
        return complete(fam, dims, b.p.groups["_group"], {"_tg": pl.Series(np.arange(len(names)), dtype=pl.Int16)})

    def chains() -> Family:  # one record per (chain, group it reached): distinct (chain, cell) pairs
        hh = b.named["reach_households"][0]
        n = max(hh.cells.height, 1)
        pairs = np.sort(hh.records["_chain"].to_numpy() * n + hh.records["_cell"].to_numpy())
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # distinct, sorted
        chain = pairs // n
        return Family(pl.DataFrame({"_chain": chain, "_rkey": b.p.chains["_rkey"].to_numpy()[chain],
                                    "_cell": pairs % n}), hh.cells)

    b.named_family("reach_households", households)
    b.named_family("reach_chains", chains)
    label = lambda fam: fam.cells.with_columns(target_group=pl.col("_tg").replace_strict(  # noqa: E731
        dict(enumerate(names)), return_dtype=pl.String))
    hh, ch = (Family(f.records, label(f)) for f, _ in (b.named["reach_households"], b.named["reach_chains"]))
    parts = []
    offsets = {id(hh): b.named["reach_households"][1], id(ch): b.named["reach_chains"][1]}
    for fam, statistic, scale in ((hh, "per_100", 100.0), (ch, "share_of_chains", 1.0)):
        off = offsets[id(fam)]
        m = margins(fam.cells, ["_group", "target_group"], off).filter(pl.col("target_group").is_not_null())
        # every group × target group, also those nobody reached (published as zero)
        grid = pl.DataFrame({"_group": [*b.p.groups["_group"].to_list(), None]}, schema={"_group": pl.Int32}).join(
            pl.DataFrame({"target_group": names}), how="cross")
        m = grid.join(m, on=["_group", "target_group"], how="left", nulls_equal=True, maintain_order="left")
        m = m.with_columns(pl.col("_cells").fill_null(pl.lit([], pl.List(pl.Int64))))
        parts.append(ratio_rows(_with_base(b, m), statistic, "_cells", "_base", scale))
    order = {n: i for i, n in enumerate(names)}
    rows = pl.concat(parts).with_columns(_o=pl.col("target_group").replace_strict(order, return_dtype=pl.Int32))
    rows = rows.sort("_group", "_o", nulls_last=True, maintain_order=True).drop("_o")
    return Spec("reach", rows, ["target_group", "statistic"])
