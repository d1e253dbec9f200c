"""The housing market: seekers, vacancies, matching and the same-day chain (private numba kernels).

A new vacancy is offered to the seekers of its segment (:func:`drain`); a new
seeker looks through the open vacancies (:func:`offer_seeker`). A winner's old
dwelling becomes a new vacancy the same day -- this is the vacancy chain.
Every fill records which vacancy it took (the ground truth).

Every random draw is keyed to stable identities (seeker key, dwelling key,
day): a seeker's chance to accept a dwelling in another municipality and its
score noise for a dwelling are the same in every run where both exist.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from flyttkedja._random import normal, u01x
from flyttkedja.synth._state import (
    A_KIND, A_PEND, A_PSTART, A_QUEUE, D_ATYPE, DR_AREA, PR_AREA_REACH, PR_COUPLE_NEW, PR_START_HELP, S_ATYPE, AL_FAMILIES, AL_LOW_INCOME, AL_SENIORS, AL_YOUNG, AP_ABROAD,
    AP_BY, AP_KEY, AP_PERM, AP_ROLE, AP_SEX, A_KEY, A_MUNI, C_MV, C_SK, C_VE, C_WD, C_P, D_ALLOC, D_CEILING, D_COST,
    D_COMPLETED, D_DEMOLISH, D_DEMOLISHED, D_KEY, D_LANDLORD, D_MUNI, D_OCC, D_RETURN, D_ROOMS, D_SEQ, D_STATE, D_TENURE, D_VACDAY,
    D_VACROW, DR_CROSS, DR_INCOME, DR_JITTER, DR_TARGET, DR_WITHDRAW, DS_DEMOLISHED, DS_OCC, DS_VAC, DS_WITHDRAWN,
    F_IMMIGRANT, F_IN_MIGRANT, F_NEW_HOUSEHOLD, F_SPLIT, H_ALIVE, H_CORE, H_DW, H_FIRST, H_HEAD, H_KEY,
    H_LASTMOVE, H_PARTNER, H_QUEUE, H_SEEKER, H_SIZE, ID_FORMED, M_SINC, ID_SEEKER, BAND_BASE, BAND_STEP, N_ATYPE, N_BAND, N_GROUP, N_ROOMS, N_SEG, O_DWELLING,
    O_IMMIGRANT, O_IN_MIGRANT, O_NEW_HOUSEHOLD, P_ABROAD, P_BY, P_HH, P_INCOME, P_INCPREV, P_KEY, P_NEXT, P_PERM,
    P_ROLE, P_SEEKER, P_SEX, PE_IMM, PE_IN, PE_MOVE, PR_BONUS0, PR_CAND, PR_COOP_PREF, PR_CROSS,
    PR_CROSS_NEW, PR_DEMOLISH, PR_IW0, PR_JITTER, PR_LEFT_EMPTY, PR_OWNER_PREF, PR_PAT0, PR_PRICE_CUT,
    PR_PRICE_FLOOR, PR_PRIVATE_INCOME, PR_QW0, PR_SAME_MUNI, PR_SCAN, PR_SD_YEARLY, ROLE_CHILD, ROLE_CORE, S_ACTIVE,
    S_ARRIVAL, S_EXPIRE, S_HH, S_INCOME, S_KEY, S_KIND, S_LEAVER, S_MUNI, S_NEXT, S_PARTNER, S_PERSON, S_QUEUE, S_REACH, S_ROOMS, S_WIDE, S_PAY,
    S_START, S_TENURE, SK_IMMIG, SRC_NEW_BUILD, SRC_NONE, SK_INMIG, SK_INTERNAL, SK_LEAVE, SK_SPLIT, T_COOP, T_OWNER, T_RENTAL,
    X_DWELLING, A1, A2, I8, MARKET, add_member, end_household, ident, member_events, new_household, person_event, person_income,
    kernel, record_move, remove_member,
)


# ------------------------------------------------------------------ segments and lists
@njit(inline="always", cache=True)
def segment(tenure, rooms):
    return tenure * N_ROOMS + rooms - 1


@njit(inline="always", cache=True)
def seeker_segment(t, r, k, broad):
    """k-th seeker segment a vacancy of tenure t and r rooms looks in (-1: none).

    Always the same size and one room less; a vacancy that has stood empty a
    while (``broad``) also tries one room more and the other ownership tenure.
    """
    if k == 0:
        return segment(t, r)
    if k == 1:
        return segment(t, r - 1) if r > 1 else -1
    if not broad:
        return -1
    if k == 2:
        return segment(t, r + 1) if r < N_ROOMS else -1
    if t == T_RENTAL:
        return -1
    other = T_OWNER if t == T_COOP else T_COOP
    if k == 3:
        return segment(other, r)
    return segment(other, r - 1) if r > 1 else -1


@njit(inline="always", cache=True)
def vacancy_list(seg, muni, atype, n_muni):
    """Index of the vacancy list of segment ``seg``, municipality ``muni`` and area type ``atype``."""
    return (seg * n_muni + muni) * N_ATYPE + atype


@kernel(types.void, MARKET, I8, python=True)
def append_vacancy(m, dw):
    e = m.cnt[C_VE]
    m.cnt[C_VE] += 1
    m.ve[e, 0] = dw
    m.ve[e, 1] = m.d[dw, D_SEQ]
    m.ve[e, 2] = -1
    n_muni = m.vhead.shape[0] // (N_SEG * N_ATYPE)
    lst = vacancy_list(segment(m.d[dw, D_TENURE], m.d[dw, D_ROOMS]), m.d[dw, D_MUNI], m.d[dw, D_ATYPE], n_muni)
    if m.vtail[lst] < 0:
        m.vhead[lst] = e
    else:
        m.ve[m.vtail[lst], 2] = e
    m.vtail[lst] = e


@njit(inline="always", cache=True)
def seeker_list(seg, scope, group, n_scope):
    """Index of the seeker list of segment ``seg``, scope ``scope`` and group ``group`` (see N_GROUP)."""
    return (seg * n_scope + scope) * N_GROUP + group


@njit(inline="always", cache=True)
def reach_radius(u, reach):
    """Area-type steps a seeker looks from its own, from a uniform ``u``: P(radius >= k) = reach ** k."""
    radius = 0
    x = reach
    while radius < N_ATYPE - 1 and u < x:
        radius += 1
        x *= reach
    return radius


@njit(inline="always", cache=True)
def income_band(x):
    """Income band (0 .. N_BAND - 1) of an amount one can pay, ``x`` (see N_BAND)."""
    if x < BAND_BASE:
        return 0
    return min(N_BAND - 1, 1 + np.int64(np.log(x / BAND_BASE) / np.log(BAND_STEP)))


@kernel(types.void, A2, A1, A1, A1, A1, I8, python=True)
def append_seeker(sk, seg_head, seg_tail, seg_pay, seg_count, s):
    n_scope = seg_head.shape[0] // (N_SEG * N_GROUP)
    scope = n_scope - 1 if sk[s, S_WIDE] == 1 else sk[s, S_MUNI]
    a = sk[s, S_ATYPE]
    band = income_band(sk[s, S_PAY])
    seg = segment(sk[s, S_TENURE], sk[s, S_ROOMS])
    lst = seeker_list(seg, scope, band * (N_ATYPE * N_ATYPE + 1) + (a * N_ATYPE + sk[s, S_REACH] if a >= 0
                                                                    else N_ATYPE * N_ATYPE), n_scope)
    seg_count[(seg * n_scope + scope) * N_BAND + band] += 1
    sk[s, S_NEXT] = -1
    if seg_tail[lst] < 0:
        seg_head[lst] = s
        seg_pay[lst] = sk[s, S_PAY]
    else:
        sk[seg_tail[lst], S_NEXT] = s
        seg_pay[lst] = max(seg_pay[lst], sk[s, S_PAY])
    seg_tail[lst] = s


# ------------------------------------------------------------------ who may take what
@njit(inline="always", cache=True)
def is_couple(sk, s):
    """Whether seeker ``s`` is a couple looking for a dwelling together (docs/synthetic.md, "Couples")."""
    return sk[s, S_PARTNER] >= 0 or sk[s, S_LEAVER] >= 0


@njit(inline="always", cache=True)
def _leaver_valid(hh, p, s, q, day):
    """A young adult ``q`` still at home and waiting for seeker ``s``: 0 gone, 1 usable, 2 not today."""
    h = p[q, P_HH]
    if h < 0 or p[q, P_SEEKER] != s or p[q, P_ROLE] != ROLE_CHILD:
        return 0
    return 2 if hh[h, H_LASTMOVE] == day else 1


@njit(inline="always", cache=True)
def seeker_valid(sk, hh, p, s, day):
    """0 = gone for good, 1 = usable now, 2 = not today (moved today)."""
    if sk[s, S_ACTIVE] == 0 or sk[s, S_EXPIRE] < day:
        return 0
    kind = sk[s, S_KIND]
    v = 1
    if kind == SK_INTERNAL:
        h = sk[s, S_HH]
        if hh[h, H_ALIVE] == 0 or hh[h, H_SEEKER] != s:
            return 0
        b = sk[s, S_PARTNER]
        if b >= 0:  # a couple moving in together: both still single and waiting for it
            if (hh[b, H_ALIVE] == 0 or hh[b, H_SEEKER] != s or hh[b, H_SIZE] != 1 or hh[h, H_SIZE] != 1
                    or hh[h, H_CORE] != 1 or hh[b, H_CORE] != 1):
                return 0
            if hh[b, H_LASTMOVE] == day:
                return 2
        if sk[s, S_LEAVER] >= 0 and (hh[h, H_SIZE] != 1 or hh[h, H_CORE] != 1):
            return 0  # a single moving in together with a partner from the parental home: still single
        v = 2 if hh[h, H_LASTMOVE] == day else 1
    elif kind == SK_LEAVE or kind == SK_SPLIT:
        q = sk[s, S_PERSON]
        h = p[q, P_HH]
        if h < 0 or p[q, P_SEEKER] != s:
            return 0
        if kind == SK_LEAVE and p[q, P_ROLE] != ROLE_CHILD:
            return 0
        if kind == SK_SPLIT and (p[q, P_ROLE] != ROLE_CORE or hh[h, H_CORE] != 2):
            return 0
        v = 2 if hh[h, H_LASTMOVE] == day else 1
    else:
        return 1
    q = sk[s, S_LEAVER]
    if q >= 0:  # the partner leaving the parental home
        w = _leaver_valid(hh, p, s, q, day)
        if w == 0:
            return 0
        if w == 2:
            v = 2
    return v


@njit(inline="always", cache=True)
def seeker_head(sk, hh, p, arr, ap, year, s):
    """(age of the head, children) of the household seeker ``s`` would move in as, today."""
    kind = sk[s, S_KIND]
    if kind == SK_INTERNAL:
        h = sk[s, S_HH]
        return year - p[hh[h, H_HEAD], P_BY], hh[h, H_SIZE] - hh[h, H_CORE]
    if kind == SK_LEAVE or kind == SK_SPLIT:
        return year - p[sk[s, S_PERSON], P_BY], 0
    a = sk[s, S_ARRIVAL]
    kids = 0
    for j in range(arr[a, A_PSTART], arr[a, A_PEND]):
        if ap[j, AP_ROLE] == ROLE_CHILD:
            kids += 1
    return year - ap[arr[a, A_PSTART], AP_BY], kids


@njit(cache=True, _nrt=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)  # called from kernels only: no Python wrapper
def eligible(sk, hh, p, d, arr, ap, year, s, dw):
    """Whether seeker ``s`` meets dwelling ``dw``'s allocation rule (docs/synthetic.md).

    An allocated dwelling is let only to a household already living in the region: the
    municipality's or landlord's queue, or its social services, allocate it, so an arrival
    (in-migrant or immigrant seeker, who settles only if it finds) is never eligible.
    """
    rule = d[dw, D_ALLOC]
    if rule == 0:
        return True
    if sk[s, S_KIND] >= SK_INMIG:
        return False
    if rule == AL_LOW_INCOME:
        return sk[s, S_INCOME] < d[dw, D_CEILING]
    age, kids = seeker_head(sk, hh, p, arr, ap, year, s)
    if rule == AL_SENIORS:
        return age >= 65
    if rule == AL_YOUNG:
        return 18 <= age <= 29
    if rule == AL_FAMILIES:
        return kids > 0
    return False


@njit(inline="always", cache=True)
def buying_power(par, kind, tenure):
    """Factor on a seeker's income for what it can pay: young adults leaving home and separating
    partners buy (cooperative, owner) with more than their income -- parents' help, a partner's equity."""
    if tenure != T_RENTAL and (kind == SK_LEAVE or kind == SK_SPLIT):
        return par[PR_START_HELP]
    return 1.0


# The scan loops below are the simulator's hottest code (tens of millions of list entries in a
# metro run). They take the arrays they read one by one rather than the whole Market: a
# Market argument is some 170 machine words that stay live across the loop.
@njit(inline="always", cache=True)
def reaches(sk, d, s, dw):
    """Whether seeker ``s`` looks where ``dw`` is: its municipality (or every one), its area type or one at most
    ``S_REACH`` steps away (a household arriving from outside looks in every area type)."""
    if sk[s, S_WIDE] == 0 and sk[s, S_MUNI] != d[dw, D_MUNI]:
        return False
    a = sk[s, S_ATYPE]
    return a < 0 or abs(d[dw, D_ATYPE] - a) <= sk[s, S_REACH]


@njit(inline="always", cache=True)
def asking(d, par, dw, day):
    """The income (times buying power) a seeker needs for ``dw`` today."""
    # asking rent/price falls the longer a dwelling stands empty, down to a floor
    months = (day - d[dw, D_VACDAY]) / 30.0
    need = d[dw, D_COST] * max(par[PR_PRICE_FLOOR], 1.0 - par[PR_PRICE_CUT] * months)
    if d[dw, D_TENURE] == T_RENTAL and d[dw, D_LANDLORD] != 0:
        need *= par[PR_PRIVATE_INCOME]  # a private landlord's income requirement
    return need


@njit(inline="always", cache=True)
def can_pay(sk, par, s, tenure, need):
    """Whether seeker ``s`` can pay ``need`` (:func:`asking`) for a dwelling of ``tenure``."""
    return sk[s, S_INCOME] * buying_power(par, sk[s, S_KIND], tenure) >= need


@njit(inline="always", cache=True)
def allowed(sk, hh, p, d, arr, ap, year, s, dw):
    """Whether ``dw``'s allocation rule (if any) lets seeker ``s`` have it."""
    return d[dw, D_ALLOC] == 0 or eligible(sk, hh, p, d, arr, ap, year, s, dw)


@njit(inline="always", cache=True)
def affordable(sk, hh, p, d, arr, ap, par, year, s, dw, day):
    """Whether seeker ``s`` can pay for ``dw`` today and meets its landlord's rules (income, allocation)."""
    return can_pay(sk, par, s, d[dw, D_TENURE], asking(d, par, dw, day)) and allowed(sk, hh, p, d, arr, ap, year, s, dw)


@njit(inline="always", cache=True)
def compatible(sk, hh, p, d, arr, ap, par, year, s, dw, day):
    """Whether seeker ``s`` can and would take ``dw`` today."""
    return reaches(sk, d, s, dw) and affordable(sk, hh, p, d, arr, ap, par, year, s, dw, day)


@njit(inline="always", cache=True)
def score(sk, d, par, key, s, dw, day):
    t = d[dw, D_TENURE]
    c = (0 if d[dw, D_LANDLORD] == 0 else 1) if t == T_RENTAL else t + 1
    q = (day - sk[s, S_QUEUE]) / 365.0
    sc = par[PR_QW0 + c] * q + par[PR_IW0 + c] * np.log(max(sk[s, S_INCOME], 1000))
    sc += par[PR_BONUS0 + sk[s, S_KIND]] + par[PR_JITTER] * u01x(key, sk[s, S_KEY], d[dw, D_KEY], DR_JITTER)
    if sk[s, S_MUNI] == d[dw, D_MUNI]:
        sc += par[PR_SAME_MUNI]
    if is_couple(sk, s) and d[dw, D_VACROW] == SRC_NEW_BUILD:
        sc += par[PR_COUPLE_NEW]  # a couple setting up home together goes for a new flat first
    return sc


@kernel(I8, MARKET, I8, I8, types.boolean, python=True)
def find_seeker(m, dw, day, broad):
    """Best compatible seeker for vacancy ``dw`` (or -1); unlinks dead list entries."""
    return scan_seekers(m.sk, m.hh, m.p, m.d, m.arr, m.ap, m.par, m.key, m.year, m.shead, m.stail, m.spay,
                        m.scount, dw, day, broad)


@njit(inline="always", cache=True)
def _walk_seekers(sk, hh, p, d, arr, ap, par, key, year, seg_head, seg_tail, seg_pay, seg_count, cnt_i, lst, need,
                  dw, day, best,
                  best_score, scanned, found, limit, want):
    """One seeker list of :func:`scan_seekers`, oldest first, until the window is full; unlinks dead entries.

    A list whose bound (``seg_pay``) is below ``need`` holds no seeker who can pay and is skipped; a walk
    to the end of a list tightens its bound to its live seekers. Neither changes which seekers are
    examined among those who can pay.
    """
    if seg_pay[lst] < need:
        return best, best_score, scanned, found
    prev = -1
    s = seg_head[lst]
    top = 0
    while s >= 0 and scanned < limit and found < want:
        nxt = sk[s, S_NEXT]
        v = seeker_valid(sk, hh, p, s, day)
        if v == 0:
            sk[s, S_ACTIVE] = 0
            seg_count[cnt_i] -= 1
            if prev < 0:
                seg_head[lst] = nxt
            else:
                sk[prev, S_NEXT] = nxt
            if seg_tail[lst] == s:
                seg_tail[lst] = prev
            s = nxt
            continue
        top = max(top, sk[s, S_PAY])
        if can_pay(sk, par, s, d[dw, D_TENURE], need):
            scanned += 1
            if v == 1 and allowed(sk, hh, p, d, arr, ap, year, s, dw):
                found += 1
                sc = score(sk, d, par, key, s, dw, day)
                if sc > best_score:
                    best_score = sc
                    best = s
        prev = s
        s = nxt
    if s < 0:
        seg_pay[lst] = top
    return best, best_score, scanned, found


@njit(cache=True, _nrt=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)  # called from kernels only: no Python wrapper
def scan_seekers(sk, hh, p, d, arr, ap, par, key, year, seg_head, seg_tail, seg_pay, seg_count, dw, day, broad):
    """:func:`find_seeker` on the arrays it reads.

    Only lists whose seekers look where ``dw`` is are walked: for each segment the vacancy looks in
    (:func:`seeker_segment`), the seekers of its municipality, then those looking in every municipality;
    within a scope the seekers living in its area type, households arriving from outside, then seekers
    living one area type away who look that far (the poorer type first), two, ...; each list oldest first.
    The window ends after ``market.candidates`` compatible seekers or ``market.scan_limit`` live entries;
    the best score among the compatible ones wins (the landlord's rule, :func:`score`).
    """
    best = -1
    best_score = -1e300
    scanned = 0
    found = 0
    limit = np.int64(par[PR_SCAN])
    want = np.int64(par[PR_CAND])
    t = d[dw, D_TENURE]
    r = d[dw, D_ROOMS]
    atype = d[dw, D_ATYPE]
    n_scope = seg_head.shape[0] // (N_SEG * N_GROUP)
    need = asking(d, par, dw, day)
    low = income_band(need)  # seekers of lower bands cannot pay
    for k in range(5):
        seg = seeker_segment(t, r, k, broad)
        if seg < 0:
            continue
        for band in range(N_BAND - 1, low - 1, -1):
            g0 = band * (N_ATYPE * N_ATYPE + 1)  # the band's first group
            for sc_i in range(2):
                scope = d[dw, D_MUNI] if sc_i == 0 else n_scope - 1
                cnt_i = (seg * n_scope + scope) * N_BAND + band
                if seg_count[cnt_i] == 0:  # every list of the band is empty
                    continue
                for step in range(N_ATYPE):
                    for side in range(2):
                        if step == 0 and side == 1:  # households arriving from outside, after the own area type
                            best, best_score, scanned, found = _walk_seekers(
                                sk, hh, p, d, arr, ap, par, key, year, seg_head, seg_tail, seg_pay, seg_count,
                                cnt_i, seeker_list(seg, scope, g0 + N_ATYPE * N_ATYPE, n_scope), need, dw, day,
                                best, best_score, scanned, found, limit, want)
                            continue
                        a = atype - step if side == 0 else atype + step
                        if a < 0 or a >= N_ATYPE:
                            continue
                        for radius in range(step, N_ATYPE):
                            best, best_score, scanned, found = _walk_seekers(
                                sk, hh, p, d, arr, ap, par, key, year, seg_head, seg_tail, seg_pay, seg_count,
                                cnt_i, seeker_list(seg, scope, g0 + a * N_ATYPE + radius, n_scope), need, dw,
                                day, best, best_score, scanned, found, limit, want)
                    if scanned >= limit or found >= want:
                        return best
    return best


@njit(cache=True, _nrt=False)
def find_vacancy(sk, hh, p, d, arr, ap, par, year, ve, vhead, vtail, s, day):
    """Oldest compatible open vacancy for seeker ``s`` (or -1); unlinks stale entries.

    The seeker's own segment, then the one with one room more; in a segment, the vacancy lists where the
    seeker looks (its municipality or every one, municipality by municipality; area types within its
    reach, ascending), each walked to its first compatible vacancy; the oldest of those wins (entries are
    numbered in the order they were listed). At most ``market.scan_limit`` live entries in all.
    """
    scanned = 0
    limit = np.int64(par[PR_SCAN])
    t = sk[s, S_TENURE]
    r = sk[s, S_ROOMS]
    n_muni = vhead.shape[0] // (N_SEG * N_ATYPE)
    a = sk[s, S_ATYPE]
    lo = 0 if a < 0 else max(0, a - sk[s, S_REACH])
    hi = N_ATYPE - 1 if a < 0 else min(N_ATYPE - 1, a + sk[s, S_REACH])
    wide = sk[s, S_WIDE] == 1
    for k in range(2):
        rr = r + k
        if rr > N_ROOMS:
            break
        seg = segment(t, rr)
        best_e = -1
        for mu in range(n_muni):
            if not wide and mu != sk[s, S_MUNI]:
                continue
            for at in range(lo, hi + 1):
                lst = vacancy_list(seg, mu, at, n_muni)
                prev = -1
                e = vhead[lst]
                while e >= 0 and scanned < limit:
                    nxt = ve[e, 2]
                    dw = ve[e, 0]
                    if d[dw, D_STATE] != DS_VAC or d[dw, D_SEQ] != ve[e, 1]:
                        if prev < 0:
                            vhead[lst] = nxt
                        else:
                            ve[prev, 2] = nxt
                        if vtail[lst] == e:
                            vtail[lst] = prev
                        e = nxt
                        continue
                    scanned += 1
                    if affordable(sk, hh, p, d, arr, ap, par, year, s, dw, day):
                        if best_e < 0 or e < best_e:
                            best_e = e
                        break
                    prev = e
                    e = nxt
        if best_e >= 0:
            return ve[best_e, 0]
    return -1


@njit(inline="always", cache=True)
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
    owner_ok = income * buying_power(par, kind, T_OWNER) >= cost[T_OWNER, rooms - 1]
    coop_ok = income * buying_power(par, kind, T_COOP) >= cost[T_COOP, rooms - 1]
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


# ------------------------------------------------------------------ vacancies and seekers
@kernel(types.boolean, MARKET, I8, I8, I8)
def vacate(m, dw, day, row):
    """``dw`` is left empty by move ``row``; returns True if it goes on the market.

    A small share of vacancies is withdrawn: demolished within 90 days, or
    left empty for 400-800 days (so the vacancy ends unfilled). The draw is
    keyed to the dwelling and the day.
    """
    d, par = m.d, m.par
    d[dw, D_OCC] = -1
    d[dw, D_VACDAY] = day
    d[dw, D_VACROW] = row
    d[dw, D_SEQ] += 1
    u = u01x(m.key, d[dw, D_KEY], day, DR_WITHDRAW)
    v = u01x(m.key, d[dw, D_KEY], day, DR_WITHDRAW + 1)
    if u < par[PR_DEMOLISH] + par[PR_LEFT_EMPTY]:
        d[dw, D_STATE] = DS_WITHDRAWN
        if u < par[PR_DEMOLISH]:
            d[dw, D_DEMOLISH] = 1
            d[dw, D_RETURN] = day + 1 + np.int64(v * 90)
        else:
            d[dw, D_DEMOLISH] = 0
            d[dw, D_RETURN] = day + 400 + np.int64(v * 400)
        m.wd[m.cnt[C_WD]] = dw
        m.cnt[C_WD] += 1
        return False
    d[dw, D_STATE] = DS_VAC
    return True


@kernel(I8, MARKET, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8)
def new_seeker(m, kind, h, q, owner_key, size, kids, core, age, income, cur_tenure, cur_rooms, muni, day,
               queue, arrival):
    """A seeker of ``kind`` for household ``h`` / person ``q`` / arrival ``arrival``; picks its target.

    ``owner_key`` is the stable key of whoever seeks (household, person or
    arrival); the seeker's own key is derived from it, its kind and the day.
    """
    sk = m.sk
    s = m.cnt[C_SK]
    m.cnt[C_SK] += 1
    skey = ident(ID_SEEKER, owner_key, day * 8 + kind)
    t, r = choose_target(m.par, m.cost, kind, size, kids, core, age, income, cur_tenure, cur_rooms,
                         u01x(m.key, skey, DR_TARGET, 1), u01x(m.key, skey, DR_TARGET, 2),
                         u01x(m.key, skey, DR_TARGET, 3))
    sk[s, S_KIND] = kind
    sk[s, S_HH] = h
    sk[s, S_PERSON] = q
    sk[s, S_TENURE] = t
    sk[s, S_ROOMS] = r
    sk[s, S_INCOME] = income
    sk[s, S_MUNI] = muni
    sk[s, S_START] = day
    sk[s, S_EXPIRE] = day + np.int64(m.par[PR_PAT0 + kind])
    sk[s, S_QUEUE] = queue
    sk[s, S_ACTIVE] = 1
    sk[s, S_ARRIVAL] = arrival
    sk[s, S_NEXT] = -1
    sk[s, S_KEY] = skey
    sk[s, S_PARTNER] = -1
    sk[s, S_LEAVER] = -1
    sk[s, S_ATYPE] = m.d[m.hh[h, H_DW], D_ATYPE] if h >= 0 else -1
    # where it looks, drawn once for the seeker: how far from its own area type, and whether beyond its municipality
    sk[s, S_REACH] = reach_radius(u01x(m.key, skey, DR_AREA, 0), m.par[PR_AREA_REACH])
    cross = m.par[PR_CROSS_NEW] if kind >= SK_INMIG else m.par[PR_CROSS]
    sk[s, S_WIDE] = 1 if u01x(m.key, skey, DR_CROSS, 0) < cross else 0
    sk[s, S_PAY] = np.int64(np.ceil(income * buying_power(m.par, kind, t)))
    return s


# ------------------------------------------------------------------ a seeker takes a vacancy
@njit(inline="always", cache=True)
def _move_household(m, s, dw, day, src, gap):
    """An internal seeker's household moves to ``dw``; returns its old dwelling if on the market."""
    h = m.sk[s, S_HH]
    from_dw = m.hh[h, H_DW]
    row = record_move(m, h, day, from_dw, dw, O_DWELLING, X_DWELLING, 1, 1, src, gap)
    member_events(m, h, day, PE_MOVE, from_dw, dw, row)
    m.hh[h, H_SEEKER] = -1
    m.hh[h, H_DW] = dw
    return h, (from_dw if vacate(m, from_dw, day, row) else -1)


@njit(inline="always", cache=True)
def _move_couple(m, s, dw, day, src, gap):
    """A couple moves in together into ``dw``: one move per partner's former household, the same day and
    ``to_dwelling``; the first fills, the other joins (``fills = False``) and its household ends.

    A partner from a dwelling of their own (a single) leaves it: that move vacates it. A partner from the
    parental home forms a household that day (formation and origin ``new_household``, ``from_dwelling``
    null) that merges into the couple's at once; it vacates nothing, the parents stay. The seeker's
    household (``S_HH``, kind internal) or person (``S_PERSON``, kind leave_home) fills; the partner is
    ``S_PARTNER`` (a single's household) or ``S_LEAVER`` (a person at home).
    Returns (household, first freed dwelling on the market or -1, second or -1).
    """
    hh, p, sk = m.hh, m.p, m.sk
    if sk[s, S_KIND] == SK_INTERNAL:
        a = sk[s, S_HH]
        da = hh[a, H_DW]
        row_a = record_move(m, a, day, da, dw, O_DWELLING, X_DWELLING, 1, 1, src, gap)
        member_events(m, a, day, PE_MOVE, da, dw, row_a)
    else:  # two young adults leaving their parental homes: the older forms the couple's household
        a = _form_household(m, s, dw, day, src, gap)
        da, row_a = -1, -1
    b = sk[s, S_PARTNER]
    if b >= 0:
        db = hh[b, H_DW]
        row_b = record_move(m, b, day, db, dw, O_DWELLING, X_DWELLING, 1, 0, SRC_NONE, 0)
        member_events(m, b, day, PE_MOVE, db, dw, row_b)
        q = hh[b, H_HEAD]
    else:
        q = sk[s, S_LEAVER]
        b, home = _leave_home(m, q, F_NEW_HOUSEHOLD, day, sk[s, S_QUEUE])
        row_b = record_move(m, b, day, -1, dw, O_NEW_HOUSEHOLD, X_DWELLING, 0, 0, SRC_NONE, 0)
        person_event(m, q, day, PE_MOVE, home, dw, row_b)
        db = -1  # the parental home is not left empty
    remove_member(hh, p, b, q)
    p[q, P_ROLE] = ROLE_CORE
    add_member(hh, p, a, q)
    head = hh[a, H_HEAD]
    if hh[a, H_FIRST] == q and p[q, P_NEXT] == head and p[head, P_NEXT] < 0:
        # the head first in the member list, so first in the person events the couple's later moves write:
        # a register reading both as heads who moved (docs/ingest.md) takes the older, of one age the first row
        hh[a, H_FIRST] = head
        p[head, P_NEXT] = q
        p[q, P_NEXT] = -1
    hh[a, H_CORE] = 2
    hh[a, H_PARTNER] = q
    hh[a, H_SEEKER] = -1
    hh[a, H_DW] = dw
    hh[a, H_QUEUE] = min(hh[a, H_QUEUE], hh[b, H_QUEUE])
    end_household(m, b)
    left_a = da if da >= 0 and vacate(m, da, day, row_a) else -1
    left_b = db if db >= 0 and vacate(m, db, day, row_b) else -1
    return a, left_a, left_b


@kernel(types.UniTuple(I8, 2), MARKET, I8, I8, I8, I8)
def _leave_home(m, q, formation, day, queue):
    """Person ``q`` leaves its household and forms one of its own (no dwelling yet): (household, dwelling left)."""
    p, hh = m.p, m.hh
    old = p[q, P_HH]
    from_dw = hh[old, H_DW]
    p[q, P_SEEKER] = -1
    remove_member(hh, p, old, q)
    h = new_household(m, formation, day, p[q, P_BY], p[q, P_SEX], p[q, P_ABROAD], queue,
                      ident(ID_FORMED, p[q, P_KEY], day * 8 + formation))
    p[q, P_ROLE] = ROLE_CORE
    add_member(hh, p, h, q)
    hh[h, H_HEAD] = q
    hh[h, H_CORE] = 1
    return h, from_dw


@njit(inline="always", cache=True)
def _form_household(m, s, dw, day, src, gap):
    """A young adult leaving home or a separating partner forms a household in ``dw``."""
    kind = m.sk[s, S_KIND]
    q = m.sk[s, S_PERSON]
    formation = F_NEW_HOUSEHOLD if kind == SK_LEAVE else F_SPLIT
    h, from_dw = _leave_home(m, q, formation, day, m.sk[s, S_QUEUE])
    m.hh[h, H_DW] = dw
    if kind == SK_LEAVE:
        row = record_move(m, h, day, -1, dw, O_NEW_HOUSEHOLD, X_DWELLING, 0, 1, src, gap)
    else:
        row = record_move(m, h, day, from_dw, dw, O_DWELLING, X_DWELLING, 0, 1, src, gap)
    person_event(m, q, day, PE_MOVE, from_dw, dw, row)
    return h


@njit(inline="always", cache=True)
def _settle_arrival(m, s, dw, day, src, gap):
    """A prospective in-migrant or immigrant household settles in ``dw``."""
    kind = m.sk[s, S_KIND]
    arr, ap, p, hh, par = m.arr, m.ap, m.p, m.hh, m.par
    a = m.sk[s, S_ARRIVAL]
    formation = F_IN_MIGRANT if kind == SK_INMIG else F_IMMIGRANT
    first = arr[a, A_PSTART]
    h = new_household(m, formation, day, ap[first, AP_BY], ap[first, AP_SEX], ap[first, AP_ABROAD],
                      arr[a, A_QUEUE], arr[a, A_KEY])
    for j in range(arr[a, A_PEND] - 1, first - 1, -1):  # head ends first in the list
        q = m.cnt[C_P]
        m.cnt[C_P] += 1
        p[q, P_BY] = ap[j, AP_BY]
        p[q, P_SEX] = ap[j, AP_SEX]
        p[q, P_ABROAD] = ap[j, AP_ABROAD]
        p[q, P_PERM] = ap[j, AP_PERM]
        p[q, P_ROLE] = ap[j, AP_ROLE]
        p[q, P_SEEKER] = -1
        p[q, P_KEY] = ap[j, AP_KEY]
        shock = par[PR_SD_YEARLY] * normal(m.key, ap[j, AP_KEY], DR_INCOME)
        p[q, P_INCOME] = person_income(par, p[q, P_PERM], m.year - p[q, P_BY], shock)
        p[q, P_INCPREV] = 0
        add_member(hh, p, h, q)
        if ap[j, AP_ROLE] == ROLE_CORE:
            hh[h, H_CORE] += 1
            if j == first:
                hh[h, H_PARTNER] = hh[h, H_HEAD]
                hh[h, H_HEAD] = q
            else:
                hh[h, H_HEAD] = q
    hh[h, H_DW] = dw
    origin = O_IN_MIGRANT if kind == SK_INMIG else O_IMMIGRANT
    row = record_move(m, h, day, -1, dw, origin, X_DWELLING, 0, 1, src, gap)
    member_events(m, h, day, PE_IN if kind == SK_INMIG else PE_IMM, -1, dw, row)
    return h


@kernel(types.UniTuple(I8, 2), MARKET, I8, I8, I8)
def match(m, s, dw, day):
    """Seeker ``s`` takes vacancy ``dw``; returns the dwelling it left on the market, or -1."""
    d = m.d
    kind = m.sk[s, S_KIND]
    src = d[dw, D_VACROW]
    gap = day - d[dw, D_VACDAY]
    m.sk[s, S_ACTIVE] = 0
    left = -1
    left2 = -1
    fill_row = m.cnt[C_MV]  # the filling move is the next one recorded
    if is_couple(m.sk, s):
        h, left, left2 = _move_couple(m, s, dw, day, src, gap)
    elif kind == SK_INTERNAL:
        h, left = _move_household(m, s, dw, day, src, gap)
    elif kind == SK_LEAVE or kind == SK_SPLIT:
        h = _form_household(m, s, dw, day, src, gap)
    else:
        h = _settle_arrival(m, s, dw, day, src, gap)
    m.mv[fill_row, M_SINC] = m.sk[s, S_INCOME]
    if d[dw, D_TENURE] == T_RENTAL and d[dw, D_LANDLORD] == 0:
        m.hh[h, H_QUEUE] = day  # queue points are used up
    d[dw, D_STATE] = DS_OCC
    d[dw, D_OCC] = h
    d[dw, D_SEQ] += 1
    return left, left2


@kernel(types.void, MARKET, I8, I8)
def drain(m, dw, day):
    """Offer vacancy ``dw`` and every vacancy its filling opens, the same day."""
    vq = m.vq
    head = 0
    tail = 0
    vq[tail] = dw
    tail += 1
    while head < tail:
        v = vq[head]
        head += 1
        s = find_seeker(m, v, day, False)
        if s < 0:
            append_vacancy(m, v)
            continue
        left, left2 = match(m, s, v, day)
        if left >= 0:
            vq[tail] = left
            tail += 1
        if left2 >= 0:
            vq[tail] = left2
            tail += 1


@kernel(types.void, MARKET, I8, I8, I8)
def take(m, s, dw, day):
    """Seeker ``s`` takes vacancy ``dw``; each dwelling it leaves is offered at once, one chain after the other."""
    left, left2 = match(m, s, dw, day)
    if left >= 0:
        drain(m, left, day)
    if left2 >= 0:
        drain(m, left2, day)


@kernel(types.void, MARKET, I8, I8)
def offer_seeker(m, s, day):
    """A new seeker looks through the open vacancies; joins its segment's list if none fits."""
    if seeker_valid(m.sk, m.hh, m.p, s, day) == 1:
        dw = find_vacancy(m.sk, m.hh, m.p, m.d, m.arr, m.ap, m.par, m.year, m.ve, m.vhead, m.vtail, s, day)
        if dw >= 0:
            take(m, s, dw, day)
            return
    append_seeker(m.sk, m.shead, m.stail, m.spay, m.scount, s)


@njit(inline="always", cache=True)
def has_seekers(seg_count, t, r, broad):
    """Whether any seeker list a vacancy of tenure t and r rooms looks in (:func:`seeker_segment`) is non-empty."""
    n = seg_count.shape[0] // N_SEG  # counts (scope x band) per segment
    for k in range(5):
        seg = seeker_segment(t, r, k, broad)
        if seg < 0:
            continue
        for i in range(seg * n, seg * n + n):
            if seg_count[i] > 0:
                return True
    return False


@kernel(types.void, MARKET, I8)
def sweep(m, day):
    """Weekly: vacancies empty for 30 days or more are offered to a wider circle of seekers.

    A segment whose seekers' lists are all empty is skipped: no seeker joins a list
    during the sweep, so none of its vacancies could be taken.
    """
    d, ve = m.d, m.ve
    n = m.vhead.shape[0] // N_SEG  # vacancy lists per segment (municipality x area type)
    for seg in range(N_SEG):
        if not has_seekers(m.scount, seg // N_ROOMS, seg % N_ROOMS + 1, True):
            continue
        for lst in range(seg * n, seg * n + n):
            e = m.vhead[lst]
            while e >= 0:
                nxt = ve[e, 2]
                dw = ve[e, 0]
                if d[dw, D_STATE] == DS_VAC and d[dw, D_SEQ] == ve[e, 1] and day - d[dw, D_VACDAY] >= 30:
                    s = find_seeker(m, dw, day, True)
                    if s >= 0:
                        take(m, s, dw, day)
                e = nxt


@kernel(types.void, MARKET, I8)
def return_withdrawn(m, day):
    """Withdrawn dwellings whose time is up: demolished, or back on the market (and offered)."""
    d = m.d
    i = 0
    while i < m.cnt[C_WD]:
        dw = m.wd[i]
        if d[dw, D_RETURN] > day:
            i += 1
            continue
        m.cnt[C_WD] -= 1
        m.wd[i] = m.wd[m.cnt[C_WD]]
        if d[dw, D_DEMOLISH] == 1:
            d[dw, D_STATE] = DS_DEMOLISHED
            d[dw, D_DEMOLISHED] = day
        else:
            d[dw, D_STATE] = DS_VAC
            d[dw, D_SEQ] += 1
            drain(m, dw, day)


# ------------------------------------------------------------------ handlers of market events
@kernel(types.void, MARKET, I8, I8)
def on_complete(m, dw, day):
    """A new build is completed: an empty dwelling, offered at once (the seed of a chain)."""
    d = m.d
    d[dw, D_STATE] = DS_VAC
    d[dw, D_COMPLETED] = day
    d[dw, D_VACDAY] = day
    d[dw, D_VACROW] = SRC_NEW_BUILD
    d[dw, D_SEQ] += 1
    drain(m, dw, day)


@kernel(types.void, MARKET, I8, I8)
def on_arrival(m, a, day):
    """A prospective in-migrant or immigrant household starts looking (it settles only if it finds)."""
    arr, ap, par = m.arr, m.ap, m.par
    first = arr[a, A_PSTART]
    size = arr[a, A_PEND] - first
    core = 0
    income = 0
    for j in range(first, arr[a, A_PEND]):
        if ap[j, AP_ROLE] == ROLE_CORE:
            core += 1
            shock = par[PR_SD_YEARLY] * normal(m.key, ap[j, AP_KEY], DR_INCOME)
            income += person_income(par, ap[j, AP_PERM], m.year - ap[j, AP_BY], shock)
    kind = SK_INMIG if arr[a, A_KIND] == 0 else SK_IMMIG
    s = new_seeker(m, kind, -1, -1, arr[a, A_KEY], size, size - core, core, m.year - ap[first, AP_BY], income,
                   -1, 0, arr[a, A_MUNI], day, arr[a, A_QUEUE], a)
    offer_seeker(m, s, day)
