"""Both chain conventions in one release: the second convention's figures, protected against the first.

A report can show the figures of the same register under the other chain
convention beside its own (paths as the Swedish studies count, trees as CBS
counts; ``docs/chains.md``). Each report is protected on its own (``docs/disclosure.md``),
but published together the two give more away: the difference of a cell
between the conventions counts the records one convention adds (e.g. the links of
partners who moved in together) — a small difference discloses a small group as
surely as a small cell. :func:`protect_alongside` therefore publishes a row of the
second report only where

1. that row is published in both reports, and
2. the difference of its counts (``n`` and ``n_base``) between the conventions is
   0 or at least the threshold (primary suppression of the difference table), and
3. no withheld difference can be recomputed from the published ones through the
   table's margins over seed groups (secondary suppression of the difference
   table, :func:`flyttkedja.analysis.disclosure.secondary_suppression`);

a row withheld for one statistic is withheld for all statistics of the same cell
(they share counts). Only tables both reports have are published alongside (a
tree report's depth tables have no path counterpart and stay in the tree report
alone); a path's length is also its depth, so paths shown beside a tree report are
protected against its depth tables too. With the Cell Key Method each convention's counts are perturbed by its
own records' keys; without disclosure control nothing is withheld.

Example
-------
>>> trees = protect_alongside(path_report, Report(retrace(cs, "tree")))   # doctest: +SKIP
>>> path_report.write("out/report", alongside=trees)                       # doctest: +SKIP
"""

from __future__ import annotations

import copy

import numpy as np
import polars as pl

from flyttkedja.analysis.disclosure import secondary_suppression

FIGURES = ("convention", "n", "n_base", "value", "ci_low", "ci_high", "suppressed")
DEPTH_OF = {"length_distribution": "depth_distribution", "length_summary": "depth_summary"}
ALL = "all"


def protect_alongside(primary, other):
    """``other`` (a Report of the same chains under the other convention) with the rows withheld
    that would disclose small differences from ``primary``; see the module docstring."""
    if getattr(primary, "convention", "path") == getattr(other, "convention", "path"):
        raise ValueError("alongside: both reports use the same chain convention")
    out = copy.copy(other)
    shared = [name for name in other.tables if name in primary.tables]
    if primary.options.get("disclosure") != "suppress":
        out.tables = {name: other.tables[name] for name in shared}
        return out
    threshold = primary.options.get("threshold") or 5
    out.tables = {}
    for name in shared:
        frame = protect_table(primary.tables[name], other.tables[name], primary.by, threshold)
        counterpart = DEPTH_OF.get(name) if other.convention == "path" else None
        if counterpart in primary.tables:  # a path's length is also its depth: the trees' depth tables
            depth = primary.tables[counterpart].rename({"depth": "length"}, strict=False)
            frame = protect_table(depth, frame, primary.by, threshold, counterpart_only=True)
        out.tables[name] = frame
    return out


def protect_table(primary: pl.DataFrame, other: pl.DataFrame, by, threshold: int, *,
                  counterpart_only: bool = False) -> pl.DataFrame:
    """``other`` with rows withheld (numbers null, ``suppressed`` true) so that neither its own cells,
    ``primary``'s, nor their differences below ``threshold`` can be read or recomputed. A row of
    ``other`` with no row in ``primary`` is withheld, unless ``counterpart_only`` (then only rows
    with a counterpart are compared)."""
    keys = [c for c in other.columns if c not in FIGURES]
    joined = other.select(*keys, "n", "n_base", "suppressed").join(
        primary.select(*keys, "n", "n_base", "suppressed"), on=keys, how="left", suffix="_p", nulls_equal=True,
        maintain_order="left")
    d_n = (joined["n"] - joined["n_p"]).to_numpy().astype(np.float64)
    d_base = (joined["n_base"] - joined["n_base_p"]).to_numpy().astype(np.float64)
    small = lambda d: (np.abs(d) > 0) & (np.abs(d) < threshold)  # noqa: E731
    unmatched = joined["suppressed_p"].is_null().to_numpy()
    hidden = (joined["suppressed"].fill_null(True) | joined["suppressed_p"].fill_null(True)).to_numpy()
    hidden |= np.isnan(d_n) | np.isnan(d_base) | small(np.nan_to_num(d_n)) | small(np.nan_to_num(d_base))
    if counterpart_only:
        hidden &= ~unmatched
        hidden |= other["suppressed"].to_numpy()
    cell_keys = [k for k in keys if k != "statistic"]
    cells = joined.select(cell_keys).with_row_index("_row").group_by(cell_keys, maintain_order=True).agg("_row")
    rows = cells["_row"].to_list()
    cell_hidden = np.array([hidden[r].any() for r in rows], bool)  # shared counts: one statistic hides all
    cell_d = np.array([np.nan_to_num(d_n[r]).max(initial=0) for r in rows])
    A = margin_matrix(cells.drop("_row"), [c for c in by if c in cell_keys])
    if cell_hidden.any() and not cell_hidden.all():
        cell_hidden = secondary_suppression(A, np.abs(cell_d), threshold=threshold, primary=cell_hidden)
    withhold = np.zeros(other.height, bool)
    for r, h in zip(rows, cell_hidden):
        withhold[r] = h
    if not withhold.any():
        return other
    mask = pl.Series(withhold)
    return other.with_columns(
        [pl.when(mask).then(None).otherwise(pl.col(c)).alias(c) for c in ("n", "n_base", "value", "ci_low", "ci_high")]
        + [(pl.col("suppressed") | mask).alias("suppressed")])


def margin_matrix(cells: pl.DataFrame, by: list[str]) -> np.ndarray:
    """Each cell (row) as the sum of the cells of single seed groups it covers: a row whose ``by``
    column reads "all" sums the rows that agree with it on every other column."""
    if not by:
        return np.eye(cells.height)
    is_leaf = np.ones(cells.height, bool)
    for c in by:
        is_leaf &= (cells[c].cast(pl.String) != ALL).to_numpy()
    leaves = np.flatnonzero(is_leaf)
    values = {c: cells[c].cast(pl.String).fill_null("").to_numpy() for c in cells.columns}
    A = np.zeros((cells.height, len(leaves)))
    for i in range(cells.height):
        match = np.ones(len(leaves), bool)
        for c, v in values.items():
            if c in by and v[i] == ALL:
                continue
            match &= v[leaves] == v[i]
        A[i, match] = 1.0
    return A
