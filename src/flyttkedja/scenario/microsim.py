"""Paired microsimulation: the synthetic market with and without a programme.

Each replication runs the simulator twice with the same seed: once as it is
and once with the programme's dwellings added (the synth hook in
:func:`flyttkedja.synth.simulate.simulate`). Both runs share every random
stream of the households, the regular new builds and the arrivals (common
random numbers); the programme's dwellings draw from their own stream. The
difference of the two runs is the programme's effect in that replication;
the mean over replications with a t interval is the estimate.

A line's target group becomes the dwellings' allocation rule in the market
(seniors, young adults, low income, families: only eligible households get
them, at completion and at every re-letting; :data:`ALLOCATION_OF_GROUP`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flyttkedja.analysis.groups import consumption_units
from flyttkedja.schema import AREA_TYPES, HOUSEHOLD_TYPES, TENURES
from flyttkedja.synth.config import ConfigError, SynthConfig
from flyttkedja.synth.programme import Programme as SynthProgramme
from flyttkedja.synth.programme import ProgrammeLine
from flyttkedja.synth.simulate import simulate

GROUPS = ("young_adults", "seniors", "low_income", "lowest_quintile", "families", "born_abroad")
# a line's target group as the market's allocation rule (docs/synthetic.md, "Allocated housing");
# lowest_quintile and born_abroad are no allocation rule a landlord applies: such lines are open
ALLOCATION_OF_GROUP = {"seniors": "seniors", "young_adults": "young_adults", "low_income": "low_income",
                       "families": "families"}


def programme_hook(cfg: SynthConfig, programme, years: int) -> SynthProgramme:
    """The synth programme for the simulator: each line's dwellings spread evenly over ``years``.

    A line's dwellings go to the areas of its municipality (and area type),
    uniformly; the cost is the preset's for the tenure, rooms and area type,
    times the new-build premium and the line's ``level``; its target group
    becomes the allocation rule.
    """
    spec = SynthProgramme(tuple(ProgrammeLine(
        count=line.count, tenure=line.tenure, rooms=line.rooms, landlord=line.landlord,
        building_type=line.building_type, municipality=line.municipality, area_type=line.area_type,
        level=line.level, allocation=ALLOCATION_OF_GROUP.get(line.target_group, "open"))
        for line in programme.lines), years=years, name=programme.name)
    try:
        spec.validate(cfg)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return spec


def income_per_cu(raw, rows=slice(None)) -> np.ndarray:
    """Income per consumption unit of simulator moves ``rows`` (SCB's scale, :func:`analysis.groups.consumption_units`)."""
    col = lambda name: raw.moves_column(name)[rows]  # noqa: E731
    frame = pl.DataFrame({"size": col("size"), "adults": col("adults"),
                          "household_type": np.asarray(HOUSEHOLD_TYPES, dtype=object)[col("household_type")]})
    return col("income") / frame.select(consumption_units()).to_series().to_numpy()


def income_cuts(raw) -> tuple[float, float]:
    """Median and 20th percentile of income per consumption unit of moving households, person-weighted."""
    per_cu = income_per_cu(raw)
    order = np.argsort(per_cu, kind="stable")
    cum = np.cumsum(raw.moves_column("size")[order].astype(np.float64))
    pick = lambda q: float(per_cu[order][np.searchsorted(cum, q * cum[-1])]) if len(cum) else 0.0  # noqa: E731
    return pick(0.5), pick(0.2)


def measures(raw, cuts: tuple[float, float]) -> dict[str, float]:
    """Counts of one run: housing moves, vacancies by tenure and area type, households housed by group."""
    mv = raw.moves_column
    into = mv("to_dwelling") >= 0
    vac = (mv("vacates") == 1) & (mv("from_dwelling") >= 0)
    frm = mv("from_dwelling")[vac]
    out = {"moves_per_100_new": float(into.sum())}
    for t, name in enumerate(TENURES):
        out[f"vacancies_{name}_per_100_new"] = float((raw.dwellings_column("tenure")[frm] == t).sum())
    for a, name in enumerate(AREA_TYPES):
        out[f"vacancies_area_{name}_per_100_new"] = float((raw.dwellings_column("area_type")[frm] == a).sum())
    m = into & (mv("fills") == 1)
    per_cu = income_per_cu(raw, m)
    age = mv("age_head")[m]
    flags = {
        "young_adults": (age >= 18) & (age <= 29), "seniors": age >= 65,
        "low_income": per_cu < 0.6 * cuts[0], "lowest_quintile": per_cu < cuts[1],
        "families": mv("size")[m] > mv("adults")[m], "born_abroad": mv("born_abroad")[m] == 1,
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
