"""numba kernels of the housing-market microsimulation (private).

State lives in 2-D int64 arrays, one row per household / person / dwelling /
seeker, with the column constants below; the driver in ``simulate.py`` owns
them and grows them between years. Per year the driver calls

1. :func:`year_start` (parallel): incomes for the year and each household's
   draws of a demographic and a mobility event, with a counter-based random
   stream per (year, household) so that the thread count cannot matter;
2. :func:`simulate_year` (sequential): sorts the year's events, then walks the
   days. Each event may create a vacancy or a seeker; a new vacancy is offered
   to the seekers of its segment (tenure x rooms), a new seeker looks through
   the open vacancies. A winner's old dwelling becomes a new vacancy the same
   day -- this is the vacancy chain. Every fill records which vacancy it took
   (the ground truth).

Codes follow :mod:`flyttkedja.schema`: origins, destinations, tenures, person
event kinds are indices into its code lists.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# ------------------------------------------------------------------ columns
# households
H_DW, H_ALIVE, H_CORE, H_HEAD, H_PARTNER, H_FIRST, H_SIZE, H_QUEUE = 0, 1, 2, 3, 4, 5, 6, 7
H_SEEKER, H_LASTMOVE, H_INCPREV, H_FORMATION, H_FORMED, H_HEADBY, H_HEADSEX, H_ABROAD = (
    8, 9, 10, 11, 12, 13, 14, 15)
H_NCOL = 16
# persons
P_HH, P_NEXT, P_BY, P_SEX, P_ABROAD, P_PERM, P_INCOME, P_ROLE, P_SEEKER, P_INCPREV = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
P_NCOL = 10  # P_INCPREV: last year's income (for the register-observable move income)
ROLE_CORE, ROLE_CHILD = 0, 1
# dwellings
D_TENURE, D_ROOMS, D_AREA, D_MUNI, D_ATYPE, D_COST, D_OCC, D_STATE = 0, 1, 2, 3, 4, 5, 6, 7
D_VACDAY, D_VACROW, D_RETURN, D_DEMOLISH, D_COMPLETED, D_DEMOLISHED, D_SEQ, D_LANDLORD = (
    8, 9, 10, 11, 12, 13, 14, 15)
D_NCOL = 16
DS_OCC, DS_VAC, DS_WITHDRAWN, DS_DEMOLISHED, DS_FUTURE = 0, 1, 2, 3, 4
# seekers
S_KIND, S_HH, S_PERSON, S_TENURE, S_ROOMS, S_INCOME, S_MUNI, S_START = 0, 1, 2, 3, 4, 5, 6, 7
S_EXPIRE, S_QUEUE, S_ACTIVE, S_ARRIVAL, S_NEXT = 8, 9, 10, 11, 12
S_NCOL = 13
SK_INTERNAL, SK_LEAVE, SK_SPLIT, SK_INMIG, SK_IMMIG = 0, 1, 2, 3, 4
# arrivals (prospective in-migrant / immigrant households)
A_DAY, A_KIND, A_MUNI, A_PSTART, A_PEND, A_QUEUE = 0, 1, 2, 3, 4, 5
A_NCOL = 6
# arrival persons
AP_BY, AP_SEX, AP_ABROAD, AP_PERM, AP_ROLE = 0, 1, 2, 3, 4
AP_NCOL = 5
# moves output
M_HH, M_DAY, M_FROM, M_TO, M_ORIGIN, M_DEST, M_VAC, M_FILL = 0, 1, 2, 3, 4, 5, 6, 7
M_SIZE, M_ADULTS, M_AGE, M_INCOME, M_HTYPE, M_ABROAD, M_SRC, M_GAP = 8, 9, 10, 11, 12, 13, 14, 15
M_NCOL = 16
SRC_NEW_BUILD, SRC_NONE = -1, -2  # M_SRC when the vacancy was a completion / has no move
# person events output
E_PERSON, E_DAY, E_KIND, E_FROM, E_TO, E_ROW = 0, 1, 2, 3, 4, 5
E_NCOL = 6  # E_ROW: the household move row the event belongs to (-1: none), not published
# counters (cnt)
C_HH, C_P, C_D, C_SK, C_ROW0, C_MV, C_PE, C_WD, C_VE = 0, 1, 2, 3, 4, 5, 6, 7, 8
C_NCOL = 9
# codes from flyttkedja.schema
O_DWELLING, O_NEW_HOUSEHOLD, O_IN_MIGRANT, O_IMMIGRANT = 0, 1, 2, 3
X_DWELLING, X_OUT_MIGRANT, X_EMIGRANT, X_DISSOLVED = 0, 1, 2, 3
PE_MOVE, PE_BIRTH, PE_DEATH, PE_IN, PE_IMM, PE_OUT, PE_EMIG = 0, 1, 2, 3, 4, 5, 6
F_INITIAL, F_NEW_HOUSEHOLD, F_IN_MIGRANT, F_IMMIGRANT, F_SPLIT = 0, 1, 2, 3, 4
T_RENTAL, T_COOP, T_OWNER = 0, 1, 2
# events
EV_COMPLETE, EV_DEATH, EV_BIRTH, EV_LEAVE, EV_SEPARATE, EV_COUPLE = 0, 1, 2, 3, 4, 5
EV_MOVE, EV_OUTMIG, EV_EMIG, EV_SWAP, EV_ARRIVAL = 6, 7, 8, 9, 10
N_ROOMS = 5
N_SEG = 15  # tenure x rooms

# ------------------------------------------------------------------ parameters
# `par` is a float64 vector; simulate.PARAMS lists the names in this order.
(PR_DEATH_A, PR_DEATH_B, PR_BIRTH, PR_SEPARATION, PR_COUPLE, PR_LEAVE18, PR_LEAVE25,
 PR_OUT_YOUNG, PR_OUT_OTHER, PR_EMIG_NATIVE, PR_EMIG_ABROAD,
 PR_MOVE0, PR_MOVE1, PR_MOVE2, PR_MOVE3, PR_CROWDING, PR_DOWNSIZING, PR_INCOME_RISE, PR_SWAP,
 PR_INC0, PR_INC1, PR_INC2, PR_INC3, PR_INC4, PR_SD_YEARLY,
 PR_QW0, PR_QW1, PR_QW2, PR_QW3, PR_IW0, PR_IW1, PR_IW2, PR_IW3, PR_JITTER, PR_SAME_MUNI,
 PR_BONUS0, PR_BONUS1, PR_BONUS2, PR_BONUS3, PR_BONUS4,
 PR_PAT0, PR_PAT1, PR_PAT2, PR_PAT3, PR_PAT4,
 PR_CROSS, PR_CROSS_NEW, PR_OWNER_PREF, PR_COOP_PREF, PR_SCAN, PR_CAND,
 PR_LEFT_EMPTY, PR_DEMOLISH, PR_PRICE_CUT, PR_PRICE_FLOOR) = range(55)
N_PAR = 55

# ------------------------------------------------------------------ random numbers
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always", cache=True)
def _mix(z):
    """splitmix64 finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always", cache=True)
def _hash3(key, a, b):
    z = _mix(key ^ (np.uint64(a) * _GOLD))
    return _mix(z ^ (np.uint64(b) * np.uint64(0xD6E8FEB86659FD93)))


@njit(inline="always", cache=True)
def u01(key, a, b):
    """Counter-based uniform in [0, 1) for item ``a``, draw ``b``, stream ``key``."""
    return np.float64(_hash3(key, a, b) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(inline="always", cache=True)
def _normal(key, a, b):
    u1 = u01(key, a, b) + 1e-12
    u2 = u01(key, a, b + 1000003)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# ------------------------------------------------------------------ incomes
@njit(inline="always", cache=True)
def age_income(par, age):
    if age < 18:
        return 0.0
    if age < 25:
        return par[PR_INC0]
    if age < 35:
        return par[PR_INC1]
    if age < 55:
        return par[PR_INC2]
    if age < 65:
        return par[PR_INC3]
    return par[PR_INC4]


@njit(inline="always", cache=True)
def person_income(par, perm_micro, age, shock):
    return np.int64(age_income(par, age) * np.exp(perm_micro * 1e-6 + shock))


@njit(cache=True)
def household_income(hh, p, h):
    total = 0
    q = hh[h, H_FIRST]
    while q >= 0:
        total += p[q, P_INCOME]
        q = p[q, P_NEXT]
    return total


# ------------------------------------------------------------------ year start (parallel)
@njit(parallel=True, cache=True)
def year_start(hh, p, d, n_hh, n_p, year, day0, ndays, key, par, ev):
    """Incomes for ``year`` and each household's event draws for the year.

    ``ev`` has two rows per household (demographic, mobility) with columns
    day, kind, person; kind -1 = no event.
    """
    for h in prange(n_hh):
        if hh[h, H_ALIVE]:
            hh[h, H_INCPREV] = household_income(hh, p, h)
    for q in prange(n_p):
        if p[q, P_HH] >= 0:
            p[q, P_INCPREV] = p[q, P_INCOME]
            shock = par[PR_SD_YEARLY] * _normal(key, q, 11)
            p[q, P_INCOME] = person_income(par, p[q, P_PERM], year - p[q, P_BY], shock)
    for h in prange(n_hh):
        ev[2 * h, 1] = -1
        ev[2 * h + 1, 1] = -1
        if hh[h, H_ALIVE]:
            _draw_household(hh, p, d, h, year, day0, ndays, key, par, ev)


@njit(cache=True)
def _draw_household(hh, p, d, h, year, day0, ndays, key, par, ev):
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
    # demographic event
    hz = np.zeros(5)
    if oldest_age >= 50 and kids == 0:
        hz[0] = min(0.6, np.exp(par[PR_DEATH_A] + par[PR_DEATH_B] * oldest_age))
    if core == 2 and 22 <= female_age <= 42 and kids < 4:
        hz[1] = par[PR_BIRTH] * (0.5 if kids >= 2 else 1.0)
    if leaver >= 0:
        hz[2] = par[PR_LEAVE18] if leaver_age < 25 else par[PR_LEAVE25]
    if core == 2 and age_head < 70:
        hz[3] = par[PR_SEPARATION]
    if core == 1 and kids == 0 and 20 <= age_head <= 45:
        hz[4] = par[PR_COUPLE]
    kind, day = _pick(hz, key, h, 1, day0, ndays)
    if kind >= 0:
        ev[2 * h, 0] = day
        ev[2 * h, 1] = (EV_DEATH, EV_BIRTH, EV_LEAVE, EV_SEPARATE, EV_COUPLE)[kind]
        person = -1
        if kind == 0:
            person = oldest_core
        elif kind == 2:
            person = leaver
        elif kind == 3:
            person = hh[h, H_PARTNER]
        ev[2 * h, 2] = person
    # mobility event
    mz = np.zeros(3)
    mz[0] = par[PR_OUT_YOUNG] if age_head < 30 else par[PR_OUT_OTHER]
    mz[1] = par[PR_EMIG_ABROAD] if hh[h, H_ABROAD] else par[PR_EMIG_NATIVE]
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
    mz[2] = min(move, 0.9)
    kind, day = _pick(mz, key, h, 2, day0, ndays)
    if kind >= 0:
        ev[2 * h + 1, 0] = day
        ev[2 * h + 1, 2] = -1
        if kind == 0:
            ev[2 * h + 1, 1] = EV_OUTMIG
        elif kind == 1:
            ev[2 * h + 1, 1] = EV_EMIG
        elif d[dw, D_TENURE] == T_RENTAL and u01(key, h, 27) < par[PR_SWAP]:
            ev[2 * h + 1, 1] = EV_SWAP
        else:
            ev[2 * h + 1, 1] = EV_MOVE


@njit(inline="always", cache=True)
def _pick(hz, key, h, slot, day0, ndays):
    """Competing risks: which of the hazards fires this year (or -1), and on which day."""
    total = hz.sum()
    if total <= 0.0:
        return -1, 0
    if u01(key, h, 10 * slot) >= 1.0 - np.exp(-total):
        return -1, 0
    x = u01(key, h, 10 * slot + 1) * total
    kind = 0
    acc = hz[0]
    while x >= acc and kind < len(hz) - 1:
        kind += 1
        acc += hz[kind]
    day = day0 + np.int64(u01(key, h, 10 * slot + 2) * ndays)
    return kind, day


# ------------------------------------------------------------------ household helpers
@njit(cache=True)
def _composition(hh, p, h, year):
    """(size, adults, kids) of household ``h``."""
    size = 0
    adults = 0
    kids = 0
    q = hh[h, H_FIRST]
    while q >= 0:
        size += 1
        if year - p[q, P_BY] >= 18:
            adults += 1
        if p[q, P_ROLE] == ROLE_CHILD:
            kids += 1
        q = p[q, P_NEXT]
    return size, adults, kids


@njit(inline="always", cache=True)
def _household_type(core, kids):
    if core >= 2:
        return 3 if kids > 0 else 1
    return 2 if kids > 0 else 0


@njit(cache=True)
def _remove_member(hh, p, h, q):
    prev = -1
    r = hh[h, H_FIRST]
    while r >= 0 and r != q:
        prev = r
        r = p[r, P_NEXT]
    if prev < 0:
        hh[h, H_FIRST] = p[q, P_NEXT]
    else:
        p[prev, P_NEXT] = p[q, P_NEXT]
    p[q, P_NEXT] = -1
    p[q, P_HH] = -1
    hh[h, H_SIZE] -= 1
    if p[q, P_ROLE] == ROLE_CORE:
        hh[h, H_CORE] -= 1
        if hh[h, H_HEAD] == q:
            hh[h, H_HEAD] = hh[h, H_PARTNER]
        hh[h, H_PARTNER] = -1


@njit(cache=True)
def _add_member(hh, p, h, q):
    p[q, P_NEXT] = hh[h, H_FIRST]
    hh[h, H_FIRST] = q
    p[q, P_HH] = h
    hh[h, H_SIZE] += 1


@njit(cache=True)
def _new_household(hh, cnt, formation, day, head_by, head_sex, abroad, queue):
    h = cnt[C_HH]
    cnt[C_HH] += 1
    hh[h, :] = 0
    hh[h, H_DW] = -1
    hh[h, H_ALIVE] = 1
    hh[h, H_HEAD] = -1
    hh[h, H_PARTNER] = -1
    hh[h, H_FIRST] = -1
    hh[h, H_SEEKER] = -1
    hh[h, H_LASTMOVE] = -1
    hh[h, H_QUEUE] = queue
    hh[h, H_FORMATION] = formation
    hh[h, H_FORMED] = day
    hh[h, H_HEADBY] = head_by
    hh[h, H_HEADSEX] = head_sex
    hh[h, H_ABROAD] = abroad
    return h


# ------------------------------------------------------------------ output records
@njit(cache=True)
def _record_move(mv, cnt, hh, p, h, day, year, from_dw, to_dw, origin, dest, vacates, fills, src, gap):
    i = cnt[C_MV]
    cnt[C_MV] += 1
    size, adults, kids = _composition(hh, p, h, year)
    mv[i, M_HH] = h
    mv[i, M_DAY] = day
    mv[i, M_FROM] = from_dw
    mv[i, M_TO] = to_dw
    mv[i, M_ORIGIN] = origin
    mv[i, M_DEST] = dest
    mv[i, M_VAC] = vacates
    mv[i, M_FILL] = fills
    mv[i, M_SIZE] = size
    mv[i, M_ADULTS] = adults
    mv[i, M_AGE] = year - p[hh[h, H_HEAD], P_BY]
    mv[i, M_INCOME] = household_income(hh, p, h)
    mv[i, M_HTYPE] = _household_type(hh[h, H_CORE], kids)
    mv[i, M_ABROAD] = p[hh[h, H_HEAD], P_ABROAD]
    mv[i, M_SRC] = src
    mv[i, M_GAP] = gap
    hh[h, H_LASTMOVE] = day
    return cnt[C_ROW0] + i


@njit(cache=True)
def _person_event(pe, cnt, q, day, kind, from_dw, to_dw, row):
    i = cnt[C_PE]
    cnt[C_PE] += 1
    pe[i, E_PERSON] = q
    pe[i, E_DAY] = day
    pe[i, E_KIND] = kind
    pe[i, E_FROM] = from_dw
    pe[i, E_TO] = to_dw
    pe[i, E_ROW] = row


@njit(cache=True)
def _member_events(pe, cnt, hh, p, h, day, kind, from_dw, to_dw, row):
    q = hh[h, H_FIRST]
    while q >= 0:
        _person_event(pe, cnt, q, day, kind, from_dw, to_dw, row)
        q = p[q, P_NEXT]


# ------------------------------------------------------------------ the market
@njit(inline="always", cache=True)
def _segment(tenure, rooms):
    return tenure * N_ROOMS + rooms - 1


@njit(cache=True)
def _seeker_valid(sk, hh, p, s, day):
    """0 = gone for good, 1 = usable now, 2 = not today (moved today)."""
    if sk[s, S_ACTIVE] == 0 or sk[s, S_EXPIRE] < day:
        return 0
    kind = sk[s, S_KIND]
    if kind == SK_INTERNAL:
        h = sk[s, S_HH]
        if hh[h, H_ALIVE] == 0 or hh[h, H_SEEKER] != s:
            return 0
        return 2 if hh[h, H_LASTMOVE] == day else 1
    if kind == SK_LEAVE or kind == SK_SPLIT:
        q = sk[s, S_PERSON]
        h = p[q, P_HH]
        if h < 0 or p[q, P_SEEKER] != s:
            return 0
        if kind == SK_LEAVE and p[q, P_ROLE] != ROLE_CHILD:
            return 0
        if kind == SK_SPLIT and (p[q, P_ROLE] != ROLE_CORE or hh[h, H_CORE] != 2):
            return 0
        return 2 if hh[h, H_LASTMOVE] == day else 1
    return 1


@njit(inline="always", cache=True)
def _compatible(sk, d, s, dw, day, key, par):
    # asking rent/price falls the longer a dwelling stands empty, down to a floor
    months = (day - d[dw, D_VACDAY]) / 30.0
    cut = max(par[PR_PRICE_FLOOR], 1.0 - par[PR_PRICE_CUT] * months)
    if sk[s, S_INCOME] < d[dw, D_COST] * cut:
        return False
    if sk[s, S_MUNI] == d[dw, D_MUNI]:
        return True
    cross = par[PR_CROSS_NEW] if sk[s, S_KIND] >= SK_INMIG else par[PR_CROSS]
    return u01(key, s, dw * 4 + 1) < cross


@njit(inline="always", cache=True)
def _score(sk, d, s, dw, day, key, par):
    t = d[dw, D_TENURE]
    c = (0 if d[dw, D_LANDLORD] == 0 else 1) if t == T_RENTAL else t + 1
    q = (day - sk[s, S_QUEUE]) / 365.0
    score = par[PR_QW0 + c] * q + par[PR_IW0 + c] * np.log(max(sk[s, S_INCOME], 1000))
    score += par[PR_BONUS0 + sk[s, S_KIND]] + par[PR_JITTER] * u01(key, s, dw * 4 + 2)
    if sk[s, S_MUNI] == d[dw, D_MUNI]:
        score += par[PR_SAME_MUNI]
    return score


@njit(inline="always", cache=True)
def _seeker_segment(t, r, k, broad):
    """k-th seeker segment a vacancy of tenure t and r rooms looks in (-1: none).

    Always the same size and one room less; a vacancy that has stood empty a
    while (``broad``) also tries one room more and the other ownership tenure.
    """
    if k == 0:
        return _segment(t, r)
    if k == 1:
        return _segment(t, r - 1) if r > 1 else -1
    if not broad:
        return -1
    if k == 2:
        return _segment(t, r + 1) if r < N_ROOMS else -1
    if t == T_RENTAL:
        return -1
    other = T_OWNER if t == T_COOP else T_COOP
    if k == 3:
        return _segment(other, r)
    return _segment(other, r - 1) if r > 1 else -1


@njit(cache=True)
def _find_seeker(sk, hh, p, d, seg_head, seg_tail, dw, day, key, par, broad):
    """Best compatible seeker for vacancy ``dw`` (or -1); unlinks dead list entries."""
    best = -1
    best_score = -1e300
    scanned = 0
    found = 0
    limit = np.int64(par[PR_SCAN])
    want = np.int64(par[PR_CAND])
    t = d[dw, D_TENURE]
    r = d[dw, D_ROOMS]
    for k in range(5):
        seg = _seeker_segment(t, r, k, broad)
        if seg < 0:
            continue
        prev = -1
        s = seg_head[seg]
        while s >= 0 and scanned < limit and found < want:
            nxt = sk[s, S_NEXT]
            v = _seeker_valid(sk, hh, p, s, day)
            if v == 0:
                sk[s, S_ACTIVE] = 0
                if prev < 0:
                    seg_head[seg] = nxt
                else:
                    sk[prev, S_NEXT] = nxt
                if seg_tail[seg] == s:
                    seg_tail[seg] = prev
                s = nxt
                continue
            scanned += 1
            if v == 1 and _compatible(sk, d, s, dw, day, key, par):
                found += 1
                sc = _score(sk, d, s, dw, day, key, par)
                if sc > best_score:
                    best_score = sc
                    best = s
            prev = s
            s = nxt
    return best


@njit(cache=True)
def _find_vacancy(sk, d, ve, vhead, vtail, s, day, key, par):
    """Oldest compatible open vacancy for seeker ``s`` (or -1); unlinks stale entries."""
    scanned = 0
    limit = np.int64(par[PR_SCAN])
    t = sk[s, S_TENURE]
    r = sk[s, S_ROOMS]
    for k in range(2):
        rr = r + k
        if rr > N_ROOMS:
            break
        seg = _segment(t, rr)
        prev = -1
        e = vhead[seg]
        while e >= 0 and scanned < limit:
            nxt = ve[e, 2]
            dw = ve[e, 0]
            if d[dw, D_STATE] != DS_VAC or d[dw, D_SEQ] != ve[e, 1]:
                if prev < 0:
                    vhead[seg] = nxt
                else:
                    ve[prev, 2] = nxt
                if vtail[seg] == e:
                    vtail[seg] = prev
                e = nxt
                continue
            scanned += 1
            if _compatible(sk, d, s, dw, day, key, par):
                return dw
            prev = e
            e = nxt
    return -1


@njit(cache=True)
def _append_vacancy(d, ve, vhead, vtail, cnt, dw):
    e = cnt[C_VE]
    cnt[C_VE] += 1
    ve[e, 0] = dw
    ve[e, 1] = d[dw, D_SEQ]
    ve[e, 2] = -1
    seg = _segment(d[dw, D_TENURE], d[dw, D_ROOMS])
    if vtail[seg] < 0:
        vhead[seg] = e
    else:
        ve[vtail[seg], 2] = e
    vtail[seg] = e


@njit(cache=True)
def _append_seeker(sk, seg_head, seg_tail, s):
    seg = _segment(sk[s, S_TENURE], sk[s, S_ROOMS])
    sk[s, S_NEXT] = -1
    if seg_tail[seg] < 0:
        seg_head[seg] = s
    else:
        sk[seg_tail[seg], S_NEXT] = s
    seg_tail[seg] = s


@njit(cache=True)
def choose_target(par, cost, kind, size, kids, core, age, income, cur_tenure, cur_rooms, u1, u2, u3):
    """(tenure, rooms) a seeker looks for, given needs and income."""
    if size <= 1:
        rooms = 2 if (income > cost[T_RENTAL, 3] * 1.6 and u1 < 0.6) else 1
    elif size == 2:
        rooms = 3 if (kids == 0 and income > cost[T_COOP, 2] * 1.3 and u1 < 0.5) else 2
    else:
        rooms = min(size, N_ROOMS)
    if kind == SK_INTERNAL and cur_rooms > rooms and age < 65 and size <= cur_rooms:
        rooms = cur_rooms  # moving for other reasons than space: keep the size
    if kind == SK_INTERNAL and cur_rooms >= rooms and age < 65 and u3 < 0.5:
        rooms = min(cur_rooms + 1, N_ROOMS)  # trading up
    owner_ok = income >= cost[T_OWNER, rooms - 1]
    coop_ok = income >= cost[T_COOP, rooms - 1]
    settled = kids > 0 or core >= 2 or age >= 40
    p_owner = par[PR_OWNER_PREF]
    if cur_tenure == T_OWNER:
        p_owner = 0.5 + 0.5 * p_owner
    if owner_ok and settled and u2 < p_owner:
        return T_OWNER, rooms
    p_coop = par[PR_COOP_PREF] * (0.5 if age < 25 else 1.0)
    if cur_tenure == T_COOP:
        p_coop = 0.5 + 0.5 * p_coop
    if coop_ok and u3 < p_coop:
        return T_COOP, rooms
    return T_RENTAL, rooms


# ------------------------------------------------------------------ the year (sequential)
@njit(cache=True)
def _vacate(d, wd, cnt, dw, day, row, key, par):
    """``dw`` is left empty by move ``row``; returns True if it goes on the market.

    A small share of vacancies is withdrawn: demolished within 90 days, or
    left empty for 400-800 days (so the vacancy ends unfilled).
    """
    d[dw, D_OCC] = -1
    d[dw, D_VACDAY] = day
    d[dw, D_VACROW] = row
    d[dw, D_SEQ] += 1
    u = u01(key, row, 77)
    v = u01(key, row, 78)
    if u < par[PR_DEMOLISH] + par[PR_LEFT_EMPTY]:
        d[dw, D_STATE] = DS_WITHDRAWN
        if u < par[PR_DEMOLISH]:
            d[dw, D_DEMOLISH] = 1
            d[dw, D_RETURN] = day + 1 + np.int64(v * 90)
        else:
            d[dw, D_DEMOLISH] = 0
            d[dw, D_RETURN] = day + 400 + np.int64(v * 400)
        wd[cnt[C_WD]] = dw
        cnt[C_WD] += 1
        return False
    d[dw, D_STATE] = DS_VAC
    return True


@njit(cache=True)
def _new_seeker(sk, cnt, par, kind, h, q, tenure, rooms, income, muni, day, queue, arrival):
    s = cnt[C_SK]
    cnt[C_SK] += 1
    sk[s, S_KIND] = kind
    sk[s, S_HH] = h
    sk[s, S_PERSON] = q
    sk[s, S_TENURE] = tenure
    sk[s, S_ROOMS] = rooms
    sk[s, S_INCOME] = income
    sk[s, S_MUNI] = muni
    sk[s, S_START] = day
    sk[s, S_EXPIRE] = day + np.int64(par[PR_PAT0 + kind])
    sk[s, S_QUEUE] = queue
    sk[s, S_ACTIVE] = 1
    sk[s, S_ARRIVAL] = arrival
    sk[s, S_NEXT] = -1
    return s


@njit(cache=True)
def _match(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, s, dw, day, year, key):
    """Seeker ``s`` takes vacancy ``dw``; returns the dwelling it left on the market, or -1."""
    kind = sk[s, S_KIND]
    src = d[dw, D_VACROW]
    gap = day - d[dw, D_VACDAY]
    sk[s, S_ACTIVE] = 0
    left = -1
    if kind == SK_INTERNAL:
        h = sk[s, S_HH]
        from_dw = hh[h, H_DW]
        row = _record_move(mv, cnt, hh, p, h, day, year, from_dw, dw, O_DWELLING, X_DWELLING, 1, 1, src, gap)
        _member_events(pe, cnt, hh, p, h, day, PE_MOVE, from_dw, dw, row)
        hh[h, H_SEEKER] = -1
        hh[h, H_DW] = dw
        if _vacate(d, wd, cnt, from_dw, day, row, key, par):
            left = from_dw
    elif kind == SK_LEAVE or kind == SK_SPLIT:
        q = sk[s, S_PERSON]
        old = p[q, P_HH]
        from_dw = hh[old, H_DW]
        p[q, P_SEEKER] = -1
        _remove_member(hh, p, old, q)
        formation = F_NEW_HOUSEHOLD if kind == SK_LEAVE else F_SPLIT
        h = _new_household(hh, cnt, formation, day, p[q, P_BY], p[q, P_SEX], p[q, P_ABROAD], sk[s, S_QUEUE])
        p[q, P_ROLE] = ROLE_CORE
        _add_member(hh, p, h, q)
        hh[h, H_HEAD] = q
        hh[h, H_CORE] = 1
        hh[h, H_DW] = dw
        if kind == SK_LEAVE:
            row = _record_move(mv, cnt, hh, p, h, day, year, -1, dw, O_NEW_HOUSEHOLD, X_DWELLING, 0, 1, src, gap)
        else:
            row = _record_move(mv, cnt, hh, p, h, day, year, from_dw, dw, O_DWELLING, X_DWELLING, 0, 1, src, gap)
        _person_event(pe, cnt, q, day, PE_MOVE, from_dw, dw, row)
    else:
        a = sk[s, S_ARRIVAL]
        formation = F_IN_MIGRANT if kind == SK_INMIG else F_IMMIGRANT
        first = arr[a, A_PSTART]
        h = _new_household(hh, cnt, formation, day, ap[first, AP_BY], ap[first, AP_SEX],
                           ap[first, AP_ABROAD], arr[a, A_QUEUE])
        for j in range(arr[a, A_PEND] - 1, first - 1, -1):  # head ends first in the list
            q = cnt[C_P]
            cnt[C_P] += 1
            p[q, P_BY] = ap[j, AP_BY]
            p[q, P_SEX] = ap[j, AP_SEX]
            p[q, P_ABROAD] = ap[j, AP_ABROAD]
            p[q, P_PERM] = ap[j, AP_PERM]
            p[q, P_ROLE] = ap[j, AP_ROLE]
            p[q, P_SEEKER] = -1
            shock = par[PR_SD_YEARLY] * _normal(key, q, 11)
            p[q, P_INCOME] = person_income(par, p[q, P_PERM], year - p[q, P_BY], shock)
            p[q, P_INCPREV] = 0
            _add_member(hh, p, h, q)
            if ap[j, AP_ROLE] == ROLE_CORE:
                hh[h, H_CORE] += 1
                if j == first:
                    hh[h, H_PARTNER] = hh[h, H_HEAD]
                    hh[h, H_HEAD] = q
                else:
                    hh[h, H_HEAD] = q
        hh[h, H_DW] = dw
        origin = O_IN_MIGRANT if kind == SK_INMIG else O_IMMIGRANT
        row = _record_move(mv, cnt, hh, p, h, day, year, -1, dw, origin, X_DWELLING, 0, 1, src, gap)
        _member_events(pe, cnt, hh, p, h, day, PE_IN if kind == SK_INMIG else PE_IMM, -1, dw, row)
    if d[dw, D_TENURE] == T_RENTAL and d[dw, D_LANDLORD] == 0:
        hh[h, H_QUEUE] = day  # queue points are used up
    d[dw, D_STATE] = DS_OCC
    d[dw, D_OCC] = h
    d[dw, D_SEQ] += 1
    return left


@njit(cache=True)
def _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq, dw,
           day, year, key):
    """Offer vacancy ``dw`` and every vacancy its filling opens, the same day."""
    head = 0
    tail = 0
    vq[tail] = dw
    tail += 1
    while head < tail:
        v = vq[head]
        head += 1
        s = _find_seeker(sk, hh, p, d, shead, stail, v, day, key, par, False)
        if s < 0:
            _append_vacancy(d, ve, vhead, vtail, cnt, v)
            continue
        left = _match(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, s, v, day, year, key)
        if left >= 0:
            vq[tail] = left
            tail += 1


@njit(cache=True)
def _offer_seeker(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq, s,
                  day, year, key):
    """A new seeker looks through the open vacancies; joins its segment's list if none fits."""
    if _seeker_valid(sk, hh, p, s, day) == 1:
        dw = _find_vacancy(sk, d, ve, vhead, vtail, s, day, key, par)
        if dw >= 0:
            left = _match(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, s, dw, day, year, key)
            if left >= 0:
                _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                       left, day, year, key)
            return
    _append_seeker(sk, shead, stail, s)


@njit(cache=True)
def _sweep(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq, day, year, key):
    """Weekly: vacancies empty for 30 days or more are offered to a wider circle of seekers."""
    for seg in range(N_SEG):
        e = vhead[seg]
        while e >= 0:
            nxt = ve[e, 2]
            dw = ve[e, 0]
            if d[dw, D_STATE] == DS_VAC and d[dw, D_SEQ] == ve[e, 1] and day - d[dw, D_VACDAY] >= 30:
                s = _find_seeker(sk, hh, p, d, shead, stail, dw, day, key, par, True)
                if s >= 0:
                    left = _match(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, s, dw, day, year, key)
                    if left >= 0:
                        _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                               left, day, year, key)
            e = nxt


@njit(cache=True)
def _leave_region(hh, p, d, cnt, mv, pe, wd, h, day, year, dest, pe_kind, key, par):
    dw = hh[h, H_DW]
    row = _record_move(mv, cnt, hh, p, h, day, year, dw, -1, O_DWELLING, dest, 1, 0, SRC_NONE, 0)
    q = hh[h, H_FIRST]
    while q >= 0:
        nxt = p[q, P_NEXT]
        _person_event(pe, cnt, q, day, pe_kind, dw, -1, row)
        p[q, P_HH] = -1
        p[q, P_NEXT] = -1
        q = nxt
    hh[h, H_FIRST] = -1
    hh[h, H_SIZE] = 0
    hh[h, H_ALIVE] = 0
    hh[h, H_DW] = -1
    hh[h, H_SEEKER] = -1
    return _vacate(d, wd, cnt, dw, day, row, key, par)


@njit(cache=True)
def _single_free(hh, p, h, day, year):
    if hh[h, H_ALIVE] == 0 or hh[h, H_CORE] != 1 or hh[h, H_LASTMOVE] == day:
        return False
    size, adults, kids = _composition(hh, p, h, year)
    return kids == 0


@njit(cache=True)
def simulate_year(hh, p, d, sk, cnt, par, cost, year, day0, ndays, key, ev, nb, arr, ap, mv, pe, wd, ve):
    """Run one year of the market; appends to ``mv``/``pe`` and updates the state in place.

    ``nb`` holds (dwelling, completion day[, programme flag]) of the year's new builds; ``arr``
    the year's prospective arrivals and ``ap`` their persons.
    """
    n_hh0 = cnt[C_HH]
    # seekers carried over from last year, in their original order
    shead = np.full(N_SEG, -1, np.int64)
    stail = np.full(N_SEG, -1, np.int64)
    for s in range(cnt[C_SK]):
        if sk[s, S_ACTIVE] == 1 and sk[s, S_EXPIRE] >= day0:
            _append_seeker(sk, shead, stail, s)
        else:
            sk[s, S_ACTIVE] = 0
    # open vacancies, oldest first
    vhead = np.full(N_SEG, -1, np.int64)
    vtail = np.full(N_SEG, -1, np.int64)
    cnt[C_VE] = 0
    n_d = cnt[C_D]
    open_dw = np.empty(n_d, np.int64)
    n_open = 0
    for dw in range(n_d):
        if d[dw, D_STATE] == DS_VAC:
            open_dw[n_open] = dw
            n_open += 1
    open_dw = open_dw[:n_open]
    order = np.argsort(d[open_dw, D_VACDAY], kind="mergesort")
    for i in range(n_open):
        _append_vacancy(d, ve, vhead, vtail, cnt, open_dw[order[i]])
    # the year's events in date order (completions first within a day, then shuffled)
    n_ev = 0
    for i in range(2 * n_hh0):
        if ev[i, 1] >= 0:
            n_ev += 1
    n_all = n_ev + nb.shape[0] + arr.shape[0]
    e_day = np.empty(n_all, np.int64)
    e_kind = np.empty(n_all, np.int64)
    e_a = np.empty(n_all, np.int64)
    e_q = np.empty(n_all, np.int64)
    k = 0
    for i in range(2 * n_hh0):
        if ev[i, 1] >= 0:
            e_day[k] = ev[i, 0]
            e_kind[k] = ev[i, 1]
            e_a[k] = i // 2
            e_q[k] = ev[i, 2]
            k += 1
    # a third column of nb marks a scenario programme's dwellings: they are listed after the
    # arrivals, so that every other event keeps its index (and random draws) in the list
    for extra in range(2 if nb.shape[1] > 2 else 1):
        for i in range(nb.shape[0]):
            if (nb[i, 2] if nb.shape[1] > 2 else 0) != extra:
                continue
            e_day[k] = nb[i, 1]
            e_kind[k] = EV_COMPLETE
            e_a[k] = nb[i, 0]
            e_q[k] = -1
            k += 1
        if extra == 1:
            break
        for i in range(arr.shape[0]):
            e_day[k] = arr[i, A_DAY]
            e_kind[k] = EV_ARRIVAL
            e_a[k] = i
            e_q[k] = -1
            k += 1
    sort_key = np.empty(n_all, np.int64)
    mask39 = np.uint64((1 << 39) - 1)
    for i in range(n_all):
        prio = 0 if e_kind[i] == EV_COMPLETE else 1
        jit = np.int64(_hash3(key, i, 99) & mask39)
        sort_key[i] = ((e_day[i] - day0) << 40) | (prio << 39) | jit
    order = np.argsort(sort_key, kind="mergesort")
    vq = np.empty(d.shape[0] + 1, np.int64)
    couple_slot = -1
    swap_slot = -1
    pos = 0
    for day in range(day0, day0 + ndays):
        i = 0
        while i < cnt[C_WD]:  # withdrawn dwellings coming back or being demolished
            dw = wd[i]
            if d[dw, D_RETURN] > day:
                i += 1
                continue
            cnt[C_WD] -= 1
            wd[i] = wd[cnt[C_WD]]
            if d[dw, D_DEMOLISH] == 1:
                d[dw, D_STATE] = DS_DEMOLISHED
                d[dw, D_DEMOLISHED] = day
            else:
                d[dw, D_STATE] = DS_VAC
                d[dw, D_SEQ] += 1
                _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                       dw, day, year, key)
        if (day - day0) % 7 == 6:
            _sweep(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                   day, year, key)
        while pos < n_all and e_day[order[pos]] == day:
            e = order[pos]
            pos += 1
            kind = e_kind[e]
            a = e_a[e]
            q = e_q[e]
            if kind == EV_COMPLETE:
                d[a, D_STATE] = DS_VAC
                d[a, D_COMPLETED] = day
                d[a, D_VACDAY] = day
                d[a, D_VACROW] = SRC_NEW_BUILD
                d[a, D_SEQ] += 1
                _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                       a, day, year, key)
                continue
            if kind == EV_ARRIVAL:
                first = arr[a, A_PSTART]
                size = arr[a, A_PEND] - first
                core = 0
                income = 0
                for j in range(first, arr[a, A_PEND]):
                    if ap[j, AP_ROLE] == ROLE_CORE:
                        core += 1
                        shock = par[PR_SD_YEARLY] * _normal(key, n_hh0 + j, 13)
                        income += person_income(par, ap[j, AP_PERM], year - ap[j, AP_BY], shock)
                age = year - ap[first, AP_BY]
                sk_kind = SK_INMIG if arr[a, A_KIND] == 0 else SK_IMMIG
                s_id = cnt[C_SK]
                t, r = choose_target(par, cost, sk_kind, size, size - core, core, age, income, -1, 0,
                                     u01(key, s_id, 201), u01(key, s_id, 202), u01(key, s_id, 203))
                s = _new_seeker(sk, cnt, par, sk_kind, -1, -1, t, r, income, arr[a, A_MUNI], day,
                                arr[a, A_QUEUE], a)
                _offer_seeker(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail,
                              vq, s, day, year, key)
                continue
            h = a
            if hh[h, H_ALIVE] == 0:
                continue
            moved_today = hh[h, H_LASTMOVE] == day
            if kind == EV_DEATH:
                if p[q, P_HH] != h or p[q, P_ROLE] != ROLE_CORE or moved_today:
                    continue
                size, adults, kids = _composition(hh, p, h, year)
                if kids > 0:
                    continue
                dw = hh[h, H_DW]
                if size == 1:
                    row = _record_move(mv, cnt, hh, p, h, day, year, dw, -1, O_DWELLING, X_DISSOLVED, 1, 0,
                                       SRC_NONE, 0)
                    _person_event(pe, cnt, q, day, PE_DEATH, dw, -1, row)
                    _remove_member(hh, p, h, q)
                    hh[h, H_ALIVE] = 0
                    hh[h, H_DW] = -1
                    hh[h, H_SEEKER] = -1
                    if _vacate(d, wd, cnt, dw, day, row, key, par):
                        _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail,
                               vq, dw, day, year, key)
                else:
                    _person_event(pe, cnt, q, day, PE_DEATH, dw, -1, -1)  # a member dies: no household move
                    _remove_member(hh, p, h, q)
            elif kind == EV_BIRTH:
                if hh[h, H_CORE] != 2:
                    continue
                c = cnt[C_P]
                cnt[C_P] += 1
                p[c, P_BY] = year
                p[c, P_SEX] = 1 if u01(key, c, 301) < 0.512 else 0
                p[c, P_ABROAD] = 0
                p[c, P_PERM] = np.int64(0.5 * p[hh[h, H_HEAD], P_PERM] + 3e5 * _normal(key, c, 302))
                p[c, P_INCOME] = 0
                p[c, P_INCPREV] = 0
                p[c, P_ROLE] = ROLE_CHILD
                p[c, P_SEEKER] = -1
                _add_member(hh, p, h, c)
                _person_event(pe, cnt, c, day, PE_BIRTH, -1, hh[h, H_DW], -1)
            elif kind == EV_LEAVE or kind == EV_SEPARATE:
                if p[q, P_HH] != h or p[q, P_SEEKER] >= 0 and sk[p[q, P_SEEKER], S_ACTIVE] == 1:
                    continue
                if kind == EV_LEAVE and p[q, P_ROLE] != ROLE_CHILD:
                    continue
                if kind == EV_SEPARATE and (p[q, P_ROLE] != ROLE_CORE or hh[h, H_CORE] != 2):
                    continue
                age = year - p[q, P_BY]
                income = p[q, P_INCOME]
                s_id = cnt[C_SK]
                sk_kind = SK_LEAVE if kind == EV_LEAVE else SK_SPLIT
                t, r = choose_target(par, cost, sk_kind, 1, 0, 1, age, income, -1, 0,
                                     u01(key, s_id, 201), u01(key, s_id, 202), u01(key, s_id, 203))
                queue = day - 365 * min(max(age - 18, 0), 8) if kind == EV_LEAVE else hh[h, H_QUEUE]
                s = _new_seeker(sk, cnt, par, sk_kind, h, q, t, r, income, d[hh[h, H_DW], D_MUNI], day,
                                queue, -1)
                p[q, P_SEEKER] = s
                _offer_seeker(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail,
                              vq, s, day, year, key)
            elif kind == EV_MOVE:
                if hh[h, H_SEEKER] >= 0 and sk[hh[h, H_SEEKER], S_ACTIVE] == 1:
                    continue
                size, adults, kids = _composition(hh, p, h, year)
                dw = hh[h, H_DW]
                income = household_income(hh, p, h)
                s_id = cnt[C_SK]
                t, r = choose_target(par, cost, SK_INTERNAL, size, kids, hh[h, H_CORE],
                                     year - p[hh[h, H_HEAD], P_BY], income, d[dw, D_TENURE], d[dw, D_ROOMS],
                                     u01(key, s_id, 201), u01(key, s_id, 202), u01(key, s_id, 203))
                s = _new_seeker(sk, cnt, par, SK_INTERNAL, h, -1, t, r, income, d[dw, D_MUNI], day,
                                hh[h, H_QUEUE], -1)
                hh[h, H_SEEKER] = s
                _offer_seeker(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail,
                              vq, s, day, year, key)
            elif kind == EV_OUTMIG or kind == EV_EMIG:
                if moved_today:
                    continue
                dest = X_OUT_MIGRANT if kind == EV_OUTMIG else X_EMIGRANT
                dw = hh[h, H_DW]
                if _leave_region(hh, p, d, cnt, mv, pe, wd, h, day, year, dest,
                                 PE_OUT if kind == EV_OUTMIG else PE_EMIG, key, par):
                    _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                           dw, day, year, key)
            elif kind == EV_COUPLE:
                if not _single_free(hh, p, h, day, year):
                    continue
                if couple_slot < 0 or couple_slot == h or not _single_free(hh, p, couple_slot, day, year):
                    couple_slot = h
                    continue
                j, r_ = couple_slot, h  # the one in the smaller dwelling moves in with the other
                if d[hh[h, H_DW], D_ROOMS] < d[hh[couple_slot, H_DW], D_ROOMS]:
                    j, r_ = h, couple_slot
                couple_slot = -1
                dj = hh[j, H_DW]
                dr = hh[r_, H_DW]
                row = _record_move(mv, cnt, hh, p, j, day, year, dj, dr, O_DWELLING, X_DWELLING, 1, 0,
                                   SRC_NONE, 0)
                q = hh[j, H_HEAD]
                _person_event(pe, cnt, q, day, PE_MOVE, dj, dr, row)
                _remove_member(hh, p, j, q)
                p[q, P_ROLE] = ROLE_CORE
                _add_member(hh, p, r_, q)
                hh[r_, H_CORE] = 2
                hh[r_, H_PARTNER] = q
                hh[r_, H_LASTMOVE] = day  # the joined household stays put today: its newcomer just moved
                hh[j, H_ALIVE] = 0
                hh[j, H_DW] = -1
                hh[j, H_SEEKER] = -1
                if _vacate(d, wd, cnt, dj, day, row, key, par):
                    _drain(hh, p, d, sk, cnt, mv, pe, wd, arr, ap, par, ve, vhead, vtail, shead, stail, vq,
                           dj, day, year, key)
            elif kind == EV_SWAP:
                if moved_today or d[hh[h, H_DW], D_TENURE] != T_RENTAL:
                    continue
                o = swap_slot
                if (o < 0 or o == h or hh[o, H_ALIVE] == 0 or hh[o, H_LASTMOVE] == day
                        or d[hh[o, H_DW], D_TENURE] != T_RENTAL):
                    swap_slot = h
                    continue
                swap_slot = -1
                da = hh[o, H_DW]
                db = hh[h, H_DW]
                row_a = cnt[C_ROW0] + cnt[C_MV]
                _record_move(mv, cnt, hh, p, o, day, year, da, db, O_DWELLING, X_DWELLING, 1, 1, row_a + 1, 0)
                _record_move(mv, cnt, hh, p, h, day, year, db, da, O_DWELLING, X_DWELLING, 1, 1, row_a, 0)
                _member_events(pe, cnt, hh, p, o, day, PE_MOVE, da, db, row_a)
                _member_events(pe, cnt, hh, p, h, day, PE_MOVE, db, da, row_a + 1)
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
    return pos
