"""The synthetic register: canonical Arrow tables, ground truth, and its directory.

:class:`Register` holds the tables the briefing's contract names;
:func:`build_register` turns the simulator's arrays into them (household
and person ids are index + 1, dwelling ids the stable numbers of
:attr:`RawRegister.dwelling_id`; days are date32), :meth:`Register.write` writes the directory
atomically and :func:`read_register` reads it back.

Directory layout: a register directory of :mod:`flyttkedja.store` (every
table of :data:`TABLES` and :data:`TRUTH`, the yearly person snapshots, and
``register.json`` with the window, maximum gap, row counts and generator settings).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flyttkedja import store
from flyttkedja.io import atomic_directory, write_parquet
from flyttkedja.schema import (
    AREA_TYPES, BUILDING_TYPES, DESTINATIONS, END_REASONS, FAMILY_POSITIONS, FORMATIONS, HOUSEHOLD_TYPES, LANDLORDS,
    ORIGINS, PERSON_EVENT_KINDS, SCHEMAS, SEXES, TENURES,
)
from flyttkedja.synth import _kernels as K
from flyttkedja.synth import _truth
from flyttkedja.synth.simulate import EPOCH, RawRegister, Snapshot

TRUTH_CHAINS = pa.schema([
    pa.field("seed_dwelling", pa.int64(), nullable=False),
    pa.field("seed_date", pa.date32(), nullable=False),
    pa.field("length", pa.int32(), nullable=False),
    pa.field("end_reason", pa.string(), nullable=False),
    pa.field("end_date", pa.date32(), nullable=False),
])
TRUTH_LINKS = pa.schema([
    pa.field("seed_dwelling", pa.int64(), nullable=False),
    pa.field("step", pa.int32(), nullable=False),
    pa.field("move_row", pa.int64(), nullable=False),
])
TRUTH_MOVES = pa.schema([
    pa.field("move_row", pa.int64(), nullable=False),
    pa.field("filled_after_move", pa.int64(), nullable=True),
    pa.field("filled_new_build", pa.bool_(), nullable=False),
    pa.field("joined_move", pa.int64(), nullable=True),
    pa.field("freed_dwelling", pa.int64(), nullable=True),
])
TABLES = ("dwellings", "households", "moves", "areas", "person_events")
TRUTH = ("truth_chains", "truth_links", "truth_moves")


@dataclass
class Register:
    """A synthetic register with its ground truth (see the module docstring).

    Example
    -------
    >>> reg = flyttkedja.synth.generate("tiny", seed=1)          # doctest: +SKIP
    >>> reg.write("run/register")                                  # doctest: +SKIP
    """

    dwellings: pa.Table
    households: pa.Table
    moves: pa.Table
    areas: pa.Table
    panel: pa.Table | PersonPanel = field(repr=False)
    person_events: pa.Table
    truth_chains: pa.Table
    truth_links: pa.Table
    truth_moves: pa.Table
    window: tuple[dt.date, dt.date]
    max_gap_days: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def persons(self) -> pa.Table:
        """The yearly person panel (PERSONS schema), all snapshot years in one table.

        A freshly generated register keeps the panel compact and builds this
        table on first access; :meth:`write` writes it year by year without
        ever holding all of it.
        """
        if isinstance(self.panel, PersonPanel):
            self.panel = pa.concat_tables([self.panel.table(i) for i in range(len(self.panel.snapshots))])
        return self.panel

    def write(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the register directory atomically; returns its path."""
        with atomic_directory(directory, overwrite=overwrite) as tmp:
            for name in (*TABLES, *TRUTH):
                write_parquet(getattr(self, name), store.register_file(tmp, name))
            for year, part in self._panel_years():
                write_parquet(part, store.persons_file(tmp, year))
            store.write_register_manifest(tmp, self.manifest())
        return Path(directory)

    def _panel_years(self):
        if isinstance(self.panel, PersonPanel):
            for i, snap in enumerate(self.panel.snapshots):
                yield snap.year, self.panel.table(i)
            return
        for year in sorted(pc.unique(self.panel["year"]).to_pylist()):
            yield year, self.panel.filter(pc.equal(self.panel["year"], year))

    def manifest(self) -> store.RegisterManifest:
        """What ``register.json`` records: window, maximum gap, row counts, generator settings."""
        rows = {name: getattr(self, name).num_rows for name in (*TABLES, *TRUTH)}
        rows["persons"] = (sum(len(s.person) for s in self.panel.snapshots)
                           if isinstance(self.panel, PersonPanel) else self.panel.num_rows)
        return store.RegisterManifest(window=self.window, max_gap_days=self.max_gap_days, rows=rows,
                                      source="flyttkedja synth", extra=dict(self.meta))


def read_register(directory: str | os.PathLike) -> Register:
    """Read a register directory written by :meth:`Register.write`."""
    manifest = store.require_register_manifest(directory)
    tables = {name: pq.read_table(store.register_file(directory, name)) for name in (*TABLES, *TRUTH)}
    parts = store.persons_files(directory)
    tables["panel"] = pa.concat_tables([pq.read_table(f) for f in parts]) if parts else SCHEMAS["persons"].empty_table()
    return Register(**tables, window=manifest.window, max_gap_days=manifest.max_gap_days, meta=manifest.extra)


# --------------------------------------------------------------------- building
def _codes(values: np.ndarray, code_list: tuple[str, ...]) -> pa.Array:
    """Integer codes (-1 = null) → string array of the code list."""
    idx = pa.array(values, mask=values < 0, type=pa.int32())
    return pc.take(pa.array(code_list), idx)


def _ids(index: np.ndarray) -> pa.Array:
    """Indices (-1 = null) → int64 ids (index + 1)."""
    return pa.array(index + 1, mask=index < 0, type=pa.int64())


def _dwelling_ids(index: np.ndarray, lookup: np.ndarray) -> pa.Array:
    """Dwelling indices (-1 = null) → published dwelling ids."""
    return pa.array(lookup[np.maximum(index, 0)], mask=index < 0, type=pa.int64())


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), mask=days < 0, type=pa.int32()).cast(pa.date32())


def _table(name: str, columns: dict[str, Any]) -> pa.Table:
    schema = SCHEMAS[name]
    return pa.Table.from_arrays([pa.array(columns[f.name], type=f.type) if not isinstance(columns[f.name], pa.Array)
                                 else columns[f.name].cast(f.type) for f in schema], schema=schema)


def _dwellings(raw: RawRegister, muni_codes: pa.Array) -> pa.Table:
    d = raw.d
    table = _table("dwellings", {
        "dwelling_id": raw.dwelling_id, "building_id": raw.building_id,
        "tenure": _codes(d[:, K.D_TENURE], TENURES), "landlord": _codes(d[:, K.D_LANDLORD], LANDLORDS),
        "building_type": _codes(raw.building_type.astype(np.int64), BUILDING_TYPES),
        "rooms": d[:, K.D_ROOMS].astype(np.int8), "floor_area_m2": raw.floor_area,
        "area_id": (d[:, K.D_AREA] + 1).astype(np.int32), "area_type": _codes(d[:, K.D_ATYPE], AREA_TYPES),
        "municipality": pc.take(muni_codes, pa.array(d[:, K.D_MUNI])),
        "completed": _dates(d[:, K.D_COMPLETED]), "demolished": _dates(d[:, K.D_DEMOLISHED]),
    })
    order = np.argsort(raw.dwelling_id, kind="stable")
    return table if (order == np.arange(len(order))).all() else table.take(order)


def _households(raw: RawRegister) -> pa.Table:
    hh = raw.hh
    return _table("households", {
        "household_id": np.arange(1, len(hh) + 1), "formation": _codes(hh[:, K.H_FORMATION], FORMATIONS),
        "formed": _dates(hh[:, K.H_FORMED]), "head_birth_year": hh[:, K.H_HEADBY].astype(np.int16),
        "head_sex": _codes(hh[:, K.H_HEADSEX], SEXES), "born_abroad": hh[:, K.H_ABROAD].astype(bool),
    })


def _moves(mv: np.ndarray, dwelling_id: np.ndarray) -> pa.Table:
    return _table("moves", {
        "household_id": mv[:, K.M_HH] + 1, "move_date": _dates(mv[:, K.M_DAY]),
        "from_dwelling": _dwelling_ids(mv[:, K.M_FROM], dwelling_id),
        "to_dwelling": _dwelling_ids(mv[:, K.M_TO], dwelling_id),
        "origin": _codes(mv[:, K.M_ORIGIN], ORIGINS), "destination": _codes(mv[:, K.M_DEST], DESTINATIONS),
        "vacates": mv[:, K.M_VAC].astype(bool), "fills": mv[:, K.M_FILL].astype(bool),
        "size": mv[:, K.M_SIZE].astype(np.int8), "adults": mv[:, K.M_ADULTS].astype(np.int8),
        "age_head": mv[:, K.M_AGE].astype(np.int16), "income": mv[:, K.M_INCOME],
        "household_type": _codes(mv[:, K.M_HTYPE], HOUSEHOLD_TYPES), "born_abroad": mv[:, K.M_ABROAD].astype(bool),
    })


def _areas(raw: RawRegister, muni_codes: pa.Array) -> pa.Table:
    """Areas with the median household income per consumption unit at the start."""
    region = raw.region
    n_areas = len(region.area_muni)
    snap = raw.snapshots[0]
    # consumption units (SCB): 1 for the first adult, 0.51 for others, 0.52 for children
    adult = (raw.cfg.first_year - 1 - raw.p[snap.person, K.P_BY]) >= 18
    weight = np.where(adult, 0.51, 0.52)
    hh_index, first = np.unique(snap.household, return_index=True)
    units = np.bincount(snap.household, weights=weight, minlength=len(raw.hh))[hh_index] + 0.49
    income = np.bincount(snap.household, weights=snap.income, minlength=len(raw.hh))[hh_index]
    area = raw.d[snap.dwelling[first], K.D_AREA]
    per_unit = income / units
    order = np.lexsort((per_unit, area))
    area_s, value_s = area[order], per_unit[order]
    counts = np.bincount(area_s, minlength=n_areas)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    median = np.zeros(n_areas)
    has = counts > 0
    lo = start[has] + (counts[has] - 1) // 2
    hi = start[has] + counts[has] // 2
    median[has] = (value_s[lo] + value_s[hi]) / 2
    return _table("areas", {
        "area_id": np.arange(1, n_areas + 1, dtype=np.int32),
        "municipality": pc.take(muni_codes, pa.array(region.area_muni)),
        "area_type": _codes(region.area_type.astype(np.int64), AREA_TYPES),
        "median_income": np.round(median).astype(np.int64),
    })


@dataclass
class PersonPanel:
    """The yearly snapshots in compact numpy form; Arrow tables are built per year.

    At national size the panel is the largest output (over 100 million rows), so
    it is never built as one table unless asked for (:attr:`Register.persons`).
    """

    snapshots: list[Snapshot]
    birth_year: np.ndarray   # per person index
    sex: np.ndarray
    born_abroad: np.ndarray
    dwelling_muni: np.ndarray  # per dwelling index
    dwelling_area: np.ndarray
    muni_codes: pa.Array
    dwelling_id: np.ndarray  # published id per dwelling index

    @classmethod
    def from_raw(cls, raw: RawRegister, muni_codes: pa.Array) -> PersonPanel:
        return cls(raw.snapshots, raw.p[:, K.P_BY].astype(np.int16), raw.p[:, K.P_SEX].astype(np.int8),
                   raw.p[:, K.P_ABROAD].astype(bool), raw.d[:, K.D_MUNI].astype(np.int32),
                   (raw.d[:, K.D_AREA] + 1).astype(np.int32), muni_codes, raw.dwelling_id)

    def table(self, i: int) -> pa.Table:
        """The PERSONS table of the ``i``-th snapshot."""
        snap = self.snapshots[i]
        q = snap.person
        return _table("persons", {
            "person_id": q.astype(np.int64) + 1, "year": np.full(len(q), snap.year, np.int16),
            "dwelling_id": _dwelling_ids(snap.dwelling.astype(np.int64), self.dwelling_id), "household_id": _ids(snap.household.astype(np.int64)),
            "birth_year": self.birth_year[q], "sex": pc.take(pa.array(SEXES), pa.array(self.sex[q])),
            "born_abroad": self.born_abroad[q], "income": snap.income.astype(np.int64),
            "municipality": pc.take(self.muni_codes, pa.array(self.dwelling_muni[snap.dwelling])),
            "area_id": self.dwelling_area[snap.dwelling],
            "family_position": pc.take(pa.array(FAMILY_POSITIONS), pa.array(snap.position)),
        })


def _person_events(pe: np.ndarray, dwelling_id: np.ndarray) -> pa.Table:
    return _table("person_events", {
        "person_id": pe[:, K.E_PERSON] + 1, "event_date": _dates(pe[:, K.E_DAY]),
        "event": _codes(pe[:, K.E_KIND], PERSON_EVENT_KINDS),
        "from_dwelling": _dwelling_ids(pe[:, K.E_FROM], dwelling_id),
        "to_dwelling": _dwelling_ids(pe[:, K.E_TO], dwelling_id),
    })


def _truth_tables(raw: RawRegister, max_gap: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    mv, d = raw.moves, raw.d
    filled_after, filled_new, succ, ever, first_fill, nb_ever = _truth.fill_links(
        mv[:, K.M_SRC], mv[:, K.M_GAP], mv[:, K.M_FILL].astype(np.bool_), mv[:, K.M_TO], len(d), max_gap)
    completed = d[:, K.D_COMPLETED]
    seeds = np.flatnonzero(completed >= 0)
    seeds = seeds[np.lexsort((raw.dwelling_id[seeds], completed[seeds]))]
    length, reason, end_day, links, link_seed = _truth.walk_chains(
        seeds, completed, d[:, K.D_DEMOLISHED], first_fill, nb_ever, succ, ever, mv[:, K.M_DAY],
        mv[:, K.M_FROM], mv[:, K.M_VAC].astype(np.bool_), mv[:, K.M_ORIGIN], raw.window[1], max_gap)
    chains = pa.Table.from_arrays([
        pa.array(raw.dwelling_id[seeds], pa.int64()), _dates(completed[seeds]), pa.array(length, pa.int32()),
        _codes(reason.astype(np.int64), END_REASONS), _dates(end_day)], schema=TRUTH_CHAINS)
    step = np.arange(len(links)) - np.r_[0, np.cumsum(length)[:-1]].repeat(length)
    link_table = pa.Table.from_arrays([
        pa.array(raw.dwelling_id[seeds[link_seed]], pa.int64()), pa.array(step + 1, pa.int32()),
        pa.array(links, pa.int64())], schema=TRUTH_LINKS)
    joined = joined_moves(mv)
    moves = pa.Table.from_arrays([
        pa.array(np.arange(len(mv)), pa.int64()), pa.array(filled_after, mask=filled_after < 0, type=pa.int64()),
        pa.array(filled_new), pa.array(joined, mask=joined < 0, type=pa.int64()),
        _dwelling_ids(np.where(mv[:, K.M_VAC] == 1, mv[:, K.M_FROM], -1), raw.dwelling_id)], schema=TRUTH_MOVES)
    return chains, link_table, moves


def joined_moves(mv: np.ndarray) -> np.ndarray:
    """Per move: the row of the move that filled its ``to_dwelling`` the same day, if it joined that
    household there (a couple moving in together: one fills, the other joins); -1 otherwise."""
    joins = np.flatnonzero((mv[:, K.M_FILL] == 0) & (mv[:, K.M_TO] >= 0))
    fills = np.flatnonzero((mv[:, K.M_FILL] == 1) & (mv[:, K.M_TO] >= 0))
    out = np.full(len(mv), -1, np.int64)
    if len(joins) == 0 or len(fills) == 0:
        return out
    key = lambda rows: mv[rows, K.M_TO] * 100_000 + mv[rows, K.M_DAY]  # noqa: E731 (days < 100,000)
    order = np.argsort(key(fills), kind="stable")
    fk = key(fills)[order]
    at = np.searchsorted(fk, key(joins))
    hit = (at < len(fk)) & (fk[np.minimum(at, len(fk) - 1)] == key(joins))
    out[joins[hit]] = fills[order[at[hit]]]
    return out


def build_register(raw: RawRegister, meta: dict[str, Any], *, truth: bool = True) -> Register:
    """The canonical tables and ground truth from a finished simulation.

    ``truth=False`` leaves the three truth tables empty (their schemas, no
    rows): a scenario's market runs trace their own chains and never read them.
    """
    muni_codes = pa.array([m["code"] for m in raw.cfg.section("municipality")])
    max_gap = raw.cfg.max_gap_days
    chains, links, truth_moves = (_truth_tables(raw, max_gap) if truth else
                                  (TRUTH_CHAINS.empty_table(), TRUTH_LINKS.empty_table(), TRUTH_MOVES.empty_table()))
    window = tuple(EPOCH + dt.timedelta(days=int(x)) for x in raw.window)
    return Register(
        dwellings=_dwellings(raw, muni_codes), households=_households(raw), moves=_moves(raw.moves, raw.dwelling_id),
        areas=_areas(raw, muni_codes), panel=PersonPanel.from_raw(raw, muni_codes),
        person_events=_person_events(raw.person_events, raw.dwelling_id), truth_chains=chains, truth_links=links,
        truth_moves=truth_moves, window=window, max_gap_days=max_gap, meta=meta,
    )
