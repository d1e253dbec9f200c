"""Disclosure control: cell suppression with secondary suppression, or the Cell Key Method.

Every published count is a linear functional ``a · x`` of the (unpublished)
cell counts ``x`` of a table (a margin is a sum of cells, a total number of
moves is Σ length × chains, ...). docs/disclosure.md states the rules;
in short:

*Suppression* (default): counts ``1 ≤ n < threshold`` are suppressed
(primary). Secondary suppression then adds published counts until no
suppressed count is a linear combination of published ones, i.e. none can be
recomputed from the published margins and totals of the table
(:func:`secondary_suppression`; the guarantee is checked with exact rational
arithmetic in the tests).

*Cell Key Method* (as SCB from reference year 2025): each record has a key
in [0, 1); a cell's key is the fractional part of the sum of its records'
keys; the count is perturbed by the entry of :data:`PTABLE` that the cell key
selects. The same records give the same key, hence the same perturbation.

Example
-------
>>> A = np.array([[1, 0], [0, 1], [1, 1.0]])          # two cells and their total
>>> secondary_suppression(A, np.array([3, 9, 12]), threshold=5).tolist()
[True, True, False]
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

DEFAULT_THRESHOLD = 5
# Cell Key Method perturbation table: count → ((perturbation, probability), ...).
# Zero-mean, variance 0.5, maximum deviation 2; zeros are never perturbed and a
# perturbed count is never negative.
PTABLE: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((0, 1.0),),
    1: ((-1, 0.25), (0, 0.50), (1, 0.25)),
}
PTABLE_DEFAULT: tuple[tuple[int, float], ...] = ((-2, 0.05), (-1, 0.20), (0, 0.50), (1, 0.20), (2, 0.05))


def primary_suppression(counts: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Counts based on at least one but fewer than ``threshold`` records."""
    counts = np.asarray(counts, dtype=np.float64)
    return (counts > 0) & (counts < threshold)


def disclosed(A: np.ndarray, suppressed: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Suppressed rows of ``A`` that lie in the span of the published rows (recomputable)."""
    basis = _rowspace(A[~suppressed], tol)
    sup = A[suppressed]
    residual = sup - (sup @ basis.T) @ basis if basis.size else sup
    scale = np.maximum(np.linalg.norm(sup, axis=1), 1.0)
    out = np.zeros(len(A), dtype=bool)
    out[np.flatnonzero(suppressed)] = np.linalg.norm(residual, axis=1) < 1e-7 * scale
    return out


def _rowspace(P: np.ndarray, tol: float) -> np.ndarray:
    if P.size == 0:
        return np.zeros((0, P.shape[1]))
    return _decompose(P)[2]


def secondary_suppression(
    A: np.ndarray,
    counts: np.ndarray,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    primary: np.ndarray | None = None,
    protected: np.ndarray | None = None,
) -> np.ndarray:
    """Suppression mask such that no suppressed item is a linear combination of published items.

    Parameters
    ----------
    A : (items, cells) array
        Item i's published value is ``A[i] @ x`` for the unknown cell counts x.
    counts : (items,) array
        The items' values (used to pick cheap secondary suppressions).
    primary : bool array, optional
        Primary suppressions; default :func:`primary_suppression` of ``counts``.
    protected : bool array, optional
        Items to keep published if at all possible (e.g. numbers of chains
        that other tables publish too).

    Algorithm: while some suppressed item is recomputable, write it as a
    combination of published items (minimum-norm least squares) and suppress,
    among the items that combination uses, the one with the smallest ratio of
    count to weight in the combination — preferring items no other published
    items determine (hiding one surely breaks the combination), and protected
    items last. Each round suppresses at least one more item, so it ends,
    and it ends only when no suppressed item is recomputable.
    """
    # Many small SVDs: one BLAS thread is fastest, and far faster on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return _secondary(np.asarray(A, dtype=np.float64), np.asarray(counts, dtype=np.float64),
                          threshold, primary, protected)


def _secondary(A, counts, threshold, primary, protected) -> np.ndarray:
    A = _item_space(A)
    suppressed = primary_suppression(counts, threshold) if primary is None else np.asarray(primary, bool).copy()
    protected = np.zeros(len(A), bool) if protected is None else np.asarray(protected, bool)
    # Preference for secondary suppression: small counts first (zeros cost least), protected items last.
    cost = counts + np.where(protected, 1e15, 0.0)
    while suppressed.any() and A.shape[1] and not suppressed.all():
        pub = np.flatnonzero(~suppressed)
        u, s, vt, rank = _decompose(A[pub])
        hidden = np.flatnonzero(suppressed)
        residual = A[hidden] - (A[hidden] @ vt[:rank].T) @ vt[:rank]
        scale = np.maximum(np.linalg.norm(A[hidden], axis=1), 1.0)
        bad = hidden[np.linalg.norm(residual, axis=1) < 1e-7 * scale]  # recomputable, as in disclosed()
        if not len(bad):
            break
        # a published item is "free" when no other published items determine it
        # (its row of the left null space is zero): hiding it surely breaks the
        # combinations that use it, so free items are preferred as partners.
        free = np.zeros(len(A), bool)
        free[pub] = ~(np.abs(u[:, rank:]) > 1e-7).any(axis=1)
        # coefficients c with c @ A[pub] = A[bad] (minimum norm)
        coef = (A[bad] @ vt[:rank].T / s[:rank]) @ u[:, :rank].T
        added = np.zeros(len(A), bool)
        for row in coef[np.argsort(counts[bad], kind="stable")]:
            weight = np.abs(row)
            mask = (weight > 1e-7) & ~suppressed[pub]
            used = pub[mask]
            if added[pub[weight > 1e-7]].any():
                continue  # this round already hid an item this combination needs; re-check next round
            if len(used):
                # items that weigh most in the combination and hold the fewest records
                score = (cost[used] + 1.0) / weight[mask] + np.where(free[used], 0.0, 1e18)
                pick = used[np.argmin(score)]
                suppressed[pick] = added[pick] = True
    return suppressed


def _decompose(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """SVD of P from the eigen-decomposition of P Pᵀ (always converges; P has few rows).

    Returns (u, s, vt, rank) with u square and ordered so that u[:, :rank] pairs with
    s, vt and u[:, rank:] spans the left null space.
    """
    values, vectors = np.linalg.eigh(P @ P.T)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    rank = int((values > 1e-10 * max(values.max(initial=0.0), 1.0)).sum())
    s = np.sqrt(values[:rank])
    vt = (vectors[:, :rank].T @ P) / s[:, None]
    return vectors, s, vt, rank


def _item_space(A: np.ndarray) -> np.ndarray:
    """Rows of ``A`` in coordinates of an orthonormal basis of its row space.

    Linear dependencies between rows — all that disclosure depends on — are
    unchanged, and the matrix has at most as many columns as rows, which keeps
    the SVDs of the secondary suppression small when a table has many cells.
    """
    if A.shape[1] <= A.shape[0]:
        return A
    # B with B Bᵀ = A Aᵀ has the same row dependencies; from the (small) Gram matrix.
    values, vectors = np.linalg.eigh(A @ A.T)
    keep = values > 1e-9 * max(values.max(initial=0.0), 1.0)
    return vectors[:, keep] * np.sqrt(values[keep])


def cell_key_perturbation(counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
    """Perturbation (int) of each count from its cell key in [0, 1) by :data:`PTABLE`.

    >>> cell_key_perturbation(np.array([0, 10, 10]), np.array([0.3, 0.01, 0.5])).tolist()
    [0, -2, 0]
    """
    counts = np.asarray(counts).astype(np.int64)
    keys = np.asarray(cell_keys, dtype=np.float64) % 1.0
    out = np.zeros(len(counts), dtype=np.int64)
    for c in np.unique(counts):
        rows = counts == c
        table = PTABLE.get(int(c), PTABLE_DEFAULT)
        values = np.array([d for d, _ in table])
        bounds = np.cumsum([p for _, p in table])
        out[rows] = values[np.minimum(np.searchsorted(bounds, keys[rows], side="right"), len(values) - 1)]
    return out
