"""Both chain conventions in one release: what ties a register's paths to its trees.

A report can publish the figures of the same register under the other chain
convention beside its own (paths as the Swedish studies count, trees as CBS
counts; ``docs/chains.md``): ``Report(chainset, both_conventions=True)``, CLI
``flyttkedja report --both-conventions``. Both conventions' tables are one
release: their cells share one cell vector (the second convention's numbered
after the first's) and one protection model (:mod:`flyttkedja.analysis.release`),
which an attacker who sees both is assumed to know:

* **the same seeds**: per seed group and end reason, as many chains under both
  conventions (a tree's end reason is its spine's, and the spine is the path:
  ``docs/chains.md``) — so every group's chains, every ``n_base`` of chains and
  every "all" row agree (:func:`identities_between`);
* **the spine inside the tree**: per seed group and k, trees with at least k
  links, and (when the tree's depth tables are in the release) trees at least k
  rounds deep, number at least the paths of length at least k;
* **differences**: a count of one convention less the same count of the other
  (the same table, keys and seed group; a path's length against a tree's depth)
  counts the records one convention adds — e.g. the partners who moved in
  together. A difference of 1 to threshold − 1 discloses a small group as
  surely as a small cell, so it is protected like a withheld count
  (:func:`add_differences`): the attacker's interval for it stays at least the
  rule's width wide, although no table shows it.

The ledger records both conventions' tables (the second as
``"<convention>_<table>"``), so a later release of the register is protected
against them. With the Cell Key Method each convention's counts are perturbed
by its own records' keys; without disclosure control nothing is withheld.

Example
-------
>>> report = Report(paths, areas=areas, both_conventions=True)   # doctest: +SKIP
>>> report.alongside["flows"]                                    # doctest: +SKIP
>>> report.write("out/report")   # tree_<table>.parquet/.csv beside <table>.parquet/.csv
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse

DEPTH_OF = {"length_distribution": "depth_distribution", "length_summary": "depth_summary"}


def check_same_seeds(chainset, other) -> None:
    """Refuse two ChainSets that are not one register's seeds under the two conventions, in one order."""
    if chainset.convention == other.convention:
        raise ValueError(f"both conventions: both ChainSets use the {chainset.convention} convention")
    a, b = chainset.chains, other.chains
    if a.height != b.height or not all(a[c].equals(b[c]) for c in ("chain_id", "seed_dwelling")
                                       if c in a.columns and c in b.columns):
        raise ValueError("both conventions: the two ChainSets do not have the same seeds in the same order "
                         "(trace the other convention with flyttkedja.core.retrace)")


def _chain_cells(b) -> pl.DataFrame | None:
    if "chains" not in b.named:
        return None
    fam, off = b.named["chains"]
    return fam.cells.select("_group", "end_reason", L=pl.col("length").cast(pl.Int64),
                            cell=pl.col("_cell").cast(pl.Int64) + off)


def identities_between(b1, b2) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Terms (``key``, ``cell``, ``coef``) of the equalities and inequalities between a path builder's
    cells and a tree builder's (either order; see the module docstring)."""
    paths, trees = (b1, b2) if b1.p.convention == "path" else (b2, b1)
    P, T = _chain_cells(paths), _chain_cells(trees)
    eq, ub = [], []
    if P is None or T is None:
        return eq, ub
    g = pl.col("_group").cast(pl.String).fill_null("all")
    key = lambda *parts: pl.concat_str([p if isinstance(p, pl.Expr) else pl.lit(p) for p in parts],  # noqa: E731
                                       separator=":")
    for frame, coef in ((P, 1.0), (T, -1.0)):  # the same seeds, the same spine's end
        eq.append(frame.select(key("seeds", g, pl.col("end_reason").cast(pl.String)).alias("key"), "cell",
                               coef=pl.lit(coef)))
    ks = pl.DataFrame({"k": np.arange(1, int(P["L"].max() or 0) + 1, dtype=np.int64)})
    if ks.height:
        at_least = lambda frame, col: frame.join(ks, how="cross").filter(pl.col(col) >= pl.col("k"))  # noqa: E731
        spine = at_least(P, "L")
        ub.append(spine.select(key("spine_links", g, pl.col("k").cast(pl.String)).alias("key"), "cell",
                               coef=pl.lit(1.0)))
        ub.append(at_least(T, "L").select(key("spine_links", g, pl.col("k").cast(pl.String)).alias("key"), "cell",
                                          coef=pl.lit(-1.0)))
        if "depth" in trees.named:
            fam, off = trees.named["depth"]
            D = fam.cells.select("_group", d=pl.col("depth").cast(pl.Int64), cell=pl.col("_cell").cast(pl.Int64) + off)
            ub.append(spine.select(key("spine_rounds", g, pl.col("k").cast(pl.String)).alias("key"), "cell",
                                   coef=pl.lit(1.0)))
            ub.append(at_least(D, "d").select(key("spine_rounds", g, pl.col("k").cast(pl.String)).alias("key"),
                                              "cell", coef=pl.lit(-1.0)))
    return eq, ub


def convention_pairs(specs, other_specs, num_all: np.ndarray, den_all: np.ndarray,
                     bounds: np.ndarray) -> np.ndarray:
    """(item, item) pairs of the same count under the two conventions: rows of the same table (or a
    path's length table and a tree's depth table), seed group and keys; ``specs`` then ``other_specs``
    are the first rows of ``num_all``/``den_all`` (``bounds``: their row offsets)."""
    def rows(j, spec) -> pl.DataFrame:
        frame = spec.rows.select("_group", *spec.keys).rename({"depth": "length"}, strict=False)
        return frame.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64) + bounds[j])

    def comparable(a: str, b: str) -> bool:
        return a == b or DEPTH_OF.get(a) == b or DEPTH_OF.get(b) == a

    out = []
    for j, s in enumerate(specs):
        for k, t in enumerate(other_specs, start=len(specs)):
            if not comparable(s.name, t.name):
                continue
            a, c = rows(j, s), rows(k, t)
            on = [col for col in a.columns if col != "_row" and col in c.columns]
            both = a.join(c, on=on, how="inner", nulls_equal=True, suffix="_o")
            r, o = both["_row"].to_numpy(), both["_row_o"].to_numpy()
            out += [np.c_[num_all[r], num_all[o]], np.c_[den_all[r], den_all[o]]]
    pairs = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def add_differences(model, pairs: np.ndarray, threshold: int) -> int:
    """Append to ``model`` (as :attr:`~flyttkedja.analysis.disclosure.Model.derived` items) the
    differences of ``pairs`` that count 1 to ``threshold`` − 1 records; returns how many.

    Each difference is oriented larger minus smaller (a positive count of the records one convention
    adds); a pair with a count of no cell on one side is the other count itself, protected as such.
    """
    values = np.rint(model.values)
    nonempty = np.diff(model.A.indptr) > 0
    pairs = pairs[nonempty[pairs[:, 0]] & nonempty[pairs[:, 1]]] if len(pairs) else pairs
    d = values[pairs[:, 0]] - values[pairs[:, 1]] if len(pairs) else np.zeros(0)
    small = (np.abs(d) >= 1) & (np.abs(d) < threshold)
    pairs = np.where((d < 0)[:, None], pairs[:, ::-1], pairs)[small] if len(pairs) else pairs
    if not len(pairs):
        return 0
    D = (model.A[pairs[:, 0]] - model.A[pairs[:, 1]]).tocsr()
    D.eliminate_zeros()
    model.A = sparse.vstack([model.A, D]).tocsr()
    model.fixed = np.r_[model.fixed, np.zeros(len(pairs), bool)]
    model.derived = np.r_[model.derived, np.ones(len(pairs), bool)]
    return len(pairs)
