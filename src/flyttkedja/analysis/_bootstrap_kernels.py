"""Numba kernel of the cluster bootstrap (private; see :mod:`flyttkedja.analysis.bootstrap`).

Replicate r draws ``n_units`` units uniformly with replacement from its own
splitmix64 stream (seeded from ``numpy.random.SeedSequence``), giving each
unit a weight (how often it was drawn), then adds ``weight × count`` of every
(unit, cell) entry of a CSR matrix into row r of the output. Replicates are
independent, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _splitmix64(state):
    """Next (state, output) of splitmix64."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True)
def _draw_weights(state, n_units, weights):
    """Fill ``weights`` with multinomial(n_units, uniform) counts; returns the new state."""
    weights[:] = 0
    for _ in range(n_units):
        state, z = _splitmix64(state)
        u = np.float64(z >> np.uint64(11)) * _TWO53  # uniform in [0, 1), 53 bits
        weights[np.int64(u * n_units)] += 1
    return state


@njit(cache=True, parallel=True)
def replicate_cell_totals(indptr, cells, counts, n_cells, seeds):
    """(replicates, n_cells) int64: cell totals of each bootstrap replicate.

    indptr, cells, counts : CSR of units × cells (int64, int64, int64).
    seeds : uint64, one per replicate.
    """
    n_units = indptr.shape[0] - 1
    n_rep = seeds.shape[0]
    out = np.zeros((n_rep, n_cells), dtype=np.int64)
    for r in prange(n_rep):
        weights = np.empty(n_units, dtype=np.int64)
        _draw_weights(seeds[r], n_units, weights)
        row = out[r]
        for u in range(n_units):
            w = weights[u]
            if w == 0:
                continue
            for k in range(indptr[u], indptr[u + 1]):
                row[cells[k]] += w * counts[k]
    return out
