"""Paired microsimulation: the synthetic market with and without a programme.

Each replication runs the simulator twice with the same seed: once as it is
and once with the programme's dwellings added (the synth hook in
:func:`flyttkedja.synth.simulate.simulate`). Both runs share every random
stream of the households, the regular new builds and the arrivals (common
random numbers); the programme's dwellings draw from their own stream. The
difference of the two runs is the programme's effect in that replication;
the mean over replications with a t interval is the estimate.

Target-group allocation of a line is not modelled in the market (any
eligible seeker may win a dwelling); the transition model applies it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flyttkedja.analysis.groups import consumption_units
from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, HOUSEHOLD_TYPES, TENURES
from flyttkedja.synth import _kernels as SK
from flyttkedja.synth.config import SynthConfig
from flyttkedja.synth.population import FLOOR_AREA_BY_ROOMS, _buildings, _dwellings
from flyttkedja.synth.simulate import simulate

GROUPS = ("young_adults", "seniors", "low_income", "lowest_quintile", "families", "born_abroad")


def programme_hook(cfg: SynthConfig, programme, years: int):
    """The ``programme`` callable for the simulator: each line's dwellings spread evenly over ``years``.

    A line's dwellings go to the areas of its municipality (and area type),
    uniformly; the cost is the preset's for the tenure, rooms and area type,
    times the new-build premium and the line's ``level``.
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
        for line in programme.lines:
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
            parts.append((d, btype, floor, area * 3 + tenure))
        if not parts:
            return hook(years, rng, region, day0, ndays, building_start)
        d, btype, floor, group = (np.concatenate(x) for x in zip(*parts))
        building = _buildings(group, btype, size["multi_dwelling"], size["small_house"], building_start)
        days = day0 + rng.integers(0, ndays, int(building.max()) - building_start + 1)
        return d, btype, floor, building, days[building - building_start]

    return hook


def income_per_cu(mv: np.ndarray) -> np.ndarray:
    """Income per consumption unit of simulator move rows (SCB's scale, :func:`analysis.groups.consumption_units`)."""
    frame = pl.DataFrame({"size": mv[:, SK.M_SIZE], "adults": mv[:, SK.M_ADULTS],
                          "household_type": np.asarray(HOUSEHOLD_TYPES, dtype=object)[mv[:, SK.M_HTYPE]]})
    return mv[:, SK.M_INCOME] / frame.select(consumption_units()).to_series().to_numpy()


def income_cuts(raw) -> tuple[float, float]:
    """Median and 20th percentile of income per consumption unit of moving households, person-weighted."""
    mv = raw.moves
    per_cu = income_per_cu(mv)
    order = np.argsort(per_cu, kind="stable")
    cum = np.cumsum(mv[order, SK.M_SIZE].astype(np.float64))
    pick = lambda q: float(per_cu[order][np.searchsorted(cum, q * cum[-1])]) if len(cum) else 0.0  # noqa: E731
    return pick(0.5), pick(0.2)


def measures(raw, cuts: tuple[float, float]) -> dict[str, float]:
    """Counts of one run: housing moves, vacancies by tenure and area type, households housed by group."""
    mv, d = raw.moves, raw.d
    into = mv[:, SK.M_TO] >= 0
    vac = (mv[:, SK.M_VAC] == 1) & (mv[:, SK.M_FROM] >= 0)
    frm = d[mv[vac, SK.M_FROM]]
    out = {"moves_per_100_new": float(into.sum())}
    for t, name in enumerate(TENURES):
        out[f"vacancies_{name}_per_100_new"] = float((frm[:, SK.D_TENURE] == t).sum())
    for a, name in enumerate(AREA_TYPES):
        out[f"vacancies_area_{name}_per_100_new"] = float((frm[:, SK.D_ATYPE] == a).sum())
    m = mv[into & (mv[:, SK.M_FILL] == 1)]
    per_cu = income_per_cu(m)
    age = m[:, SK.M_AGE]
    flags = {
        "young_adults": (age >= 18) & (age <= 29), "seniors": age >= 65,
        "low_income": per_cu < 0.6 * cuts[0], "lowest_quintile": per_cu < cuts[1],
        "families": m[:, SK.M_SIZE] > m[:, SK.M_ADULTS], "born_abroad": m[:, SK.M_ABROAD] == 1,
    }
    for g in GROUPS:
        out[f"reached_{g}_per_100_new"] = float(flags[g].sum())
    return out


def paired_runs(cfg: SynthConfig, programmes, years: int, seeds, progress=None) -> dict[str, np.ndarray]:
    """Per programme: (replications, measures) differences programme − baseline, and the measure names."""
    diffs = {p.name: [] for p in programmes}
    names = None
    for seed in seeds:  # one replication = one baseline + one run per programme, all with this seed
        base = simulate(cfg, int(seed))
        cuts = income_cuts(base)
        b = measures(base, cuts)
        names = list(b)
        if progress:
            progress()
        for prog in programmes:
            run = simulate(cfg, int(seed), programme=programme_hook(cfg, prog, years))
            r = measures(run, cuts)
            diffs[prog.name].append([r[k] - b[k] for k in names])
            if progress:
                progress()
    return {"names": names, **{k: np.array(v) for k, v in diffs.items()}}
