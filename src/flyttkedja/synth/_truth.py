"""numba kernel turning the simulator's fill records into ground-truth chains (private).

The simulator records for every filling move which vacancy it took: the row of
the vacating move (``src >= 0``), a new build's completion (``src == -1``) or a
vacancy with no recorded cause (``-2``: empty at the start of the window), and
the gap in days. Truth cuts these links by ``max_gap_days`` exactly as the
chain rule does, and walks the chains from every new build.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# END_REASONS order in flyttkedja.schema
R_NEW_HOUSEHOLD, R_IN_MIGRANT, R_IMMIGRANT, R_NOT_VACATED, R_UNFILLED, R_CENSORED = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def fill_links(src, gap, fills, to_dw, n_dwellings, max_gap):
    """Per move: the vacating row it filled (-1 none) and whether it filled a new build.

    Also per vacating row / new-build dwelling: the filling row within the gap
    (``succ``/``first_fill``, -1 none) and whether anyone ever filled it.
    """
    n = len(src)
    filled_after = np.full(n, -1, np.int64)
    filled_new = np.zeros(n, np.bool_)
    succ = np.full(n, -1, np.int64)
    ever = np.zeros(n, np.bool_)
    first_fill = np.full(n_dwellings, -1, np.int64)
    nb_ever = np.zeros(n_dwellings, np.bool_)
    for m in range(n):
        if not fills[m]:
            continue
        s = src[m]
        if s >= 0:
            ever[s] = True
            if gap[m] <= max_gap:
                filled_after[m] = s
                succ[s] = m
        elif s == -1:
            nb_ever[to_dw[m]] = True
            if gap[m] <= max_gap:
                filled_new[m] = True
                first_fill[to_dw[m]] = m
    return filled_after, filled_new, succ, ever, first_fill, nb_ever


@njit(cache=True)
def _vacancy_end(ever_filled, demolished_day, t, window_end, max_gap):
    if ever_filled or (demolished_day >= 0 and demolished_day >= t):
        return R_UNFILLED
    return R_CENSORED if window_end - t < max_gap else R_UNFILLED


@njit(cache=True)
def walk_chains(seeds, completed, demolished, first_fill, nb_ever, succ, ever, day, from_dw, vacates,
                origin, window_end, max_gap):
    """Chains from the seed dwellings (in order): length, end reason, end day and the links."""
    n_seeds = len(seeds)
    length = np.zeros(n_seeds, np.int32)
    reason = np.zeros(n_seeds, np.int8)
    end_day = np.zeros(n_seeds, np.int64)
    links = np.empty(len(day) + 1, np.int64)
    link_seed = np.empty(len(day) + 1, np.int64)
    n_links = 0
    for i in range(n_seeds):
        dw = seeds[i]
        t = completed[dw]
        m = first_fill[dw]
        end_day[i] = t
        if m < 0:
            reason[i] = _vacancy_end(nb_ever[dw], demolished[dw], t, window_end, max_gap)
            continue
        while True:
            links[n_links] = m
            link_seed[n_links] = i
            n_links += 1
            length[i] += 1
            end_day[i] = day[m]
            if from_dw[m] < 0:
                reason[i] = origin[m] - 1  # new_household/in_migrant/immigrant = origin code - 1
                break
            if not vacates[m]:
                reason[i] = R_NOT_VACATED
                break
            nxt = succ[m]
            if nxt < 0:
                reason[i] = _vacancy_end(ever[m], demolished[from_dw[m]], day[m], window_end, max_gap)
                break
            m = nxt
    return length, reason, end_day, links[:n_links], link_seed[:n_links]
