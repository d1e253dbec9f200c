"""Paired microsimulation: the synthetic market with and without a programme.

Each replication runs the simulator with one seed as it is and once per
programme with the programme's dwellings added (the synth hook in
:func:`flyttkedja.synth.simulate.simulate`). Both runs share every random
stream of the households, the regular new builds and the arrivals (common
random numbers); the programme's dwellings draw from their own stream.

Every run becomes the canonical register tables (``moves``, ``dwellings``:
:func:`flyttkedja.synth.register.build_register`) and is measured with the
definitions of :mod:`flyttkedja.analysis.groups` (target groups; the income
reference per calendar year, of the baseline run's movers, for both runs):

- *net*: every measure counted over the whole market (:func:`market_counts`),
  run − baseline;
- *gross*: the chains the programme's own dwellings start, traced inside the
  programme's run with :func:`flyttkedja.trace` (:func:`chain_counts`).

Counts are kept by municipality (of the dwelling moved into; of the vacated
dwelling for vacancies), so that the programme's municipality and the rest
of the region can be told apart. :func:`replicate` is one replication (the
unit an executor runs); :mod:`flyttkedja.scenario.compare` turns replications
into estimates.

Target-group allocation of a line is not modelled in the market (any
eligible seeker may win a dwelling); the transition model applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.analysis.groups import HOUSEHOLD_COLUMNS, TARGET_GROUPS, household_frame, income_reference, \
    target_flags
from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, TENURES
from flyttkedja.synth import _kernels as SK
from flyttkedja.synth.config import SynthConfig
from flyttkedja.synth.population import FLOOR_AREA_BY_ROOMS, _buildings, _dwellings
from flyttkedja.synth.register import build_register
from flyttkedja.synth.simulate import simulate

GROUPS = tuple(TARGET_GROUPS)
# the counts of one run, by municipality: moves that fill a dwelling, vacated dwellings by tenure and by area
# type, and moving (filling) households of each target group
COUNTS = ("moves", *(f"vacancies_{t}" for t in TENURES), *(f"vacancies_area_{a}" for a in AREA_TYPES),
          *(f"reached_{g}" for g in GROUPS))


def programme_hook(cfg: SynthConfig, programme, years: int):
    """The ``programme`` callable for the simulator: each line's dwellings spread evenly over ``years``.

    A line's dwellings go to the areas of its municipality (and area type),
    uniformly; the cost is the preset's for the tenure, rooms and area type,
    times the new-build premium and the line's ``level``. ``hook.made``
    lists, per year with programme dwellings, (building ids, line index) of
    each dwelling in the order the simulator adds them.
    """
    codes = [m["code"] for m in cfg.section("municipality")]
    for line in programme.lines:
        if line.municipality is not None and line.municipality not in codes:
            raise ValueError(f"programme {programme.name!r}: municipality {line.municipality} is not in the "
                             f"preset; choose one of {', '.join(codes)}")
    premium = cfg.section("market")["new_build_premium"]
    size = cfg.section("new_builds")["project_size"]

    def hook(yi, rng, region, day0, ndays, building_start):
        if yi >= years:
            return (np.empty((0, SK.D_NCOL), np.int64),) + tuple(np.empty(0, t) for t in (np.int8, np.int16, np.int64, np.int64))
        parts = []
        for li, line in enumerate(programme.lines):
            n = line.count * (yi + 1) // years - line.count * yi // years
            ok = np.ones(len(region.area_muni), bool)
            if line.municipality is not None:
                ok &= region.area_muni == codes.index(line.municipality)
            if line.area_type is not None:
                ok &= region.area_type == AREA_TYPES.index(line.area_type)
            if n == 0:
                continue
            if not ok.any():
                raise ValueError(f"programme {programme.name!r}: no area of type {line.area_type} in "
                                 f"municipality {line.municipality}")
            area = rng.choice(np.flatnonzero(ok), size=n)
            tenure = np.full(n, TENURES.index(line.tenure))
            rooms = np.full(n, line.rooms)
            d, _, _ = _dwellings(cfg, rng, area, region.area_type[area], tenure, rooms, region.area_muni[area],
                                 np.full(n, 1.0 if line.landlord == "public" else 0.0))
            btype = np.full(n, BUILDING_TYPES.index(line.building_type), np.int8)
            floor = np.maximum(FLOOR_AREA_BY_ROOMS[rooms - 1] + 20 * btype + rng.normal(0, 8, n), 15).astype(np.int16)
            d[:, SK.D_COST] = (d[:, SK.D_COST] * premium * line.level).astype(np.int64)
            d[:, SK.D_STATE] = SK.DS_FUTURE
            parts.append((d, btype, floor, area * 3 + tenure, np.full(n, li, np.int64)))
        if not parts:
            return hook(years, rng, region, day0, ndays, building_start)
        d, btype, floor, group, line_of = (np.concatenate(x) for x in zip(*parts))
        building = _buildings(group, btype, size["multi_dwelling"], size["small_house"], building_start)
        days = day0 + rng.integers(0, ndays, int(building.max()) - building_start + 1)
        hook.made.append((building, line_of))
        return d, btype, floor, building, days[building - building_start]

    hook.made = []
    return hook


@dataclass
class MarketRun:
    """One market run as canonical tables; ``programme_dwellings`` (ids) and ``programme_line`` (index)."""

    moves: pa.Table
    dwellings: pa.Table
    window: tuple
    max_gap_days: int
    programme_dwellings: np.ndarray
    programme_line: np.ndarray


def market_run(cfg: SynthConfig, seed: int, programme=None, years: int | None = None) -> MarketRun:
    """Simulate the market (with ``programme``'s dwellings over ``years`` when given) as register tables."""
    hook = programme_hook(cfg, programme, cfg.years if years is None else years) if programme is not None else None
    reg = build_register(simulate(cfg, int(seed), programme=hook), {})
    ids, line = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if hook is not None and hook.made:
        buildings = np.concatenate([b for b, _ in hook.made])
        lines = np.concatenate([x for _, x in hook.made])
        bid = reg.dwellings["building_id"].to_numpy()
        rows = np.flatnonzero(np.isin(bid, buildings))  # programme buildings hold programme dwellings only
        if len(rows) != len(lines):
            raise RuntimeError(f"programme {programme.name!r}: {len(lines)} dwellings made, {len(rows)} found")
        ids = reg.dwellings["dwelling_id"].to_numpy()[rows]
        line = lines
    return MarketRun(reg.moves, reg.dwellings, reg.window, reg.max_gap_days, ids, line)


def _dwelling_codes(dwellings: pa.Table, munis: list[str]) -> pl.DataFrame:
    """dwelling_id with integer codes of municipality, tenure and area type."""
    dw = pl.from_arrow(dwellings.select(["dwelling_id", "municipality", "tenure", "area_type"]))
    enum = lambda col, values: pl.col(col).cast(pl.String).replace_strict(  # noqa: E731
        list(values), list(range(len(values))), default=-1, return_dtype=pl.Int64)
    return dw.select("dwelling_id", muni=enum("municipality", munis), tenure=enum("tenure", TENURES),
                     atype=enum("area_type", AREA_TYPES))


def _tally(frame: pl.DataFrame, n_units: int, U: int) -> np.ndarray:
    """(units, COUNTS, municipalities) counts from rows with ``unit, to_muni, vac, from_muni, from_tenure,
    from_atype`` and one boolean column ``group_{g}`` per target group."""
    out = np.zeros((n_units, len(COUNTS), U))
    unit = frame["unit"].to_numpy()
    to_m = frame["to_muni"].fill_null(-1).to_numpy()
    ok = to_m >= 0
    np.add.at(out, (unit[ok], 0, to_m[ok]), 1.0)
    for g in GROUPS:
        sel = ok & frame[f"group_{g}"].to_numpy()
        np.add.at(out, (unit[sel], COUNTS.index(f"reached_{g}"), to_m[sel]), 1.0)
    vac = frame["vac"].to_numpy() & (frame["from_muni"].fill_null(-1).to_numpy() >= 0)
    fm = frame["from_muni"].fill_null(-1).to_numpy()
    for col, values, prefix in (("from_tenure", TENURES, "vacancies_"), ("from_atype", AREA_TYPES, "vacancies_area_")):
        code = frame[col].fill_null(-1).to_numpy()
        for i, v in enumerate(values):
            sel = vac & (code == i)
            np.add.at(out, (unit[sel], COUNTS.index(f"{prefix}{v}"), fm[sel]), 1.0)
    return out


def _with_dwellings(frame: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    to = codes.select(pl.col("dwelling_id").alias("to_dwelling"), pl.col("muni").alias("to_muni"))
    frm = codes.select(pl.col("dwelling_id").alias("from_dwelling"), pl.col("muni").alias("from_muni"),
                       pl.col("tenure").alias("from_tenure"), pl.col("atype").alias("from_atype"))
    return (frame.join(to, on="to_dwelling", how="left", maintain_order="left")
            .join(frm, on="from_dwelling", how="left", maintain_order="left"))


def _flags(frame: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    flags = target_flags(household_frame(frame, reference), TARGET_GROUPS)
    return flags.rename({g: f"group_{g}" for g in flags.columns})


def market_counts(run: MarketRun, reference: pl.DataFrame, munis: list[str]) -> np.ndarray:
    """(COUNTS, municipalities) over the whole market: every move that fills a dwelling, every vacated one."""
    mv = pl.from_arrow(run.moves.select(["move_date", "from_dwelling", "to_dwelling", "vacates", "fills",
                                          *HOUSEHOLD_COLUMNS]))
    mv = mv.with_columns(to_dwelling=pl.when(pl.col("fills")).then(pl.col("to_dwelling")),
                         vac=pl.col("vacates").fill_null(False))
    frame = _with_dwellings(mv, _dwelling_codes(run.dwellings, munis))
    frame = pl.concat([frame.with_columns(unit=pl.lit(0, pl.Int64)), _flags(frame, reference)], how="horizontal")
    return _tally(frame, 1, len(munis))[0]


def chain_counts(run: MarketRun, reference: pl.DataFrame, munis: list[str], n_lines: int) -> np.ndarray:
    """(lines, COUNTS, municipalities) in the chains the programme's dwellings start, traced in this run."""
    from flyttkedja.core import trace

    out = np.zeros((n_lines, len(COUNTS), len(munis)))
    if len(run.programme_dwellings) == 0:
        return out
    cs = trace(run.moves, run.dwellings, run.programme_dwellings, window=run.window, max_gap_days=run.max_gap_days)
    links = cs.link_attributes(list(HOUSEHOLD_COLUMNS))
    line_of = pl.DataFrame({"seed_dwelling": run.programme_dwellings, "unit": run.programme_line})
    chain_unit = cs.chains.select("chain_id", "seed_dwelling").join(line_of, on="seed_dwelling", how="left")
    links = links.join(chain_unit.select("chain_id", "unit"), on="chain_id", how="left", maintain_order="left")
    links = links.with_columns(vac=pl.col("from_dwelling").is_not_null())
    frame = _with_dwellings(links, _dwelling_codes(run.dwellings, munis))
    frame = pl.concat([frame, _flags(frame, reference)], how="horizontal")
    return _tally(frame, n_lines, len(munis))


def replicate(cfg: SynthConfig, programmes, years: int, seed: int) -> dict:
    """One replication: the baseline and every programme's run with ``seed``.

    Returns ``{"base": (COUNTS, U), "total": [(COUNTS, U) per programme],
    "gross": [(lines, COUNTS, U) per programme]}`` (U = the preset's
    municipalities in preset order); plain arrays, so that any executor can
    carry them.
    """
    munis = [m["code"] for m in cfg.section("municipality")]
    base = market_run(cfg, seed)
    reference = income_reference(base.moves)
    out = {"base": market_counts(base, reference, munis), "total": [], "gross": []}
    for prog in programmes:
        run = market_run(cfg, seed, prog, years)
        out["total"].append(market_counts(run, reference, munis))
        out["gross"].append(chain_counts(run, reference, munis, len(prog.lines)))
    return out
