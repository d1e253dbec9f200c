"""The simulator's state: one structure of arrays, its columns and the record helpers (private).

State lives in 2-D int64 arrays, one row per household / person / dwelling /
seeker, with the column constants below, bundled in one :class:`Market`
(a NamedTuple, so numba compiles each kernel once for it and caches it).
The driver in ``simulate.py`` owns the arrays and grows them between years;
kernels read and write them in place.

Every entity carries a **stable key** (``H_KEY``, ``P_KEY``, ``D_KEY``,
``S_KEY``): a 64-bit identity that does not depend on its row, so that random
draws keyed to it (:mod:`flyttkedja._random`) are the same in two runs that
differ by a programme wherever the programme's effects did not reach.

Codes follow :mod:`flyttkedja.schema`: the constants below are derived from
its code lists, not retyped.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, types

from flyttkedja._jit import compile_kernels, kernel  # noqa: F401 (synth's kernels import them from here)
from flyttkedja._random import hash3
from flyttkedja.schema import AREA_TYPES, DESTINATIONS, FORMATIONS, HOUSEHOLD_TYPES, ORIGINS, PERSON_EVENT_KINDS, TENURES

# ------------------------------------------------------------------ columns
# households
(H_DW, H_ALIVE, H_CORE, H_HEAD, H_PARTNER, H_FIRST, H_SIZE, H_QUEUE, H_SEEKER, H_LASTMOVE, H_INCPREV,
 H_FORMATION, H_FORMED, H_HEADBY, H_HEADSEX, H_ABROAD, H_KEY) = range(17)
H_NCOL = 17
# persons
P_HH, P_NEXT, P_BY, P_SEX, P_ABROAD, P_PERM, P_INCOME, P_ROLE, P_SEEKER, P_INCPREV, P_KEY = range(11)
P_NCOL = 11  # P_INCPREV: last year's income (for the register-observable move income)
ROLE_CORE, ROLE_CHILD = 0, 1
# dwellings
(D_TENURE, D_ROOMS, D_AREA, D_MUNI, D_ATYPE, D_COST, D_OCC, D_STATE, D_VACDAY, D_VACROW, D_RETURN,
 D_DEMOLISH, D_COMPLETED, D_DEMOLISHED, D_SEQ, D_LANDLORD, D_KEY, D_ALLOC, D_CEILING, D_LINE) = range(20)
D_NCOL = 20  # D_LINE: the programme line a dwelling belongs to (-1: not a programme's)
DS_OCC, DS_VAC, DS_WITHDRAWN, DS_DEMOLISHED, DS_FUTURE = 0, 1, 2, 3, 4
# allocation rules of a dwelling (D_ALLOC); docs/synthetic.md "Allocated housing"
ALLOCATIONS = ("open", "seniors", "young_adults", "low_income", "families")
AL_OPEN, AL_SENIORS, AL_YOUNG, AL_LOW_INCOME, AL_FAMILIES = range(5)
PROGRAMME_KEY = 1 << 40  # D_KEY of a programme's dwellings: PROGRAMME_KEY + their number
# seekers
(S_KIND, S_HH, S_PERSON, S_TENURE, S_ROOMS, S_INCOME, S_MUNI, S_START, S_EXPIRE, S_QUEUE, S_ACTIVE,
 S_ARRIVAL, S_NEXT, S_KEY, S_PARTNER, S_ATYPE, S_LEAVER, S_REACH, S_WIDE, S_PAY) = range(20)
S_NCOL = 20  # S_PARTNER: a couple moving in together -- the other partner's household (-1: none)
# S_LEAVER: a couple moving in together -- the other partner as a person leaving the parental home (-1: none)
# S_ATYPE: area type of the dwelling the seeker lives in now (-1: arriving from outside the region)
# S_REACH: how many area-type steps from its own the seeker looks (drawn once, market.area_reach per step)
# S_WIDE: 1 if the seeker looks in every municipality, 0 if only in its own (drawn once, market.cross_*)
# S_PAY: what the seeker can pay for its target tenure (income x buying power, rounded up)
SK_INTERNAL, SK_LEAVE, SK_SPLIT, SK_INMIG, SK_IMMIG = 0, 1, 2, 3, 4
# arrivals (prospective in-migrant / immigrant households)
A_DAY, A_KIND, A_MUNI, A_PSTART, A_PEND, A_QUEUE, A_KEY = 0, 1, 2, 3, 4, 5, 6
A_NCOL = 7
# arrival persons
AP_BY, AP_SEX, AP_ABROAD, AP_PERM, AP_ROLE, AP_KEY = 0, 1, 2, 3, 4, 5
AP_NCOL = 6
# moves output
(M_HH, M_DAY, M_FROM, M_TO, M_ORIGIN, M_DEST, M_VAC, M_FILL, M_SIZE, M_ADULTS, M_AGE, M_INCOME, M_HTYPE,
 M_ABROAD, M_SRC, M_GAP, M_SINC) = range(17)
M_NCOL = 17  # M_SINC: the income the household searched with (allocation rules), not published
SRC_NEW_BUILD, SRC_NONE = -1, -2  # M_SRC when the vacancy was a completion / has no move
# person events output
E_PERSON, E_DAY, E_KIND, E_FROM, E_TO, E_ROW = 0, 1, 2, 3, 4, 5
E_NCOL = 6  # E_ROW: the household move row the event belongs to (-1: none), not published
# counters (cnt)
C_HH, C_P, C_D, C_SK, C_ROW0, C_MV, C_PE, C_WD, C_VE = 0, 1, 2, 3, 4, 5, 6, 7, 8
C_NCOL = 9
# codes from flyttkedja.schema
O_DWELLING, O_NEW_HOUSEHOLD, O_IN_MIGRANT, O_IMMIGRANT = (ORIGINS.index(x) for x in (
    "dwelling", "new_household", "in_migrant", "immigrant"))
X_DWELLING, X_OUT_MIGRANT, X_EMIGRANT, X_DISSOLVED = (DESTINATIONS.index(x) for x in (
    "dwelling", "out_migrant", "emigrant", "dissolved"))
PE_MOVE, PE_BIRTH, PE_DEATH, PE_IN, PE_IMM, PE_OUT, PE_EMIG = (PERSON_EVENT_KINDS.index(x) for x in (
    "move", "birth", "death", "in_migration", "immigration", "out_migration", "emigration"))
F_INITIAL, F_NEW_HOUSEHOLD, F_IN_MIGRANT, F_IMMIGRANT, F_SPLIT = (FORMATIONS.index(x) for x in (
    "initial", "new_household", "in_migrant", "immigrant", "split"))
T_RENTAL, T_COOP, T_OWNER = (TENURES.index(x) for x in ("rental", "cooperative", "owner"))
HT_SINGLE, HT_COUPLE, HT_SINGLE_PARENT, HT_COUPLE_KIDS = (HOUSEHOLD_TYPES.index(x) for x in (
    "single", "couple", "single_parent", "couple_with_children"))
N_ROOMS = 5
N_SEG = len(TENURES) * N_ROOMS  # seeker / vacancy segments: tenure x rooms
N_ATYPE = len(AREA_TYPES)
# Seeker lists (docs/synthetic.md, "Matching"): one per segment x scope x group. The scope is the seeker's
# municipality if it looks only there, or the last scope (n_muni) if it looks in every municipality; the
# group is (income band, area type x reach): band * (N_ATYPE ** 2 + 1) + a * N_ATYPE + S_REACH for a
# household living in the region, band * (N_ATYPE ** 2 + 1) + N_ATYPE ** 2 for a household arriving from
# outside (it looks in every area type). The band is that of what the seeker can pay (S_PAY):
# band 0 below BAND_BASE, band b from BAND_BASE * BAND_STEP ** (b - 1), the last open-ended.
N_BAND = 12
BAND_BASE = 100_000.0
BAND_STEP = 1.17
N_GROUP = (N_ATYPE * N_ATYPE + 1) * N_BAND
# vacancy lists: one per segment x municipality x area type

# ------------------------------------------------------------------ identities
# Stable keys: ident(kind, a, b) for the kinds below (never change their numbers).
ID_PERSON, ID_BIRTH, ID_ARRIVAL_PERSON, ID_HOUSEHOLD, ID_FORMED, ID_ARRIVAL, ID_SEEKER = range(1, 8)
_ID_KEY = np.uint64(0x2545F4914F6CDD1D)

# draw counters (the ``b`` of u01(key, identity, b)); one per kind of draw
(DR_INCOME, DR_DEMOGRAPHY, DR_MOBILITY, DR_SWAP, DR_ORDER, DR_TARGET, DR_CROSS, DR_JITTER, DR_WITHDRAW,
 DR_SEX, DR_PERM, DR_TOGETHER, DR_AREA, DR_LEAVE_COUPLE) = (10 * i for i in range(1, 15))


def ident_array(kind: int, a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """:func:`ident` element-wise (numpy), for the driver's vectorised inputs."""
    from flyttkedja._random import GOLD, _SECOND, mix_array

    a = np.asarray(a).astype(np.uint64)
    b = np.asarray(b).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = mix_array((_ID_KEY ^ np.uint64(kind)) ^ (a * GOLD))
        z = mix_array(z ^ (b * _SECOND))
    return (z >> np.uint64(1)).astype(np.int64)


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
 PR_LEFT_EMPTY, PR_DEMOLISH, PR_PRICE_CUT, PR_PRICE_FLOOR, PR_TOGETHER, PR_AREA_REACH,
 PR_COUPLE_NEW, PR_START_HELP, PR_LEAVE_COUPLE, PR_PRIVATE_INCOME) = range(61)
N_PAR = 61


class Market(NamedTuple):
    """Everything the year's market kernel reads and writes (arrays are updated in place).

    ``key`` is the year's market stream, ``year`` the calendar year.
    """

    hh: np.ndarray      # households (H_*)
    p: np.ndarray       # persons (P_*)
    d: np.ndarray       # dwellings (D_*)
    sk: np.ndarray      # seekers (S_*)
    cnt: np.ndarray     # counters (C_*)
    mv: np.ndarray      # the year's moves (M_*)
    pe: np.ndarray      # the year's person events (E_*)
    wd: np.ndarray      # withdrawn dwellings
    ve: np.ndarray      # vacancy list entries: dwelling, its D_SEQ when listed, next entry
    vhead: np.ndarray   # per vacancy list (segment x municipality x area type): first vacancy entry
    vtail: np.ndarray
    shead: np.ndarray   # per seeker list (N_GROUP, synth._market.seeker_list): first seeker
    stail: np.ndarray
    spay: np.ndarray    # per seeker list: at least the S_PAY of every seeker in it (lists none can pay are skipped)
    scount: np.ndarray  # per segment x scope x income band: entries linked in its seeker lists (0: all empty)
    vq: np.ndarray      # scratch queue of the day's chain of vacancies
    pair: np.ndarray    # (3, municipalities): a single waiting to couple / a tenant waiting to swap /
                        # a young adult waiting to leave home as a couple
    arr: np.ndarray     # the year's prospective arrivals (A_*)
    ap: np.ndarray      # their persons (AP_*)
    par: np.ndarray     # float64 parameters (PR_*)
    cost: np.ndarray    # float64 (tenure, rooms): required income
    year: np.int64
    key: np.uint64


def _prototype() -> Market:
    i2, i1 = np.zeros((1, 1), np.int64), np.zeros(1, np.int64)
    return Market(hh=i2, p=i2, d=i2, sk=i2, cnt=i1, mv=i2, pe=i2, wd=i1, ve=i2, vhead=i1, vtail=i1, shead=i1,
                  stail=i1, spay=i1, scount=i1, vq=i1, pair=i2, arr=i2, ap=i2, par=np.zeros(1), cost=np.zeros((1, 1)),
                  year=np.int64(0), key=np.uint64(0))


MARKET = numba.typeof(_prototype())  # the numba type of a Market (C-contiguous, writable arrays)
I8 = types.int64
U8 = types.uint64
A1 = types.int64[::1]     # the state's tables: C-contiguous int64, as the driver allocates them
A2 = types.int64[:, ::1]
F1 = types.float64[::1]


@kernel(I8, I8, I8, I8, python=True)
def ident(kind, a, b):
    """Stable 63-bit identity key of an entity of ``kind`` made from ``a`` and ``b``."""
    return np.int64(hash3(_ID_KEY ^ np.uint64(kind), a, b) >> np.uint64(1))


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


@kernel(I8, A2, A2, I8)
def household_income(hh, p, h):
    total = 0
    q = hh[h, H_FIRST]
    while q >= 0:
        total += p[q, P_INCOME]
        q = p[q, P_NEXT]
    return total


# ------------------------------------------------------------------ household helpers
@kernel(types.UniTuple(I8, 3), A2, A2, I8, I8)
def composition(hh, p, h, year):
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
def household_type(core, kids):
    if core >= 2:
        return HT_COUPLE_KIDS if kids > 0 else HT_COUPLE
    return HT_SINGLE_PARENT if kids > 0 else HT_SINGLE


@kernel(types.void, A2, A2, I8, I8)
def remove_member(hh, p, h, q):
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


@kernel(types.void, A2, A2, I8, I8)
def add_member(hh, p, h, q):
    p[q, P_NEXT] = hh[h, H_FIRST]
    hh[h, H_FIRST] = q
    p[q, P_HH] = h
    hh[h, H_SIZE] += 1


@kernel(I8, MARKET, I8, I8, I8, I8, I8, I8, I8)
def new_household(m, formation, day, head_by, head_sex, abroad, queue, key):
    h = m.cnt[C_HH]
    m.cnt[C_HH] += 1
    hh = m.hh
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
    hh[h, H_KEY] = key
    return h


@kernel(types.void, MARKET, I8)
def end_household(m, h):
    """Household ``h`` is gone (dissolved, left the area, or merged into another)."""
    m.hh[h, H_ALIVE] = 0
    m.hh[h, H_DW] = -1
    m.hh[h, H_SEEKER] = -1


# ------------------------------------------------------------------ year-end snapshot
@njit(cache=True)
def snapshot_rows(hh, p, n_p, income_cap):
    """The persons present at year end, in person order: (person, household, dwelling, income, position).

    ``income`` is capped at ``income_cap`` (int32 columns); ``position`` is the family
    position's index (head 0, partner 1, child 2, other 3; the first that holds).
    One pass to count and one to fill instead of numpy's dozen passes over the panel.
    """
    n = 0
    for q in range(n_p):
        if p[q, P_HH] >= 0:
            n += 1
    person = np.empty(n, np.int32)
    household = np.empty(n, np.int32)
    dwelling = np.empty(n, np.int32)
    income = np.empty(n, np.int32)
    position = np.empty(n, np.int8)
    i = 0
    for q in range(n_p):
        h = p[q, P_HH]
        if h < 0:
            continue
        person[i] = q
        household[i] = h
        dwelling[i] = hh[h, H_DW]
        income[i] = min(p[q, P_INCOME], income_cap)
        if hh[h, H_HEAD] == q:
            position[i] = 0
        elif hh[h, H_PARTNER] == q:
            position[i] = 1
        elif p[q, P_ROLE] == ROLE_CHILD:
            position[i] = 2
        else:
            position[i] = 3
        i += 1
    return person, household, dwelling, income, position


# ------------------------------------------------------------------ output records
@kernel(I8, MARKET, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8)
def record_move(m, h, day, from_dw, to_dw, origin, dest, vacates, fills, src, gap):
    """Append one household move; returns its row number in the whole register."""
    hh, p, mv = m.hh, m.p, m.mv
    i = m.cnt[C_MV]
    m.cnt[C_MV] += 1
    size, adults, kids = composition(hh, p, h, m.year)
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
    mv[i, M_AGE] = m.year - p[hh[h, H_HEAD], P_BY]
    mv[i, M_INCOME] = household_income(hh, p, h)
    mv[i, M_SINC] = mv[i, M_INCOME]
    mv[i, M_HTYPE] = household_type(hh[h, H_CORE], kids)
    mv[i, M_ABROAD] = p[hh[h, H_HEAD], P_ABROAD]
    mv[i, M_SRC] = src
    mv[i, M_GAP] = gap
    hh[h, H_LASTMOVE] = day
    return m.cnt[C_ROW0] + i


@kernel(types.void, MARKET, I8, I8, I8, I8, I8, I8)
def person_event(m, q, day, kind, from_dw, to_dw, row):
    i = m.cnt[C_PE]
    m.cnt[C_PE] += 1
    pe = m.pe
    pe[i, E_PERSON] = q
    pe[i, E_DAY] = day
    pe[i, E_KIND] = kind
    pe[i, E_FROM] = from_dw
    pe[i, E_TO] = to_dw
    pe[i, E_ROW] = row


@kernel(types.void, MARKET, I8, I8, I8, I8, I8, I8)
def member_events(m, h, day, kind, from_dw, to_dw, row):
    q = m.hh[h, H_FIRST]
    while q >= 0:
        person_event(m, q, day, kind, from_dw, to_dw, row)
        q = m.p[q, P_NEXT]
