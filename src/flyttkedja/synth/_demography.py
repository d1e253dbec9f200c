"""Demography: the year's draws and one handler per household event (private numba kernels).

:func:`year_start` (parallel) sets the year's incomes and draws each
household's demographic and mobility event; every draw is keyed to the
person's or household's stable key and the year, so neither the thread count
nor a programme elsewhere in the region changes it. The handlers ``on_*``
apply one event on its day; each may open a vacancy (offered at once through
:func:`flyttkedja.synth._market.drain`) or create a seeker.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types

from flyttkedja._jit import threaded
from flyttkedja._random import normal, u01, u01x
from flyttkedja.synth._market import drain, new_seeker, offer_seeker, vacate
from flyttkedja.synth._state import (
    C_MV, C_P, C_ROW0, D_ALLOC, DR_LEAVE_COUPLE, D_MUNI, D_OCC, D_VACDAY, D_VACROW, D_ROOMS, D_TENURE, DR_DEMOGRAPHY, DR_INCOME, DR_MOBILITY, DR_PERM, DR_SEX, DR_SWAP, DR_TOGETHER,
    H_ABROAD, H_CORE, H_DW, H_FIRST, H_HEAD, H_INCPREV, H_KEY, H_LASTMOVE, H_PARTNER, H_QUEUE,
    H_SEEKER, H_SIZE, ID_BIRTH, O_DWELLING, P_ABROAD, P_BY, P_HH, P_INCOME, P_INCPREV, P_KEY, P_NEXT,
    P_PERM, P_ROLE, P_SEEKER, P_SEX, PE_BIRTH, PE_DEATH, PE_EMIG, PE_MOVE, PE_OUT, PR_BIRTH, PR_COUPLE,
    PR_CROWDING, PR_DEATH_A, PR_DEATH_B, PR_DOWNSIZING, PR_EMIG_ABROAD, PR_EMIG_NATIVE, PR_INCOME_RISE,
    PR_LEAVE18, PR_LEAVE25, PR_LEAVE_COUPLE, PR_MOVE0, PR_OUT_OTHER, PR_OUT_YOUNG, PR_SD_YEARLY, PR_SEPARATION, PR_SWAP, PR_TOGETHER,
    ROLE_CHILD, ROLE_CORE, S_ACTIVE, S_LEAVER, S_PARTNER, SK_INTERNAL, SK_LEAVE, SK_SPLIT, SRC_NONE, T_RENTAL, X_DISSOLVED,
    X_DWELLING, X_EMIGRANT, X_OUT_MIGRANT, A2, F1, I8, MARKET, U8, add_member, composition, end_household, household_income,
    ident, kernel, member_events, person_event, person_income, record_move, remove_member,
)

# events (the kinds simulate_year dispatches on)
EV_COMPLETE, EV_DEATH, EV_BIRTH, EV_LEAVE, EV_SEPARATE, EV_COUPLE = 0, 1, 2, 3, 4, 5
EV_MOVE, EV_OUTMIG, EV_EMIG, EV_SWAP, EV_ARRIVAL = 6, 7, 8, 9, 10
DEMOGRAPHIC_EVENTS = (EV_DEATH, EV_BIRTH, EV_LEAVE, EV_SEPARATE, EV_COUPLE)  # order of the hazards


# ------------------------------------------------------------------ the year's draws (parallel)
@threaded  # parallel form and serial twin (flyttkedja._jit.Threaded): simulate picks by population
def year_start(hh, p, d, n_hh, n_p, year, day0, ndays, key, par, ev):
    """Incomes for ``year`` and each household's event draws for the year.

    ``ev`` has two rows per household (demographic, mobility) with columns
    day, kind, person; kind -1 = no event.
    """
    for h in prange(n_hh):
        if hh[h, 1]:  # H_ALIVE
            hh[h, H_INCPREV] = household_income(hh, p, h)
    for q in prange(n_p):
        if p[q, P_HH] >= 0:
            p[q, P_INCPREV] = p[q, P_INCOME]
            shock = par[PR_SD_YEARLY] * normal(key, p[q, P_KEY], DR_INCOME)
            p[q, P_INCOME] = person_income(par, p[q, P_PERM], year - p[q, P_BY], shock)
    for h in prange(n_hh):
        ev[2 * h, 1] = -1
        ev[2 * h + 1, 1] = -1
        if hh[h, 1]:
            draw_household(hh, p, d, h, year, day0, ndays, key, par, ev)


@kernel(types.void, A2, A2, A2, I8, I8, I8, I8, U8, F1, A2)
def draw_household(hh, p, d, h, year, day0, ndays, key, par, ev):
    kids = 0
    oldest_core = -1
    oldest_age = -1
    female_age = -1
    leaver = -1
    leaver_age = -1
    q = hh[h, H_FIRST]
    while q >= 0:
        age = year - p[q, P_BY]
        if p[q, P_ROLE] == ROLE_CORE:
            if age > oldest_age:
                oldest_age = age
                oldest_core = q
            if p[q, P_SEX] == 0:
                female_age = age
        else:
            kids += 1
            if age >= 18 and age > leaver_age:
                leaver_age = age
                leaver = q
        q = p[q, P_NEXT]
    core = hh[h, H_CORE]
    age_head = year - p[hh[h, H_HEAD], P_BY]
    hkey = hh[h, H_KEY]
    # demographic event; hazards as a tuple, not an array: no heap allocation per household in the prange
    h_death = 0.0
    if oldest_age >= 50 and kids == 0:
        h_death = min(0.6, np.exp(par[PR_DEATH_A] + par[PR_DEATH_B] * oldest_age))
    h_birth = 0.0
    if core == 2 and 22 <= female_age <= 42 and kids < 4:
        h_birth = par[PR_BIRTH] * (0.5 if kids >= 2 else 1.0)
    h_leave = 0.0
    if leaver >= 0:
        h_leave = par[PR_LEAVE18] if leaver_age < 25 else par[PR_LEAVE25]
    h_split = 0.0
    if core == 2 and age_head < 70:
        h_split = par[PR_SEPARATION]
    h_couple = 0.0
    if core == 1 and kids == 0 and 20 <= age_head <= 45:
        h_couple = par[PR_COUPLE]
    hz = (h_death, h_birth, h_leave, h_split, h_couple)
    kind, day = pick(hz, key, hkey, DR_DEMOGRAPHY, day0, ndays)
    if kind >= 0:
        ev[2 * h, 0] = day
        ev[2 * h, 1] = DEMOGRAPHIC_EVENTS[kind]
        person = -1
        if kind == 0:
            person = oldest_core
        elif kind == 2:
            person = leaver
        elif kind == 3:
            person = hh[h, H_PARTNER]
        ev[2 * h, 2] = person
    # mobility event
    h_out = par[PR_OUT_YOUNG] if age_head < 30 else par[PR_OUT_OTHER]
    h_emig = par[PR_EMIG_ABROAD] if hh[h, H_ABROAD] else par[PR_EMIG_NATIVE]
    band = 0 if age_head < 30 else (1 if age_head < 45 else (2 if age_head < 65 else 3))
    move = par[PR_MOVE0 + band]
    dw = hh[h, H_DW]
    rooms = d[dw, D_ROOMS]
    size = hh[h, H_SIZE]
    if size > rooms + 1:
        move += par[PR_CROWDING]
    if age_head >= 65 and rooms >= size + 3:
        move += par[PR_DOWNSIZING]
    income = household_income(hh, p, h)
    if hh[h, H_INCPREV] > 0 and income >= 1.2 * hh[h, H_INCPREV]:
        move += par[PR_INCOME_RISE]
    mz = (h_out, h_emig, min(move, 0.9))
    kind, day = pick(mz, key, hkey, DR_MOBILITY, day0, ndays)
    if kind >= 0:
        ev[2 * h + 1, 0] = day
        ev[2 * h + 1, 2] = -1
        if kind == 0:
            ev[2 * h + 1, 1] = EV_OUTMIG
        elif kind == 1:
            ev[2 * h + 1, 1] = EV_EMIG
        elif d[dw, D_TENURE] == T_RENTAL and u01(key, hkey, DR_SWAP) < par[PR_SWAP]:
            ev[2 * h + 1, 1] = EV_SWAP
        else:
            ev[2 * h + 1, 1] = EV_MOVE


@njit(inline="always", cache=True)
def pick(hz, key, ident, slot, day0, ndays):
    """Competing risks: which of the hazards ``hz`` (a tuple) fires this year (or -1), and on which day.

    Three draws of identity ``ident``: ``slot`` (whether), ``slot + 1`` (which), ``slot + 2`` (when).
    """
    total = 0.0
    for i in range(len(hz)):  # in order from 0.0, as numpy's sum of the former array: the same bits
        total += hz[i]
    if total <= 0.0:
        return -1, 0
    if u01(key, ident, slot) >= 1.0 - np.exp(-total):
        return -1, 0
    x = u01(key, ident, slot + 1) * total
    kind = 0
    acc = hz[0]
    while x >= acc and kind < len(hz) - 1:
        kind += 1
        acc += hz[kind]
    day = day0 + np.int64(u01(key, ident, slot + 2) * ndays)
    return kind, day


# ------------------------------------------------------------------ handlers (sequential)
@njit(inline="always", cache=True)
def leave_home_queue(m, q, day):
    """Queue day of young adult ``q`` leaving the parental home (alone or as a couple): a year of queue time
    for each year of age past 18, at most eight."""
    return day - 365 * min(max(m.year - m.p[q, P_BY] - 18, 0), 8)


@kernel(types.void, MARKET, I8, I8, I8)
def on_death(m, h, q, day):
    """The oldest adult of a household without children dies; a single's household dissolves."""
    hh, p = m.hh, m.p
    if p[q, P_HH] != h or p[q, P_ROLE] != ROLE_CORE or hh[h, H_LASTMOVE] == day:
        return
    size, adults, kids = composition(hh, p, h, m.year)
    if kids > 0:
        return
    dw = hh[h, H_DW]
    if size == 1:
        row = record_move(m, h, day, dw, -1, O_DWELLING, X_DISSOLVED, 1, 0, SRC_NONE, 0)
        person_event(m, q, day, PE_DEATH, dw, -1, row)
        remove_member(hh, p, h, q)
        end_household(m, h)
        if vacate(m, dw, day, row):
            drain(m, dw, day)
    else:
        person_event(m, q, day, PE_DEATH, dw, -1, -1)  # a member dies: no household move
        remove_member(hh, p, h, q)


@kernel(types.void, MARKET, I8, I8)
def on_birth(m, h, day):
    """A couple has a child; the child's key comes from the head's key and the day."""
    hh, p, par = m.hh, m.p, m.par
    if hh[h, H_CORE] != 2:
        return
    c = m.cnt[C_P]
    m.cnt[C_P] += 1
    head = hh[h, H_HEAD]
    ckey = ident(ID_BIRTH, p[head, P_KEY], day)
    p[c, P_KEY] = ckey
    p[c, P_BY] = m.year
    p[c, P_SEX] = 1 if u01(m.key, ckey, DR_SEX) < 0.512 else 0
    p[c, P_ABROAD] = 0
    p[c, P_PERM] = np.int64(0.5 * p[head, P_PERM] + 3e5 * normal(m.key, ckey, DR_PERM))
    p[c, P_INCOME] = 0
    p[c, P_INCPREV] = 0
    p[c, P_ROLE] = ROLE_CHILD
    p[c, P_SEEKER] = -1
    add_member(hh, p, h, c)
    person_event(m, c, day, PE_BIRTH, -1, hh[h, H_DW], -1)


@kernel(types.void, MARKET, I8, I8, I8, types.boolean)
def on_leave(m, h, q, day, split):
    """A young adult wants to leave home (``split`` False) or a partner to separate: a seeker."""
    hh, p, sk = m.hh, m.p, m.sk
    if p[q, P_HH] != h or p[q, P_SEEKER] >= 0 and sk[p[q, P_SEEKER], S_ACTIVE] == 1:
        return
    if not split and p[q, P_ROLE] != ROLE_CHILD:
        return
    if split and (p[q, P_ROLE] != ROLE_CORE or hh[h, H_CORE] != 2):
        return
    if not split and u01(m.key, p[q, P_KEY], DR_LEAVE_COUPLE) < m.par[PR_LEAVE_COUPLE]:
        _leave_as_couple(m, h, q, day)
        return
    age = m.year - p[q, P_BY]
    kind = SK_SPLIT if split else SK_LEAVE
    queue = hh[h, H_QUEUE] if split else leave_home_queue(m, q, day)
    s = new_seeker(m, kind, h, q, p[q, P_KEY], 1, 0, 1, age, p[q, P_INCOME], -1, 0,
                   m.d[hh[h, H_DW], D_MUNI], day, queue, -1)
    p[q, P_SEEKER] = s
    offer_seeker(m, s, day)


@kernel(types.void, MARKET, I8, I8)
def on_move(m, h, day):
    """A household wants to move within the region: a seeker with a target tenure and size."""
    hh, p, d = m.hh, m.p, m.d
    if hh[h, H_SEEKER] >= 0 and m.sk[hh[h, H_SEEKER], S_ACTIVE] == 1:
        return
    size, adults, kids = composition(hh, p, h, m.year)
    dw = hh[h, H_DW]
    s = new_seeker(m, SK_INTERNAL, h, -1, hh[h, H_KEY], size, kids, hh[h, H_CORE],
                   m.year - p[hh[h, H_HEAD], P_BY], household_income(hh, p, h), d[dw, D_TENURE],
                   d[dw, D_ROOMS], d[dw, D_MUNI], day, hh[h, H_QUEUE], -1)
    hh[h, H_SEEKER] = s
    offer_seeker(m, s, day)


@kernel(types.void, MARKET, I8, I8, types.boolean)
def on_leave_region(m, h, day, emigrate):
    """The whole household leaves for elsewhere in Sweden or abroad; its dwelling is vacated."""
    hh, p = m.hh, m.p
    if hh[h, H_LASTMOVE] == day:
        return
    dw = hh[h, H_DW]
    dest = X_EMIGRANT if emigrate else X_OUT_MIGRANT
    row = record_move(m, h, day, dw, -1, O_DWELLING, dest, 1, 0, SRC_NONE, 0)
    q = hh[h, H_FIRST]
    while q >= 0:
        nxt = p[q, P_NEXT]
        person_event(m, q, day, PE_EMIG if emigrate else PE_OUT, dw, -1, row)
        p[q, P_HH] = -1
        p[q, P_NEXT] = -1
        q = nxt
    hh[h, H_FIRST] = -1
    hh[h, H_SIZE] = 0
    end_household(m, h)
    if vacate(m, dw, day, row):
        drain(m, dw, day)


@njit(inline="always", cache=True)
def _single_free(m, h, day):
    hh = m.hh
    if hh[h, 1] == 0 or hh[h, H_CORE] != 1 or hh[h, H_LASTMOVE] == day:  # hh[h, 1]: H_ALIVE
        return False
    return hh[h, H_SIZE] == 1


@kernel(types.void, MARKET, I8, I8)
def on_couple(m, h, day):
    """Two singles of one municipality form a couple: the one in the smaller dwelling moves in.

    The first single to draw the event waits in the municipality's slot for the next one.
    """
    hh, p, d = m.hh, m.p, m.d
    if not _single_free(m, h, day):
        return
    muni = d[hh[h, H_DW], D_MUNI]
    other = m.pair[0, muni]
    if other < 0 or other == h or not _single_free(m, other, day):
        r = m.pair[2, muni]
        if r >= 0 and _leaver_free(m, r, day) and _close_in_age(m, hh[h, H_HEAD], r):
            # a young adult waiting to leave home with a partner
            m.pair[2, muni] = -1
            _seek_together(m, hh[h, H_HEAD], r, day)
            return
        m.pair[0, muni] = h
        return
    m.pair[0, muni] = -1
    ka, kb = min(hh[h, H_KEY], hh[other, H_KEY]), max(hh[h, H_KEY], hh[other, H_KEY])
    if u01x(m.key, ka, kb, DR_TOGETHER) < m.par[PR_TOGETHER]:
        _seek_together(m, hh[other, H_HEAD], hh[h, H_HEAD], day)
        return
    j, r = other, h
    if d[hh[h, H_DW], D_ROOMS] < d[hh[other, H_DW], D_ROOMS]:
        j, r = h, other
    dj = hh[j, H_DW]
    dr = hh[r, H_DW]
    row = record_move(m, j, day, dj, dr, O_DWELLING, X_DWELLING, 1, 0, SRC_NONE, 0)
    q = hh[j, H_HEAD]
    person_event(m, q, day, PE_MOVE, dj, dr, row)
    remove_member(hh, p, j, q)
    p[q, P_ROLE] = ROLE_CORE
    add_member(hh, p, r, q)
    hh[r, H_CORE] = 2
    hh[r, H_PARTNER] = q
    hh[r, H_LASTMOVE] = day  # the joined household stays put today: its newcomer just moved
    end_household(m, j)
    if vacate(m, dj, day, row):
        drain(m, dj, day)


# A young adult leaving home as a couple pairs only with a partner at most this many years apart: most
# partners are close in age, and a partner 15 or more years older reads as a parent to the ingest's
# age rule (docs/ingest.md, rule 3), which decides a mover's position when the panel's is outdated.
LEAVER_AGE_GAP = 10


@njit(inline="always", cache=True)
def _close_in_age(m, qa, qb):
    return abs(m.p[qa, P_BY] - m.p[qb, P_BY]) <= LEAVER_AGE_GAP


@njit(inline="always", cache=True)
def _leaver_free(m, q, day):
    """Whether young adult ``q`` still lives at home, seeks nothing, and its household has not moved today."""
    p = m.p
    h = p[q, P_HH]
    if h < 0 or p[q, P_ROLE] != ROLE_CHILD or m.hh[h, H_LASTMOVE] == day:
        return False
    return not (p[q, P_SEEKER] >= 0 and m.sk[p[q, P_SEEKER], S_ACTIVE] == 1)


@njit(inline="always", cache=True)
def _leave_as_couple(m, h, q, day):
    """Young adult ``q`` of household ``h`` leaves home to set up home with a partner of the municipality:
    the next single forming a couple there, or the next young adult doing the same, at most LEAVER_AGE_GAP
    years apart (else ``q`` waits)."""
    muni = m.d[m.hh[h, H_DW], D_MUNI]
    other = m.pair[0, muni]
    if other >= 0 and _single_free(m, other, day) and _close_in_age(m, m.hh[other, H_HEAD], q):
        m.pair[0, muni] = -1
        _seek_together(m, m.hh[other, H_HEAD], q, day)
        return
    r = m.pair[2, muni]
    if r >= 0 and r != q and _leaver_free(m, r, day) and m.p[r, P_HH] != h and _close_in_age(m, r, q):  # not a sibling
        m.pair[2, muni] = -1
        _seek_together(m, r, q, day)
        return
    m.pair[2, muni] = q


@kernel(types.void, MARKET, I8, I8, I8)
def _seek_together(m, qa, qb, day):
    """Persons ``qa`` and ``qb`` look for a dwelling together: one seeker for both, each staying where they
    live meanwhile. Each is a single (head of a one-person household) or a young adult at home (a child).

    The partner with a dwelling of their own carries on the household (a single before a young adult at
    home; of two alike, the older: its head is the couple's head). Two young adults: a leave-home seeker.
    """
    hh, p, d = m.hh, m.p, m.d
    la = p[qa, P_ROLE] == ROLE_CHILD
    lb = p[qb, P_ROLE] == ROLE_CHILD
    age = max(m.year - p[qa, P_BY], m.year - p[qb, P_BY])
    if (la and not lb) or (la == lb and m.year - p[qb, P_BY] > m.year - p[qa, P_BY]):
        qa, qb = qb, qa
        la, lb = lb, la
    a, b = p[qa, P_HH], p[qb, P_HH]
    income = p[qa, P_INCOME] + p[qb, P_INCOME]
    qa_queue = hh[a, H_QUEUE] if not la else leave_home_queue(m, qa, day)
    qb_queue = hh[b, H_QUEUE] if not lb else leave_home_queue(m, qb, day)
    dw = hh[a, H_DW]
    if la:
        s = new_seeker(m, SK_LEAVE, a, qa, p[qa, P_KEY], 2, 0, 2, age, income, -1, 0, d[dw, D_MUNI], day,
                       min(qa_queue, qb_queue), -1)
        p[qa, P_SEEKER] = s
    else:
        s = new_seeker(m, SK_INTERNAL, a, -1, hh[a, H_KEY], 2, 0, 2, age, income, -1, 0, d[dw, D_MUNI], day,
                       min(qa_queue, qb_queue), -1)
        hh[a, H_SEEKER] = s
    if lb:
        m.sk[s, S_LEAVER] = qb
        p[qb, P_SEEKER] = s
    else:
        m.sk[s, S_PARTNER] = b
        hh[b, H_SEEKER] = s
    offer_seeker(m, s, day)


@kernel(types.void, MARKET, I8, I8)
def on_swap(m, h, day):
    """Two rental tenants of one municipality exchange dwellings the same day (a closed cycle).
    Dwellings with an allocation rule are not swapped: the landlord lets them by their rule only
    (a swap would put a household the rule excludes, say a single in a family flat, into one)."""
    hh, d = m.hh, m.d
    if hh[h, H_LASTMOVE] == day or d[hh[h, H_DW], D_TENURE] != T_RENTAL or d[hh[h, H_DW], D_ALLOC] != 0:
        return
    muni = d[hh[h, H_DW], D_MUNI]
    o = m.pair[1, muni]
    if (o < 0 or o == h or hh[o, 1] == 0 or hh[o, H_LASTMOVE] == day
            or d[hh[o, H_DW], D_TENURE] != T_RENTAL or d[hh[o, H_DW], D_ALLOC] != 0):
        m.pair[1, muni] = h
        return
    m.pair[1, muni] = -1
    da = hh[o, H_DW]
    db = hh[h, H_DW]
    row_a = m.cnt[C_ROW0] + m.cnt[C_MV]
    record_move(m, o, day, da, db, O_DWELLING, X_DWELLING, 1, 1, row_a + 1, 0)
    record_move(m, h, day, db, da, O_DWELLING, X_DWELLING, 1, 1, row_a, 0)
    member_events(m, o, day, PE_MOVE, da, db, row_a)
    member_events(m, h, day, PE_MOVE, db, da, row_a + 1)
    hh[o, H_DW] = db
    hh[h, H_DW] = da
    d[db, D_OCC] = o
    d[da, D_OCC] = h
    d[da, D_VACDAY] = day
    d[db, D_VACDAY] = day
    d[da, D_VACROW] = row_a
    d[db, D_VACROW] = row_a + 1
    hh[o, H_SEEKER] = -1
    hh[h, H_SEEKER] = -1
