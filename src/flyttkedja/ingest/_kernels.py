"""numba kernel: occupancy of dwellings through dated person events.

Private; called by :func:`flyttkedja.ingest.events.from_person_moves`, which
validates and converts the inputs. The plain-Python reference is
``tests/naive_ingest.py::occupancy_through_events``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Status codes per event row (0 = consistent).
OK = 0
WRONG_FROM = 1      # person is not on from_dwelling when the event happens
ALREADY_HOUSED = 2  # arrival from outside (birth, in-migration, immigration) of a person on a dwelling
NO_YOUNGEST = np.iinfo(np.int32).max


@njit(cache=True, no_cfunc_wrapper=True)
def occupancy_through_events(person, day, from_dw, to_dw, location, birth_year, n_dwellings):
    """Per event: how many start-of-day residents stay, and the oldest resident.

    Events must be sorted by day (ties in table order). All events of one day
    are decided against the occupancy at the start of that day, as the
    snapshot ingester decides a year against the previous snapshot.

    Parameters (numpy arrays, dense indices)
    ----------------------------------------
    person : int64[n]       person index 0..P-1
    day : int32[n]          period of each event, ascending (the caller's replay step)
    from_dw, to_dw : int64[n]  dwelling index 0..D-1, or -1
    location : int64[P]     dwelling of each person before the first event (-1: none); updated in place
    birth_year : int32[P]
    n_dwellings : int

    Returns
    -------
    stay_from, stay_to : int64[n]   start-of-day residents of from/to still there at day's end
    oldest_from : int32[n]          birth year of from's oldest start-of-day resident
    status : int8[n]                OK, WRONG_FROM or ALREADY_HOUSED
    """
    n = person.shape[0]
    n_persons = location.shape[0]
    occupants = np.zeros(n_dwellings, np.int64)
    oldest = np.full(n_dwellings, NO_YOUNGEST, np.int32)
    # Residents per dwelling as doubly linked lists, to find the oldest one.
    first = np.full(n_dwellings, -1, np.int64)
    nxt = np.full(n_persons, -1, np.int64)
    prv = np.full(n_persons, -1, np.int64)
    for p in range(n_persons):
        d = location[p]
        if d >= 0:
            _link(p, d, first, nxt, prv)
            occupants[d] += 1
    leaving = np.zeros(n_dwellings, np.int64)
    stamp = np.full(n_dwellings, -1, np.int64)
    stay_from = np.zeros(n, np.int64)
    stay_to = np.zeros(n, np.int64)
    oldest_from = np.full(n, NO_YOUNGEST, np.int32)
    status = np.zeros(n, np.int8)
    start = 0
    while start < n:
        end = start
        while end < n and day[end] == day[start]:
            end += 1
        for k in range(start, end):  # who leaves each dwelling today
            p, f = person[k], from_dw[k]
            if f >= 0:
                if location[p] != f:
                    status[k] = WRONG_FROM
                else:
                    leaving[f] += 1
            elif location[p] >= 0:
                status[k] = ALREADY_HOUSED
        for k in range(start, end):  # decide against the start of the day
            f, t = from_dw[k], to_dw[k]
            if f >= 0:
                stay_from[k] = occupants[f] - leaving[f]
                if stamp[f] != start:
                    stamp[f] = start
                    oldest[f] = _oldest(first[f], nxt, birth_year)
                oldest_from[k] = oldest[f]
            if t >= 0:
                stay_to[k] = occupants[t] - leaving[t]
        for k in range(start, end):  # apply the day
            p, f, t = person[k], from_dw[k], to_dw[k]
            if status[k] != OK:
                continue
            if f >= 0:
                leaving[f] = 0
                _unlink(p, f, first, nxt, prv)
                occupants[f] -= 1
                location[p] = -1
            if t >= 0:
                _link(p, t, first, nxt, prv)
                occupants[t] += 1
                location[p] = t
        start = end
    return stay_from, stay_to, oldest_from, status


@njit(cache=True, no_cfunc_wrapper=True)
def _link(p, d, first, nxt, prv):
    nxt[p] = first[d]
    prv[p] = -1
    if first[d] >= 0:
        prv[first[d]] = p
    first[d] = p


@njit(cache=True, no_cfunc_wrapper=True)
def _unlink(p, d, first, nxt, prv):
    if prv[p] >= 0:
        nxt[prv[p]] = nxt[p]
    else:
        first[d] = nxt[p]
    if nxt[p] >= 0:
        prv[nxt[p]] = prv[p]
    nxt[p] = -1
    prv[p] = -1


@njit(cache=True, no_cfunc_wrapper=True)
def _oldest(head, nxt, birth_year):
    best = NO_YOUNGEST
    p = head
    while p >= 0:
        if birth_year[p] < best:
            best = birth_year[p]
        p = nxt[p]
    return best
