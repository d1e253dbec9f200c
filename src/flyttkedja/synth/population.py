"""The starting region and the yearly inputs of the simulation (vectorised numpy).

* :func:`initial_region`: small areas, the dwelling stock and the households
  and persons living in it on 31 December of the year before the window.
* :func:`new_builds`: one year's completions (a programme by tenure x rooms x
  area type, grouped into projects that complete on one day).
* :func:`arrivals`: one year's prospective in-migrant and immigrant households.

Everything draws from a ``numpy.random.Generator`` handed in by the driver, so
a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flyttkedja.synth import _state as K
from flyttkedja.synth.config import N_ROOMS, SynthConfig

FLOOR_AREA_BY_ROOMS = np.array([36, 58, 76, 95, 122])  # m², multi-dwelling; small houses +20
OLD_BUILDING_SIZE = 24  # flats per multi-dwelling building in the old stock
# household kinds: single, couple, single_parent, couple_with_children
ARRIVAL_TYPES = {0: [0.55, 0.25, 0.05, 0.15], 1: [0.45, 0.20, 0.10, 0.25]}  # in-migrant, immigrant


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (n x k, rows summing to 1): the chosen column."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)


@dataclass
class Region:
    """Initial state: static tables plus the kernel state arrays."""

    area_muni: np.ndarray      # municipality index per area
    area_type: np.ndarray      # area type code per area
    d: np.ndarray              # dwellings, kernel columns
    building_type: np.ndarray  # int8 per dwelling (0 multi, 1 small house)
    floor_area: np.ndarray     # int16
    building_id: np.ndarray    # int64
    hh: np.ndarray
    p: np.ndarray
    hh_room: np.ndarray | None = None  # hh is its first rows: room to add households without a copy
    p_room: np.ndarray | None = None   # the same for p


def _mean_size_by_rooms(cfg: SynthConfig) -> np.ndarray:
    kids = np.dot([1, 2, 3], cfg.section("households")["children"])
    size_by_type = np.array([1.0, 2.0, 1.0 + kids, 2.0 + kids])
    return np.array(cfg.section("households")["type_by_rooms"]) @ size_by_type


def dwelling_cost(cfg: SynthConfig, tenure: np.ndarray, rooms: np.ndarray, atype: np.ndarray) -> np.ndarray:
    """Household income (SEK/year) needed to take a dwelling: rent or price level."""
    required = cfg.by_tenure("market", "required_income")
    price = cfg.by_tenure("market", "area_price")
    return (required[tenure, rooms - 1] * price[tenure, atype]).astype(np.int64)


def dwelling_rows(cfg: SynthConfig, rng: np.random.Generator, area: np.ndarray, atype: np.ndarray,
               tenure: np.ndarray, rooms: np.ndarray, muni: np.ndarray, public_share: np.ndarray):
    """Kernel rows and static attributes for dwellings with the given tenure/rooms/area."""
    n = len(area)
    d = np.zeros((n, K.D_NCOL), np.int64)
    d[:, K.D_TENURE] = tenure
    d[:, K.D_ROOMS] = rooms
    d[:, K.D_AREA] = area
    d[:, K.D_MUNI] = muni
    d[:, K.D_ATYPE] = atype
    d[:, K.D_COST] = dwelling_cost(cfg, tenure, rooms, atype)
    d[:, K.D_OCC] = -1
    d[:, K.D_VACROW] = K.SRC_NONE
    d[:, K.D_COMPLETED] = -1
    d[:, K.D_DEMOLISHED] = -1
    d[:, K.D_LINE] = -1
    rental = tenure == K.T_RENTAL
    d[:, K.D_LANDLORD] = np.where(rental, (rng.random(n) >= public_share).astype(np.int64), -1)
    small_share = np.array([cfg.section("stock")["small_house_share"][t] for t in ("rental", "cooperative", "owner")])
    btype = (rng.random(n) < small_share[tenure]).astype(np.int8)
    floor = FLOOR_AREA_BY_ROOMS[rooms - 1] + 20 * btype + rng.normal(0, 8, n)
    return d, btype, np.maximum(floor, 15).astype(np.int16)


def buildings(group: np.ndarray, btype: np.ndarray, size_multi: int, size_small: int, start: int) -> np.ndarray:
    """Building ids: dwellings of one group (area x tenure x type) in blocks of a building's size."""
    key = group * 2 + btype
    order = np.argsort(key, kind="stable")
    sk = key[order]
    starts = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(sk)]))
    rank = np.arange(len(sk)) - group_start
    size = np.where(btype[order] == 1, size_small, size_multi)
    block = sk.astype(np.int64) * (1 << 32) + rank // size  # sorted already: ids by run
    local = np.cumsum(np.r_[0, block[1:] != block[:-1]])
    out = np.empty(len(key), np.int64)
    out[order] = start + local
    return out


def people(cfg: SynthConfig, rng: np.random.Generator, htype: np.ndarray, head_age: np.ndarray,
           abroad: np.ndarray, perm_mu: np.ndarray, year: int):
    """Persons of households with given kind, head age and origin.

    Returns per person (household-contiguous, head first, then partner, then
    children): household index, birth year, sex (0 F, 1 M), born abroad,
    permanent income component (micro-units of log income), role.
    """
    n = len(htype)
    sd = cfg.section("income")["sd_permanent"]
    kids = np.where(htype >= 2, 1 + categorical(rng, np.tile(cfg.section("households")["children"], (n, 1))), 0)
    partner = (htype == 1) | (htype == 3)
    size = 1 + partner + kids
    hh_of = np.repeat(np.arange(n), size)
    first = np.r_[0, np.cumsum(size)[:-1]]
    rank = np.arange(len(hh_of)) - first[hh_of]
    is_head = rank == 0
    is_partner = (rank == 1) & partner[hh_of]
    is_child = ~(is_head | is_partner)
    head_sex = (rng.random(n) < 0.5).astype(np.int64)
    age = np.empty(len(hh_of), np.int64)
    age[is_head] = head_age
    age[is_partner] = np.maximum(18, head_age[partner] + np.round(rng.normal(0, 3, partner.sum())))
    max_kid = np.clip(head_age - 20, 0, 26)
    age[is_child] = np.floor(rng.random(is_child.sum()) * (max_kid[hh_of[is_child]] + 1))
    sex = np.where(is_head, head_sex[hh_of], np.where(is_partner, 1 - head_sex[hh_of],
                                                         (rng.random(len(hh_of)) < 0.512)))
    ab = np.where(is_child, abroad[hh_of] & (rng.random(len(hh_of)) < 0.3), abroad[hh_of])
    head_perm = perm_mu + rng.normal(0, sd, n)
    perm = np.where(is_head, head_perm[hh_of],
                    np.where(is_partner, 0.5 * head_perm[hh_of] + 0.5 * perm_mu[hh_of] + rng.normal(0, sd * 0.8, len(hh_of)),
                             0.5 * head_perm[hh_of] + rng.normal(0, 0.3, len(hh_of))))
    role = np.where(is_child, K.ROLE_CHILD, K.ROLE_CORE)
    return (hh_of, year - age, sex.astype(np.int64), ab.astype(np.int64),
            np.round(perm * 1e6).astype(np.int64), role.astype(np.int64))


def head_ages(rng: np.random.Generator, htype: np.ndarray) -> np.ndarray:
    """Age of the household head by household kind."""
    n = len(htype)
    u = rng.random(n)
    v = rng.random(n)
    single = np.where(u < 0.4, 19 + 16 * v, np.where(u < 0.7, 35 + 30 * v, 65 + 30 * v))
    couple = np.where(u < 0.35, 22 + 18 * v, np.where(u < 0.7, 40 + 25 * v, 65 + 25 * v))
    parent = 25 + 31 * v
    age = np.select([htype == 0, htype == 1], [single, couple], parent)
    return np.floor(age).astype(np.int64)


def initial_region(cfg: SynthConfig, rng: np.random.Generator, day0: int, room: float = 1.0) -> Region:
    """Areas, dwelling stock, households and persons at the start of the window.

    ``room``: the household and person tables are allocated with ``room`` times
    their rows (``Region.hh_room``, ``Region.p_room``; ``hh``/``p`` are their
    first rows), so that the driver adds the first year's households and persons
    without copying the tables; rows never written cost address space only
    (``np.zeros`` maps zero pages on first write). Example:
    ``initial_region(cfg, rng, day0, room=2.0).hh_room.shape[0] == 2 * len(region.hh) + 16``.
    """
    region = cfg.section("region")
    stock = cfg.section("stock")
    munis = cfg.section("municipality")
    area_muni, area_type = [], []
    for m, muni in enumerate(munis):
        n_areas = max(1, int(round(cfg.residents * muni["share"] / region["persons_per_area"])))
        area_muni.append(np.full(n_areas, m))
        area_type.append(categorical(rng, np.tile(muni["area_types"], (n_areas, 1))))
    area_muni = np.concatenate(area_muni)
    area_type = np.concatenate(area_type)
    share = np.array([m["share"] for m in munis])
    area_pop = cfg.residents * share[area_muni] / np.bincount(area_muni, minlength=len(munis))[area_muni]
    tenure_p = cfg.by_area_type("stock", "tenure_by_area_type")
    rooms_p = cfg.by_tenure("stock", "rooms_by_tenure")
    size_by_tenure = rooms_p @ _mean_size_by_rooms(cfg)
    mean_size = tenure_p[area_type] @ size_by_tenure
    n_dw = np.maximum(1, np.round(area_pop / mean_size / (1 - region["vacant_share"]))).astype(np.int64)
    area = np.repeat(np.arange(len(area_muni)), n_dw)
    atype = area_type[area]
    tenure = categorical(rng, tenure_p[atype])
    rooms = 1 + categorical(rng, rooms_p[tenure])
    public = np.array(stock["public_share_by_area_type"])[atype]
    d, btype, floor = dwelling_rows(cfg, rng, area, atype, tenure, rooms, area_muni[area], public)
    building = buildings(area * 3 + tenure, btype, OLD_BUILDING_SIZE, 1, 1)

    vacant = rng.random(len(area)) < region["vacant_share"]
    occ = np.flatnonzero(~vacant)
    d[vacant, K.D_STATE] = K.DS_VAC
    d[vacant, K.D_VACDAY] = day0 - 1 - rng.integers(0, 60, vacant.sum())
    n = len(occ)
    htype = categorical(rng, np.array(cfg.section("households")["type_by_rooms"])[rooms[occ] - 1])
    age = head_ages(rng, htype)
    abroad = (rng.random(n) < np.array(stock["born_abroad_by_area_type"])[atype[occ]]).astype(np.int64)
    income = cfg.section("income")
    perm_mu = (np.array(income["mean_by_tenure"])[tenure[occ]] + np.array(income["mean_by_area_type"])[atype[occ]]
               + income["born_abroad_effect"] * abroad)
    year = cfg.first_year - 1
    hh_of, by, sex, ab, perm, role = people(cfg, rng, htype, age, abroad, perm_mu, year)
    p_room = np.zeros((_rows_with_room(len(hh_of), room), K.P_NCOL), np.int64)
    p = _person_rows(hh_of, by, sex, ab, perm, role, p_room[: len(hh_of)])
    hh_room = np.zeros((_rows_with_room(n, room), K.H_NCOL), np.int64)
    hh = hh_room[:n]
    first = np.r_[0, np.flatnonzero(hh_of[1:] != hh_of[:-1]) + 1]
    hh[:, K.H_DW] = occ
    hh[:, K.H_ALIVE] = 1
    hh[:, K.H_FIRST] = first
    hh[:, K.H_HEAD] = first
    partner = (htype == 1) | (htype == 3)
    hh[:, K.H_PARTNER] = np.where(partner, first + 1, -1)
    hh[:, K.H_CORE] = 1 + partner
    hh[:, K.H_SIZE] = np.bincount(hh_of, minlength=n)
    hh[:, K.H_QUEUE] = day0 - (rng.random(n) * np.maximum(age - 18, 0) * 365 * 0.5).astype(np.int64)
    hh[:, K.H_SEEKER] = -1
    hh[:, K.H_LASTMOVE] = -1
    hh[:, K.H_FORMATION] = K.F_INITIAL
    hh[:, K.H_FORMED] = -1
    hh[:, K.H_HEADBY] = by[first]
    hh[:, K.H_HEADSEX] = sex[first]
    hh[:, K.H_ABROAD] = ab[first]
    d[occ, K.D_OCC] = np.arange(n)
    d[:, K.D_KEY] = np.arange(len(d))  # the regular dwellings' keys are their numbers (see simulate)
    hh[:, K.H_KEY] = K.ident_array(K.ID_HOUSEHOLD, np.arange(n), 0)
    p[:, K.P_KEY] = K.ident_array(K.ID_PERSON, np.arange(len(p)), 0)
    set_incomes(cfg, rng, p, year)
    return Region(area_muni, area_type, d, btype, floor, building, hh, p, hh_room, p_room)


def _rows_with_room(n: int, room: float) -> int:
    """Rows to allocate for ``n`` rows with ``room`` times as many (the driver's doubling: 2n + 16)."""
    return n if room <= 1 else int(room * n) + 16


def _person_rows(hh_of, by, sex, ab, perm, role, p=None) -> np.ndarray:
    """Person rows (P_* columns), written into ``p`` (zeros, len(hh_of) rows) when given."""
    if p is None:
        p = np.zeros((len(hh_of), K.P_NCOL), np.int64)
    p[:, K.P_HH] = hh_of
    same_next = np.r_[hh_of[1:] == hh_of[:-1], False]
    p[:, K.P_NEXT] = np.where(same_next, np.arange(len(hh_of)) + 1, -1)
    p[:, K.P_BY] = by
    p[:, K.P_SEX] = sex
    p[:, K.P_ABROAD] = ab
    p[:, K.P_PERM] = perm
    p[:, K.P_ROLE] = role
    p[:, K.P_SEEKER] = -1
    return p


def set_incomes(cfg: SynthConfig, rng: np.random.Generator, p: np.ndarray, year: int) -> None:
    """Initial-year incomes (later years are drawn in the kernel)."""
    base = np.r_[0, cfg.section("income")["base_by_age"]]
    age = year - p[:, K.P_BY]
    band = np.searchsorted([18, 25, 35, 55, 65], age, side="right")
    shock = rng.normal(0, cfg.section("income")["sd_yearly"], len(p))
    p[:, K.P_INCOME] = (base[band] * np.exp(p[:, K.P_PERM] * 1e-6 + shock)).astype(np.int64)


def new_build_premium(cfg: SynthConfig, d: np.ndarray) -> np.ndarray:
    """Factor on the asking level of new builds ``d`` (kernel rows): ``market.new_build_premium``, times
    ``market.new_build_premium_private_rental`` for a private landlord's rental (presumtionshyra: a new
    private rental's first rent is negotiated above the utility value of older flats; a public landlord
    lets through its queue at rents near the stock's).

    >>> cfg = load_config("metro")  # doctest: +SKIP
    >>> new_build_premium(cfg, rows)  # 1.2 for most, 1.2 x the private factor for private rentals  # doctest: +SKIP
    """
    mkt = cfg.section("market")
    private = (d[:, K.D_TENURE] == K.T_RENTAL) & (d[:, K.D_LANDLORD] == 1)
    return np.where(private, mkt["new_build_premium"] * mkt["new_build_premium_private_rental"],
                    mkt["new_build_premium"])


def new_builds(cfg: SynthConfig, rng: np.random.Generator, region: Region, n_stock: int,
               day0: int, ndays: int, building_start: int):
    """One year's completions: kernel rows, static attributes and completion days."""
    nb = cfg.section("new_builds")
    n = int(rng.poisson(nb["per_1000_dwellings"] * n_stock / 1000))
    share = np.array([m["share"] for m in cfg.section("municipality")])
    type_share = np.array(nb["area_types"])
    n_areas = len(region.area_muni)
    # area weight: municipality share spread over its areas, tilted by the programme's area types
    counts = np.zeros((len(share), 5))
    np.add.at(counts, (region.area_muni, region.area_type), 1)
    w = share[region.area_muni] * type_share[region.area_type] / counts[region.area_muni, region.area_type]
    if w.sum() <= 0:
        w = np.ones(n_areas)
    area = rng.choice(n_areas, size=n, p=w / w.sum())
    atype = region.area_type[area]
    tenure_share = np.array([nb["tenure"][t] for t in ("rental", "cooperative", "owner")])
    tenure = categorical(rng, np.tile(tenure_share, (n, 1)))
    rooms = 1 + categorical(rng, cfg.by_tenure("new_builds", "rooms")[tenure])
    d, btype, floor = dwelling_rows(cfg, rng, area, atype, tenure, rooms, region.area_muni[area],
                                 np.full(n, nb["public_share"]))
    d[:, K.D_COST] = (d[:, K.D_COST] * new_build_premium(cfg, d)).astype(np.int64)
    d[:, K.D_STATE] = K.DS_FUTURE
    size = nb["project_size"]
    building = buildings(area * 3 + tenure, btype, size["multi_dwelling"], size["small_house"], building_start)
    completion = day0 + rng.integers(0, ndays, int(building.max(initial=building_start - 1)) - building_start + 1)[
        building - building_start]
    return d, btype, floor, building, completion


def arrivals(cfg: SynthConfig, rng: np.random.Generator, residents: int, year: int, day0: int, ndays: int):
    """Prospective in-migrant (kind 0) and immigrant (kind 1) households of one year."""
    mig = cfg.section("migration")
    n_in = int(rng.poisson(mig["in_migrant_households_per_1000"] * residents / 1000))
    n_im = int(rng.poisson(mig["immigrant_households_per_1000"] * residents / 1000))
    kind = np.r_[np.zeros(n_in, np.int64), np.ones(n_im, np.int64)]
    n = len(kind)
    htype = categorical(rng, np.array([ARRIVAL_TYPES[k] for k in (0, 1)])[kind])
    age = head_ages(rng, htype)
    age = np.where(htype == 0, np.minimum(age, 19 + (age - 19) // 2), age)  # arrivals are younger
    abroad = np.where(kind == 1, 1, (rng.random(n) < 0.15)).astype(np.int64)
    income = cfg.section("income")
    perm_mu = np.where(kind == 1, income["born_abroad_effect"] * 2, 0.0)
    hh_of, by, sex, ab, perm, role = people(cfg, rng, htype, age, abroad, perm_mu, year)
    ap = np.zeros((len(hh_of), K.AP_NCOL), np.int64)
    ap[:, K.AP_BY] = by
    ap[:, K.AP_SEX] = sex
    ap[:, K.AP_ABROAD] = ab
    ap[:, K.AP_PERM] = perm
    ap[:, K.AP_ROLE] = role
    ap[:, K.AP_KEY] = K.ident_array(K.ID_ARRIVAL_PERSON, np.full(len(ap), year), np.arange(len(ap)))
    size = np.bincount(hh_of, minlength=n)
    arr = np.zeros((n, K.A_NCOL), np.int64)
    arr[:, K.A_DAY] = day0 + rng.integers(0, ndays, n)
    arr[:, K.A_KIND] = kind
    share = np.array([m["share"] for m in cfg.section("municipality")])
    arr[:, K.A_MUNI] = rng.choice(len(share), size=n, p=share)
    arr[:, K.A_PSTART] = np.r_[0, np.cumsum(size)[:-1]]
    arr[:, K.A_PEND] = np.cumsum(size)
    arr[:, K.A_QUEUE] = arr[:, K.A_DAY] - np.where(kind == 0, rng.integers(0, 3 * 365, n), 0)
    arr[:, K.A_KEY] = K.ident_array(K.ID_ARRIVAL, np.full(n, year), np.arange(n))
    return arr, ap
