"""Fast register maker for tracer benchmarks (national scale in seconds).

A compiled day-by-day occupancy simulation with real chain structure: new
builds complete in buildings through the years; households move to a random
empty dwelling (a vacating and filling link), swap (same-day pairs), split off
(fills, vacates nothing), form or arrive from outside (absorbing fills), leave
or dissolve (vacates, fills nothing) and join occupied dwellings. Empty
dwellings wait a random time for a filler, so some vacancies stay unfilled or
are censored. Every rule that :func:`flyttkedja.trace` validates holds (one move
per household and day, flags match from/to, households leave where they live).

It stands in for :func:`flyttkedja.synth.generate` when that is too slow for
10 million moves; the tracer benchmark uses synth when it is present and fast
enough (see ``bench_trace.py``).

>>> moves, dwellings = make_register(100_000)    # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

from flyttkedja._random import splitmix_next  # the project's one splitmix64 (issue 12 item 7)

START_DAY = int(np.datetime64("2015-01-01", "D").astype(np.int64))
ORIGINS = ("dwelling", "new_household", "in_migrant", "immigrant")
DESTINATIONS = ("dwelling", "out_migrant", "emigrant", "dissolved")
# event mix per move: move, swap (counts 2), split, new household, in-migrant, immigrant, exit, join
P_EVENT = np.array([0.50, 0.02, 0.04, 0.10, 0.06, 0.03, 0.22, 0.03])


@njit(cache=True)
def _rand(state):
    """One step of the splitmix64 sequence in state[0]; uniform float in [0, 1)."""
    state[0], u = splitmix_next(state[0])
    return u


@njit(cache=True)
def _pick(pool, n, state):
    return int(_rand(state) * n)


@njit(cache=True)
def _remove(pool, where, n, d):
    """Swap-remove d from the pool (positions in ``where``); returns the new size."""
    i = where[d]
    last = pool[n - 1]
    pool[i] = last
    where[last] = i
    where[d] = -1
    return n - 1


@njit(cache=True)
def _add(pool, where, n, d):
    pool[n] = d
    where[d] = n
    return n + 1


@njit(cache=True)
def _simulate(n_moves, n_dw, days, completed, p_cum, seed):
    state = np.array([np.uint64(seed)], np.uint64)
    cap_h = n_dw + n_moves + 1
    occupant = np.full(n_dw, -1, np.int64)
    home = np.full(cap_h, -1, np.int64)
    moved_day = np.full(cap_h, -1, np.int64)
    filled_day = np.full(n_dw, -1, np.int64)
    empty = np.empty(n_dw, np.int64)
    e_where = np.full(n_dw, -1, np.int64)
    n_empty = 0
    n_h = 0
    for d in range(n_dw):
        if completed[d] >= 0:
            continue  # not built yet
        if _rand(state) < 0.97:
            occupant[d] = n_h
            home[n_h] = d
            n_h += 1
        else:
            n_empty = _add(empty, e_where, n_empty, d)
    order = np.argsort(completed)
    next_build = 0
    while next_build < n_dw and completed[order[next_build]] < 0:
        next_build += 1
    hh = np.empty(n_moves, np.int64)
    day_of = np.empty(n_moves, np.int32)
    frm = np.full(n_moves, -1, np.int64)
    to = np.full(n_moves, -1, np.int64)
    origin = np.zeros(n_moves, np.int8)
    dest = np.zeros(n_moves, np.int8)
    vac = np.zeros(n_moves, np.bool_)
    fil = np.zeros(n_moves, np.bool_)
    per_day = n_moves / days
    m = 0
    for t in range(days):
        while next_build < n_dw and completed[order[next_build]] <= t:
            n_empty = _add(empty, e_where, n_empty, order[next_build])
            next_build += 1
        target = min(n_moves, int((t + 1) * per_day))
        tries = 0
        while m < target - 1 and tries < 50 * per_day:
            tries += 1
            u = _rand(state)
            kind = 0
            while kind < 7 and u >= p_cum[kind]:
                kind += 1
            fill_only = kind in (2, 3, 4, 5)
            if fill_only and n_empty < 0.005 * n_dw:
                kind = 6  # keep a pool of empty dwellings: turn the arrival into a departure
                fill_only = False
            h = -1
            a = -1
            if kind != 3 and kind != 4 and kind != 5:  # needs a resident household
                a = int(_rand(state) * n_dw)
                h = occupant[a]
                if h < 0 or moved_day[h] == t or filled_day[a] == t:
                    continue
            if kind == 1:  # swap with another resident
                b = int(_rand(state) * n_dw)
                g = occupant[b]
                if g < 0 or b == a or moved_day[g] == t or filled_day[b] == t:
                    continue
                for (x, y, z) in ((h, a, b), (g, b, a)):
                    hh[m], day_of[m], frm[m], to[m], vac[m], fil[m] = x, t, y, z, True, True
                    moved_day[x] = t
                    filled_day[z] = t
                    occupant[z] = x
                    home[x] = z
                    m += 1
                continue
            if kind in (0, 2, 3, 4, 5):
                if n_empty == 0:
                    continue
                b = empty[_pick(empty, n_empty, state)]
                if kind == 2:  # split: a new household leaves a behind
                    g = n_h
                    n_h += 1
                    hh[m], frm[m], vac[m] = g, a, False
                elif kind == 0:
                    hh[m], frm[m], vac[m] = h, a, True
                    occupant[a] = -1
                    n_empty = _add(empty, e_where, n_empty, a)
                    g = h
                else:
                    g = n_h
                    n_h += 1
                    hh[m], origin[m] = g, kind - 2  # new_household, in_migrant, immigrant
                n_empty = _remove(empty, e_where, n_empty, b)
                to[m], fil[m], day_of[m] = b, True, t
                occupant[b] = g
                home[g] = b
                moved_day[g] = t
                filled_day[b] = t
                m += 1
            elif kind == 6:  # leaves the area or dissolves
                hh[m], frm[m], vac[m], day_of[m] = h, a, True, t
                dest[m] = 1 + int(_rand(state) * 3)
                occupant[a] = -1
                home[h] = -1
                moved_day[h] = t
                n_empty = _add(empty, e_where, n_empty, a)
                m += 1
            else:  # joins an occupied dwelling
                b = int(_rand(state) * n_dw)
                if occupant[b] < 0 or b == a:
                    continue
                hh[m], frm[m], to[m], vac[m], day_of[m] = h, a, b, True, t
                occupant[a] = -1
                home[h] = -1
                moved_day[h] = t
                n_empty = _add(empty, e_where, n_empty, a)
                m += 1
    return hh[:m], day_of[:m], frm[:m], to[:m], origin[:m], dest[:m], vac[:m], fil[:m]


def _labels(codes: np.ndarray, labels) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(labels)).cast(pa.string())


def make_register(n_moves: int, *, years: int = 8, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    """(moves, dwellings) with about ``n_moves`` moves over ``years`` years, canonical types.

    Dwellings: ``n_moves // 2`` (about one move per dwelling every 8 years at
    Swedish mobility), 1% a year completed as new builds in buildings of 1-40.
    """
    rng = np.random.default_rng(seed)
    n_dw = max(n_moves // 2, 10)
    days = years * 365
    completed = np.full(n_dw, -1, np.int64)
    n_new = int(0.01 * years * n_dw)
    size = rng.integers(1, 41, n_new)
    building_of_new = np.repeat(np.arange(n_new), size)[:n_new]
    build_day = rng.integers(0, days, n_new)[building_of_new]
    new = rng.choice(n_dw, n_new, replace=False)
    completed[new] = build_day
    p_cum = np.cumsum(P_EVENT / P_EVENT.sum())
    hh, day, frm, to, origin, dest, vac, fil = _simulate(n_moves, n_dw, days, completed, p_cum, seed)
    ids = np.arange(n_dw, dtype=np.int64) + 1_000_000
    building = np.arange(n_dw, dtype=np.int64) + 10_000_000
    building[new] = building_of_new
    moves = pa.table({
        "household_id": hh + 1,
        "move_date": pa.array(day + START_DAY, pa.int32()).cast(pa.date32()),
        "from_dwelling": pa.array(np.where(frm >= 0, frm + 1_000_000, 0), mask=frm < 0),
        "to_dwelling": pa.array(np.where(to >= 0, to + 1_000_000, 0), mask=to < 0),
        "origin": _labels(origin, ORIGINS),
        "destination": _labels(dest, DESTINATIONS),
        "vacates": vac,
        "fills": fil,
        "income": rng.integers(50, 800, len(hh)) * 1000,
    })
    done = completed >= 0
    dwellings = pa.table({
        "dwelling_id": ids,
        "building_id": building,
        "tenure": _labels(rng.integers(0, 3, n_dw).astype(np.int8), ("rental", "cooperative", "owner")),
        "rooms": rng.integers(1, 6, n_dw).astype(np.int8),
        "completed": pa.array((completed + START_DAY).astype(np.int32), mask=~done).cast(pa.date32()),
    })
    return moves, dwellings
