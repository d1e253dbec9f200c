"""Plain-Python references for the scenario kernels (readable, slow; tests only).

- :func:`naive_chains` walks the Monte Carlo chains one by one with the same
  splitmix64 streams as ``flyttkedja.scenario._kernels.simulate_chains``, so
  the two must agree exactly.
- :func:`naive_pooled_first_rows` applies the new-household pool to first rows cell by cell.
- :func:`naive_expectations` computes the transition model's expectations by
  summing the visit series v, vQ, vQ², ... instead of inverting I − Q.
"""

from __future__ import annotations

import numpy as np

MASK = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


def splitmix(state: int) -> tuple[int, float]:
    state = (state + GOLD) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z = z ^ (z >> 31)
    return state, (z >> 11) * (1.0 / 9007199254740992.0)


def first_index(cum, u: float) -> int:
    for k, c in enumerate(cum):
        if u < c:
            return k
    return len(cum) - 1


def naive_chains(kind_of, start_cum, first_cum, first_group, later_cum, fill_group, moves_flag,
                 reps, seed, max_length, n_hist):
    n, S = len(kind_of), later_cum.shape[0]
    R, G = later_cum.shape[1] - S, fill_group.shape[1]
    moves = np.zeros(reps, np.int64)
    vac = np.zeros((reps, S), np.int64)
    reach = np.zeros((reps, G), np.int64)
    ends = np.zeros((reps, R), np.int64)
    hist = np.zeros((reps, n_hist), np.int64)
    for r in range(reps):
        for i in range(n):
            state = int(seed) ^ (((r * n + i + 1) * GOLD) & MASK)
            k = kind_of[i]
            state, u = splitmix(state)
            s = first_index(start_cum[k], u)
            length, first = 0, True
            while True:
                state, u = splitmix(state)
                out = first_index(first_cum[k, s] if first else later_cum[s], u)
                if moves_flag[out]:
                    length += 1
                    for g in range(G):
                        state, u = splitmix(state)
                        if u < (first_group[k, s, g] if first else fill_group[s, g]):
                            reach[r, g] += 1
                first = False
                if out >= S:
                    ends[r, out - S] += 1
                    break
                if length >= max_length:
                    ends[r, R - 1] += 1
                    break
                vac[r, out] += 1
                s = out
            moves[r] += length
            hist[r, min(length, n_hist - 1)] += 1
    return moves, vac, reach, ends, hist


def naive_expectations(start, P0, P, F, moves_flag, F0=None, tol=1e-13, max_steps=100_000):
    """Expected moves, vacancies, reach and ends per chain by summing the visit series.

    ``F0``: group shares of first fillers (default ``F``)."""
    S = P.shape[0]
    first = np.asarray(start, float) @ P0
    v = first[:S].copy()
    visits = np.zeros(S)
    for _ in range(max_steps):
        visits += v
        v = v @ P[:, :S]
        if v.sum() < tol:
            break
    filled = P @ moves_flag
    filled_first = np.asarray(start, float) * (P0 @ moves_flag)
    F0 = F if F0 is None else F0
    reach = np.zeros(F.shape[1])
    for g in range(F.shape[1]):
        reach[g] = sum(filled_first[i] * F0[i, g] for i in range(S)) + sum(visits[i] * filled[i] * F[i, g]
                                                                             for i in range(S))
    ends = first[S:] + visits @ P[:, S:]
    return {"moves": filled_first.sum() + visits @ filled, "vacancies": visits, "reach": reach, "ends": ends}


def naive_moments(counts, U, Z):
    """Per row of ``counts``: Var(u), Var(z), Cov(u, z) of the columns of ``U``, ``Z`` under the row's
    shares, cell by cell from the definition (two-pass: the means first)."""
    counts = np.asarray(counts, np.float64)
    S, F = counts.shape[0], U.shape[1]
    vu, vz, cuz = np.zeros((S, F)), np.zeros((S, F)), np.zeros((S, F))
    for r in range(S):
        n = counts[r].sum()
        if n == 0:
            continue
        p = counts[r] / n
        for f in range(F):
            mu, mz = p @ U[:, f], p @ Z[:, f]
            vu[r, f] = p @ (U[:, f] - mu) ** 2
            vz[r, f] = p @ (Z[:, f] - mz) ** 2
            cuz[r, f] = p @ ((U[:, f] - mu) * (Z[:, f] - mz))
    return vu, vz, cuz


def naive_pooled_first_rows(P0, factor, nh):
    """First rows with the new-household pool, row by row as a mixture: the new-household outcome (column
    ``nh``) with the row's chance times ``factor``, the row's other outcomes sharing the rest of the row's
    total in proportion to their own shares; a row with no other outcome unchanged."""
    out = np.array(P0, float)
    for i in range(out.shape[0]):
        row = [float(x) for x in P0[i]]
        total = sum(row)
        others = total - row[nh]
        if others <= 0:
            continue
        new = row[nh] * factor
        for j in range(len(row)):
            out[i, j] = new if j == nh else row[j] * (total - new) / others
    return out
