"""The simulation driver: owns the state arrays and runs the kernels year by year.

Python loops over years only; each year is one parallel kernel call
(:func:`_demography.year_start`: incomes and event draws) and one sequential one
(:func:`_year.simulate_year`: the market, day by day, on one
:class:`_state.Market`). Between years the driver adds the year's new builds
and arrivals (vectorised numpy), grows the state arrays and takes the
31 December person snapshot.

Random numbers: numpy Generators seeded from ``SeedSequence(seed, spawn_key=...)``
for the vectorised inputs (the initial region, the regular new builds, the
prospective arrivals, a programme's dwellings -- none of them depends on the
market's state, so they are the same with and without a programme), and
per-year 64-bit keys for the kernels' counter-based streams
(:mod:`flyttkedja._random`), whose every draw is keyed to a stable identity --
so the output depends on the seed only, never on the number of threads, and
two runs that differ by a programme share every draw its effects did not reach.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flyttkedja._jit import one_thread
from flyttkedja.synth import _kernels as K
from flyttkedja.synth.config import SynthConfig
from flyttkedja.synth.population import Region, arrivals, initial_region, new_builds
from flyttkedja.synth.programme import Programme, programme_dwellings

# persons: a smaller population draws its year on one thread (year_start's serial twin). Compiling
# the parallel form costs about 1.2 CPU-s more on a fresh install; flyttkedja demo's region (metro
# 0.1, about 100,000 persons) draws its ten years in 0.16 s serially and 0.32 s on two threads of
# the shared machine; at metro scale 1 the parallel form saves 1.3 s in ten years (docs/performance.md).
YEAR_START_SERIAL_BELOW = 250_000

EPOCH = dt.date(1970, 1, 1)


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01 (Arrow's date32)."""
    return (date - EPOCH).days


def kernel_params(cfg: SynthConfig) -> np.ndarray:
    """The ``par`` vector in the order of the ``PR_*`` constants in ``_kernels``."""
    dem, mig, mob, inc, mkt = (cfg.section(s) for s in ("demography", "migration", "mobility", "income", "market"))
    values = [
        dem["death_log_a"], dem["death_log_b"], dem["birth_rate"], dem["separation_rate"], dem["couple_rate"],
        dem["leave_home_rate_18"], dem["leave_home_rate_25"],
        mig["out_migration_young"], mig["out_migration_other"], mig["emigration_native"],
        mig["emigration_born_abroad"],
        *mob["base_by_age"], mob["crowding"], mob["downsizing"], mob["income_rise"], mob["swap_share"],
        *inc["base_by_age"], inc["sd_yearly"],
        *mkt["queue_weight"], *mkt["income_weight"], mkt["jitter"], mkt["same_municipality_bonus"],
        *mkt["bonus"], *mkt["patience_days"],
        mkt["cross_municipality"], mkt["cross_municipality_newcomer"], mkt["owner_preference"],
        mkt["cooperative_preference"], mkt["scan_limit"], mkt["candidates"], mkt["left_empty"], mkt["demolished"],
        mkt["price_cut_per_month"], mkt["price_floor"], dem["couple_move_together"], mkt["area_reach"],
        mkt["couple_new_build_bonus"], mkt["starter_buying_power"], dem["leave_home_as_couple"],
        mkt["private_income_requirement"],
    ]
    par = np.array(values, dtype=np.float64)
    assert len(par) == K.N_PAR, (len(par), K.N_PAR)
    return par


def _grow(a: np.ndarray, rows: int, used: int | None = None) -> np.ndarray:
    """``a`` with at least ``rows`` rows, its first ``used`` rows (default: all) kept; doubling.

    Rows never written cost address space, not memory (np.empty's pages are mapped
    on first write), so doubling copies a table about once in a run where 1.25x
    copied the persons and households three or four times; ``used`` keeps a copy
    from writing (and so mapping) rows that were never written.
    """
    if a.shape[0] >= rows:
        return a
    out = np.empty((max(rows, 2 * a.shape[0] + 16),) + a.shape[1:], a.dtype)
    used = a.shape[0] if used is None else used
    out[:used] = a[:used]
    return out


def _reserve(a: np.ndarray, rows: int, used: int, year_index: int, years: int) -> np.ndarray:
    """:func:`_grow` for the window's output tables: room for the years left at 1.25x the rate so far.

    ``rows`` are needed now, ``used`` rows were written in the first ``year_index``
    years; a copy makes room for ``rows`` plus the remaining years at 1.25 times the
    mean rows per year so far, so the moves and person events are copied about
    once in a run instead of at every doubling (rows never written cost address
    space only). Example: ``_reserve(np.empty((10, 2)), 30, 10, 1, 10).shape[0] == 30 + 8 * 13``.
    """
    if a.shape[0] >= rows or year_index == 0:
        return _grow(a, rows, used)
    per_year = -(-used * 5 // (4 * year_index))  # ceil(1.25 * used / year_index)
    out = np.empty((rows + (years - year_index - 1) * per_year,) + a.shape[1:], a.dtype)
    out[:used] = a[:used]
    return out


@dataclass
class Snapshot:
    """Persons present on 31 December of ``year`` (person indices and their state)."""

    year: int
    person: np.ndarray
    household: np.ndarray
    dwelling: np.ndarray
    income: np.ndarray
    position: np.ndarray  # family position: index into schema.FAMILY_POSITIONS (head, partner, child, other)


@dataclass
class RawRegister:
    """Everything the simulation produced, as numpy arrays (indices, day numbers).

    Rows of ``d``, ``hh`` and ``p`` are storage indices; their stable keys
    (:meth:`dwelling_key`, :meth:`household_key`) identify the same dwelling or
    household in another run of the same seed. :attr:`dwelling_id` is the
    published id: the regular dwellings keep their number whatever programme
    is added, a programme's dwellings are numbered after them.
    """

    cfg: SynthConfig
    seed: int
    region: Region
    d: np.ndarray
    building_type: np.ndarray
    floor_area: np.ndarray
    building_id: np.ndarray
    hh: np.ndarray
    p: np.ndarray
    moves: np.ndarray
    person_events: np.ndarray
    snapshots: list[Snapshot] = field(default_factory=list)
    window: tuple[int, int] = (0, 0)

    @property
    def dwelling_id(self) -> np.ndarray:
        """Published dwelling id (1-based) per storage index."""
        key = self.d[:, K.D_KEY]
        prog = key >= K.PROGRAMME_KEY
        n_regular = int((~prog).sum())
        return np.where(prog, n_regular + key - K.PROGRAMME_KEY, key) + 1

    def programme_dwellings(self) -> tuple[np.ndarray, np.ndarray]:
        """(published dwelling ids, programme line index) of the programme's dwellings, in id order."""
        rows = np.flatnonzero(self.d[:, K.D_KEY] >= K.PROGRAMME_KEY)
        rows = rows[np.argsort(self.dwelling_id[rows], kind="stable")]
        return self.dwelling_id[rows].astype(np.int64), self.d[rows, K.D_LINE].astype(np.int64)

    def household_key(self) -> np.ndarray:
        """Stable key per household index."""
        return self.hh[:, K.H_KEY]

    def dwelling_key(self) -> np.ndarray:
        """Stable key per dwelling index."""
        return self.d[:, K.D_KEY]

    def moves_column(self, name: str) -> np.ndarray:
        """One column of the raw moves by its published name (``to_dwelling`` etc., storage indices, -1 null)."""
        return self.moves[:, MOVE_COLUMNS[name]]

    def dwellings_column(self, name: str) -> np.ndarray:
        """One column of the raw dwellings by name (codes as indices into schema's code lists)."""
        return self.d[:, DWELLING_COLUMNS[name]]


MOVE_COLUMNS = {"household": K.M_HH, "day": K.M_DAY, "from_dwelling": K.M_FROM, "to_dwelling": K.M_TO,
                "origin": K.M_ORIGIN, "destination": K.M_DEST, "vacates": K.M_VAC, "fills": K.M_FILL,
                "size": K.M_SIZE, "adults": K.M_ADULTS, "age_head": K.M_AGE, "income": K.M_INCOME,
                "household_type": K.M_HTYPE, "born_abroad": K.M_ABROAD, "search_income": K.M_SINC}
DWELLING_COLUMNS = {"tenure": K.D_TENURE, "rooms": K.D_ROOMS, "area": K.D_AREA, "municipality": K.D_MUNI,
                    "area_type": K.D_ATYPE, "landlord": K.D_LANDLORD, "completed": K.D_COMPLETED,
                    "allocation": K.D_ALLOC, "income_ceiling": K.D_CEILING, "programme_line": K.D_LINE}


def _year_key(seed: int, year_index: int) -> np.uint64:
    return np.random.SeedSequence(seed, spawn_key=(2, year_index)).generate_state(1, np.uint64)[0]


INCOME_CAP = 2**31 - 1  # snapshot incomes are int32


def _snapshot(hh: np.ndarray, p: np.ndarray, n_p: int, year: int) -> Snapshot:
    # int32 columns: the panel is the largest output, keep it compact
    return Snapshot(year, *K.snapshot_rows(hh, p, n_p, INCOME_CAP))


def _observed_income(mv: np.ndarray, pe: np.ndarray, p: np.ndarray, row0: int) -> None:
    """Set the year's move incomes to what the registers show (docs/synthetic.md, "Moves").

    A member's income is the one of the year-end snapshot when the member is in
    it; a member who left the area or died before 31 December contributes the
    previous snapshot's income (0 for a child born that year). Called at the
    end of the year, before the snapshot; ``pe``'s ``E_ROW`` names each
    member's move.
    """
    member = pe[:, K.E_ROW] >= 0
    q = pe[member, K.E_PERSON]
    present = p[q, K.P_HH] >= 0
    income = np.minimum(np.where(present, p[q, K.P_INCOME], p[q, K.P_INCPREV]), INCOME_CAP)
    total = np.zeros(len(mv), np.int64)
    np.add.at(total, pe[member, K.E_ROW] - row0, income)
    mv[:, K.M_INCOME] = total


def _compact_seekers(sk: np.ndarray, cnt: np.ndarray, hh: np.ndarray, p: np.ndarray, next_day: int) -> None:
    """Drop finished seekers, keeping order, and re-point households and persons.

    Prospective arrivals who found nothing by 31 December do not carry over
    (their details live in that year's arrival arrays): they settled elsewhere.
    """
    n = cnt[K.C_SK]
    keep = ((sk[:n, K.S_ACTIVE] == 1) & (sk[:n, K.S_EXPIRE] >= next_day)
            & (sk[:n, K.S_KIND] < K.SK_INMIG))
    new_index = np.where(keep, np.cumsum(keep) - 1, -1)
    for table, col, used in ((hh, K.H_SEEKER, cnt[K.C_HH]), (p, K.P_SEEKER, cnt[K.C_P])):
        ref = table[:used, col]
        has = ref >= 0
        ref[has] = new_index[ref[has]]
    kept = int(keep.sum())
    sk[:kept] = sk[:n][keep]
    cnt[K.C_SK] = kept


def simulate(cfg: SynthConfig, seed: int, progress: Callable[[int], None] | None = None,
             programme: Programme | None = None) -> RawRegister:
    """Run the whole window; ``progress(year)`` is called after each simulated year.

    ``programme`` (a :class:`~flyttkedja.synth.programme.Programme`), when
    given, adds its dwellings to each year's regular new builds (a scenario's
    programme). They draw from their own stream
    (``SeedSequence(seed, spawn_key=(3, year))``), carry their own keys and do
    not count in the stock that sets the regular construction volume, so the
    regular builds, the arrivals and every household draw are the same as
    without it. Without a programme nothing changes.
    """
    if programme is not None:
        programme.validate(cfg)
    K.compile_kernels()
    first, years = cfg.first_year, cfg.years
    window = (day_number(dt.date(first, 1, 1)), day_number(dt.date(first + years - 1, 12, 31)))
    rng0 = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    region = initial_region(cfg, rng0, window[0], room=2.0)
    d, hh, p = region.d, region.hh_room, region.p_room  # the first year's households and persons fit
    btype, floor, building = [region.building_type], [region.floor_area], [region.building_id]
    cnt = np.zeros(K.C_NCOL, np.int64)
    cnt[K.C_HH], cnt[K.C_P], cnt[K.C_D] = len(region.hh), len(region.p), len(d)
    sk = np.zeros((1024, K.S_NCOL), np.int64)
    wd = np.zeros(1024, np.int64)
    par = kernel_params(cfg)
    cost = (cfg.by_tenure("market", "required_income")).astype(np.float64)
    n_muni = len(cfg.section("municipality"))
    snapshots = [_snapshot(hh, p, cnt[K.C_P], first - 1)]
    # The whole window's moves and person events, written in place year by year (each year's kernel gets the
    # rows after the last year's), and the year's scratch tables, kept across years: no per-year copies.
    moves = np.empty((0, K.M_NCOL), np.int64)
    events = np.empty((0, K.E_NCOL), np.int64)
    n_events = 0
    ev_rows = np.empty((0, 3), np.int64)
    ve = np.empty((0, 3), np.int64)
    vq = np.empty(0, np.int64)
    next_building = int(building[0].max()) + 1
    n_regular, n_programme = len(d), 0  # dwellings numbered so far (their keys)
    for yi in range(years):
        year = first + yi
        day0 = day_number(dt.date(year, 1, 1))
        ndays = day_number(dt.date(year + 1, 1, 1)) - day0
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, yi)))
        # the regular volume follows the regular stock ever built, which no programme changes
        nb_d, nb_btype, nb_floor, nb_building, completion = new_builds(
            cfg, rng, region, n_regular, day0, ndays, next_building)
        nb_d[:, K.D_KEY] = n_regular + np.arange(len(nb_d))
        n_regular += len(nb_d)
        next_building = int(nb_building.max()) + 1 if len(nb_building) else next_building
        if programme is not None:
            prng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3, yi)))
            extra = programme_dwellings(cfg, programme, yi, prng, region, day0, ndays, next_building)
            if len(extra[0]):
                extra[0][:, K.D_KEY] = K.PROGRAMME_KEY + n_programme + np.arange(len(extra[0]))
                n_programme += len(extra[0])
                nb_d, nb_btype, nb_floor, nb_building, completion = (
                    np.concatenate([a, b]) for a, b in zip((nb_d, nb_btype, nb_floor, nb_building, completion), extra))
                next_building = int(nb_building.max()) + 1
        n_d = cnt[K.C_D]
        d = _grow(d, n_d + len(nb_d))
        d[n_d: n_d + len(nb_d)] = nb_d
        cnt[K.C_D] = n_d + len(nb_d)
        btype.append(nb_btype), floor.append(nb_floor), building.append(nb_building)
        nb = np.stack([np.arange(n_d, n_d + len(nb_d)), completion], axis=1).astype(np.int64)
        # prospective arrivals are exogenous demand: the same in every run of the seed
        arr, ap = arrivals(cfg, rng, cfg.residents, year, day0, ndays)

        n_hh, n_p = int(cnt[K.C_HH]), int(cnt[K.C_P])
        ev_rows = _grow(ev_rows, 2 * n_hh, 0)
        ev = ev_rows[: 2 * n_hh]
        with one_thread(n_p < YEAR_START_SERIAL_BELOW):  # the same draws either way
            K.year_start(hh, p, d, n_hh, n_p, year, day0, ndays, _year_key(seed, yi), par, ev)
        kinds = ev[:, 1]
        n_ev = int(np.count_nonzero(kinds >= 0))
        bound = n_ev + len(arr) + 2 * int(cnt[K.C_SK]) + 16
        # New rows this year, at most: a household for each leave-home or separation event (each makes at most
        # one seeker or joins one couple's), two for each carried seeker (a couple leaving two parental homes)
        # and one for each arrival; a person for each birth and arrival person. Tight
        # bounds keep _grow from copying the tables more often than needed.
        n_forming = int(np.count_nonzero((kinds == K.EV_LEAVE) | (kinds == K.EV_SEPARATE)))
        hh = _grow(hh, n_hh + n_forming + 2 * int(cnt[K.C_SK]) + len(arr) + 1)
        p = _grow(p, n_p + int(np.count_nonzero(kinds == K.EV_BIRTH)) + len(ap) + 1)
        sk = _grow(sk, int(cnt[K.C_SK]) + n_ev + len(arr) + 1)
        wd = _grow(wd, int(cnt[K.C_WD]) + bound + 1)
        max_size = int(hh[:n_hh, K.H_SIZE].max(initial=1)) + 2
        max_size = max(max_size, int(np.diff(arr[:, [K.A_PSTART, K.A_PEND]], axis=1).max(initial=1)))
        cnt[K.C_MV] = cnt[K.C_PE] = 0
        row0 = int(cnt[K.C_ROW0])
        moves = _reserve(moves, row0 + bound, row0, yi, years)
        events = _reserve(events, n_events + bound * max_size + n_ev + 16, n_events, yi, years)
        ve = _grow(ve, int(cnt[K.C_D]) + bound + 16, 0)
        vq = _grow(vq, d.shape[0] + 1, 0)
        m = K.Market(
            hh=hh, p=p, d=d, sk=sk, cnt=cnt, mv=moves[row0:], pe=events[n_events:], wd=wd, ve=ve,
            vhead=np.empty(K.N_SEG * n_muni * K.N_ATYPE, np.int64),
            vtail=np.empty(K.N_SEG * n_muni * K.N_ATYPE, np.int64),
            shead=np.empty(K.N_SEG * (n_muni + 1) * K.N_GROUP, np.int64),
            stail=np.empty(K.N_SEG * (n_muni + 1) * K.N_GROUP, np.int64),
            spay=np.zeros(K.N_SEG * (n_muni + 1) * K.N_GROUP, np.int64),
            scount=np.empty(K.N_SEG * (n_muni + 1) * K.N_BAND, np.int64),
            vq=vq, pair=np.empty((3, n_muni), np.int64), arr=arr, ap=ap,
            par=par, cost=cost, year=np.int64(year), key=_year_key(seed, 1000 + yi))
        K.simulate_year(m, ev, nb, day0, ndays)
        mv, pe = m.mv[: cnt[K.C_MV]], m.pe[: cnt[K.C_PE]]
        _observed_income(mv, pe, p, row0)
        n_events += int(cnt[K.C_PE])
        cnt[K.C_ROW0] += cnt[K.C_MV]
        snapshots.append(_snapshot(hh, p, int(cnt[K.C_P]), year))
        _compact_seekers(sk, cnt, hh, p, day0 + ndays)
        if progress is not None:
            progress(year)
    return RawRegister(
        cfg=cfg, seed=seed, region=region,
        d=d[: cnt[K.C_D]], building_type=np.concatenate(btype), floor_area=np.concatenate(floor),
        building_id=np.concatenate(building), hh=hh[: cnt[K.C_HH]], p=p[: cnt[K.C_P]],
        moves=moves[: cnt[K.C_ROW0]], person_events=events[:n_events],
        snapshots=snapshots, window=window,
    )
