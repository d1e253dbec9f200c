"""numba kernels of the transition model's Monte Carlo chains (private).

One random stream per chain: chain ``c`` (= replication × n_new + dwelling)
starts a splitmix64 sequence at ``seed ^ (c + 1) * GOLD``
(:func:`flyttkedja._random.splitmix_next`, inlined), so every chain's draws
depend on the seed and its own index only, never on the thread count.
Replications run in ``prange``; each writes only its own output rows.
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange

from flyttkedja import _random
from flyttkedja._kernel_cache import bust_stale_cache
from flyttkedja._random import GOLD, splitmix_next


@njit(inline="always", cache=True)
def _draw(cum, u):
    """First index k with u < cum[k] (binary search; cum is non-decreasing and ends at 1)."""
    lo = 0
    hi = cum.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if u < cum[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(parallel=True, cache=True)
def simulate_chains(kind_of, start_cum, first_cum, first_group, later_cum, fill_group, moves_flag,
                    reps, seed, max_length, n_hist):
    """Walk ``reps`` × ``len(kind_of)`` chains.

    Parameters (S strata, R absorbing reasons, G target groups, K dwelling kinds)
    kind_of (n,) kind of each new dwelling; start_cum (K, S) its stratum;
    first_cum (K, S, S+R) the first vacancy's outcome; first_group (K, S, G)
    probability that the first filler is in each group; later_cum (S, S+R) and
    fill_group (S, G) the same for vacancies in the existing stock;
    moves_flag (S+R) 1 where the outcome is a move.

    Returns per replication: moves (reps,), vacancies by stratum in the
    existing stock (reps, S), households reached by group (reps, G), chain
    ends by reason (reps, R) and the chain-length histogram (reps, n_hist; the
    last bin holds every longer chain).
    """
    n = kind_of.shape[0]
    S = later_cum.shape[0]
    R = later_cum.shape[1] - S
    G = fill_group.shape[1]
    moves = np.zeros(reps, np.int64)
    vac = np.zeros((reps, S), np.int64)
    reach = np.zeros((reps, G), np.int64)
    ends = np.zeros((reps, R), np.int64)
    hist = np.zeros((reps, n_hist), np.int64)
    for r in prange(reps):
        for i in range(n):
            state = np.uint64(seed) ^ (np.uint64(r * n + i + 1) * GOLD)
            k = kind_of[i]
            state, u = splitmix_next(state)
            s = _draw(start_cum[k], u)
            length = 0
            first = True
            while True:
                state, u = splitmix_next(state)
                out = _draw(first_cum[k, s], u) if first else _draw(later_cum[s], u)
                if moves_flag[out]:
                    length += 1
                    for g in range(G):
                        state, u = splitmix_next(state)
                        p = first_group[k, s, g] if first else fill_group[s, g]
                        if u < p:
                            reach[r, g] += 1
                first = False
                if out >= S:
                    ends[r, out - S] += 1
                    break
                if length >= max_length:
                    ends[r, R - 1] += 1  # the last reason is max_length
                    break
                vac[r, out] += 1
                s = out
            moves[r] += length
            hist[r, min(length, n_hist - 1)] += 1
    return moves, vac, reach, ends, hist


@njit(cache=True)
def row_moments(start, cols, p, U, Z):
    """Per row r of a sparse share matrix (CSR: ``start`` (S+1,), ``cols``, shares ``p``): Var(u), Var(z),
    Cov(u, z) (S, F) of the outcome values ``U``, ``Z`` (W, F) under the row's shares, two-pass (the means
    first), summed over the row's cells in order — as ``explorer/evaluate.js`` (moments) sums them.
    Reference: ``tests/naive_scenario.py`` (naive_moments)."""
    S, F = start.shape[0] - 1, U.shape[1]
    vu, vz, cuz = np.zeros((S, F)), np.zeros((S, F)), np.zeros((S, F))
    mu, mz = np.zeros(F), np.zeros(F)
    for r in range(S):
        lo, hi = start[r], start[r + 1]
        if lo == hi:
            continue
        mu[:] = 0.0
        mz[:] = 0.0
        for q in range(lo, hi):
            c, w = cols[q], p[q]
            for f in range(F):
                mu[f] += w * U[c, f]
                mz[f] += w * Z[c, f]
        for q in range(lo, hi):
            c, w = cols[q], p[q]
            for f in range(F):
                du, dz = U[c, f] - mu[f], Z[c, f] - mz[f]
                vu[r, f] += w * du * du
                vz[r, f] += w * dz * dz
                cuz[r, f] += w * du * dz
    return vu, vz, cuz


# the kernels inline _random's splitmix_next: a cached kernel must not outlive an edit of _random.py
bust_stale_cache("scenario", (_random, sys.modules[__name__]))
