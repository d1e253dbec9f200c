"""Numba kernel of the (cluster) Poisson bootstrap (private; see :mod:`flyttkedja.analysis.bootstrap`).

Replicate r gives unit u the weight ``w(r, u) ~ Poisson(1)``, computed by
inversion from a 32-bit uniform: output m+1 of replicate r's splitmix64
stream gives units 2m (high 32 bits) and 2m+1 (low 32 bits). An output can
be computed directly (state = seed_r + (m+1)·golden), so weights need no
storage and any order of evaluation gives the same numbers
(:func:`flyttkedja._random.stream_output`, inlined).
The kernel streams the unit × cell CSR matrix once per *batch* of replicates
(prange over batches; each batch owns its output rows), adding
``w(r, u) · count`` into its cells. Results are identical for any thread count.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from numba import njit, prange

from flyttkedja import _random
from flyttkedja._jit import threaded
from flyttkedja._kernel_cache import bust_stale_cache
from flyttkedja._random import stream_output

_TWO32 = 1.0 / 4294967296.0  # 2**-32
BATCH = 16  # replicates per pass over the data
# Poisson(1) cumulative distribution, k = 0..19 (1 - cdf[19] < 1e-18)
POISSON_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])


@njit(cache=True, inline="always")
def _poisson1(u, cdf):
    """Poisson(1) by inversion: the number of cdf entries ≤ u.

    The first eight comparisons are summed without branches (random exits
    would mispredict); the loop only runs for the tail (probability 1e-5).
    """
    k = ((u >= cdf[0]) + (u >= cdf[1]) + (u >= cdf[2]) + (u >= cdf[3])
         + (u >= cdf[4]) + (u >= cdf[5]) + (u >= cdf[6]) + (u >= cdf[7]))
    if k == 8:
        while k < cdf.shape[0] - 1 and u >= cdf[k]:
            k += 1
    return k


@threaded
def replicate_cell_totals(indptr, cells, counts, n_cells, seeds, cdf):
    """(replicates, n_cells) float64: cell totals of each Poisson-bootstrap replicate.

    indptr : int64 (n_units + 1); cells : int32; counts : int32 — CSR of units × cells.
    seeds : uint64, one per replicate; cdf : the Poisson(1) table.
    """
    n_units = indptr.shape[0] - 1
    n_rep = seeds.shape[0]
    n_batches = (n_rep + BATCH - 1) // BATCH
    out = np.zeros((n_rep, n_cells))
    for b in prange(n_batches):
        first = b * BATCH
        size = min(BATCH, n_rep - first)
        acc = np.zeros(n_cells * BATCH)  # cell-major: acc[c * BATCH + j] for replicate first + j
        w = np.zeros(BATCH)
        z = np.zeros(BATCH, dtype=np.uint64)
        for u in range(n_units):
            total = 0.0
            if u % 2 == 0:  # one 64-bit output serves units u (high half) and u + 1 (low half)
                for j in range(size):
                    z[j] = stream_output(seeds[first + j], u // 2 + 1)
                    w[j] = _poisson1(np.float64(z[j] >> np.uint64(32)) * _TWO32, cdf)
                    total += w[j]
            else:
                for j in range(size):
                    w[j] = _poisson1(np.float64(z[j] & np.uint64(0xFFFFFFFF)) * _TWO32, cdf)
                    total += w[j]
            if total == 0.0:
                continue
            for k in range(indptr[u], indptr[u + 1]):
                base = cells[k] * BATCH
                c = np.float64(counts[k])
                for j in range(BATCH):
                    acc[base + j] += w[j] * c
        for j in range(size):
            for c in range(n_cells):
                out[first + j, c] = acc[c * BATCH + j]
    return out


# the kernel inlines _random's stream_output: a cached kernel must not outlive an edit of _random.py
bust_stale_cache("analysis", (_random, sys.modules[__name__]))
