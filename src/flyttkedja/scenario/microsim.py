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

A line's target group becomes the dwellings' allocation rule in the market
(seniors, young adults, low income, families: only eligible households already
living in the region get them, at completion and at every re-letting;
:data:`ALLOCATION_OF_GROUP`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.analysis.groups import HOUSEHOLD_COLUMNS, LOW_INCOME_SHARE, TARGET_GROUPS, household_frame, \
    income_reference, target_flags
from flyttkedja.schema import AREA_TYPES, TENURES
from flyttkedja.synth.config import ConfigError, SynthConfig
from flyttkedja.synth.programme import Programme as SynthProgramme
from flyttkedja.synth.programme import DEFAULT_INCOME_CEILING, ProgrammeLine
from flyttkedja.synth.register import build_register
from flyttkedja.synth.simulate import simulate

GROUPS = tuple(TARGET_GROUPS)
# a line's target group as the market's allocation rule (docs/synthetic.md, "Allocated housing");
# lowest_quintile and born_abroad are no allocation rule a landlord applies: such lines stay open
ALLOCATION_OF_GROUP = {"seniors": "seniors", "young_adults": "young_adults", "low_income": "low_income",
                       "families": "families"}
# groups whose market allocation rule (docs/synthetic.md) is not the definition every measure uses
# (flyttkedja.analysis.groups, in both methods): the two are named apart wherever a line is allocated
MEASURED_AS = {"low_income": f"income per consumption unit below {LOW_INCOME_SHARE:.0%} of the median",
               "families": "children under 18 in the household"}
MARKET_RULE = {"low_income": f"household income below {DEFAULT_INCOME_CEILING:,} SEK a year",
               "families": "a child of the household living at home, of any age"}


def allocation_notes(programme) -> list[str]:
    """One line per programme line allocated to a group whose market rule differs from its measured definition:
    what the model conditions on, what the market lets in, and what ``reached_{group}`` counts."""
    out = []
    for i, line in enumerate(programme.lines):
        g = line.target_group
        if g in MARKET_RULE:
            out.append(f"programme {programme.name!r} line {i + 1} is allocated to {g}: the transition model's first "
                       f"filler has {MEASURED_AS[g]} (the measured definition), the microsimulation's market lets in "
                       f"{MARKET_RULE[g]} (its allocation rule); reached_{g}_per_100_new counts {MEASURED_AS[g]} "
                       f"in both methods")
    return out


# the counts of one run, by municipality: moves that fill a dwelling, vacated dwellings by tenure and by area
# type, and moving (filling) households of each target group
COUNTS = ("moves", *(f"vacancies_{t}" for t in TENURES), *(f"vacancies_area_{a}" for a in AREA_TYPES),
          *(f"reached_{g}" for g in GROUPS))


def programme_hook(cfg: SynthConfig, programme, years: int) -> SynthProgramme:
    """The synth programme for the simulator: each line's dwellings spread evenly over ``years``.

    A line's dwellings go to the areas of its municipality (and area type),
    uniformly; the cost is the preset's for the tenure, rooms and area type,
    times the new-build premium and the line's ``level``; its target group
    becomes the allocation rule (:data:`ALLOCATION_OF_GROUP`).
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


@dataclass
class MarketRun:
    """One market run as canonical tables; ``programme_dwellings`` (ids) and ``programme_line`` (index)."""

    moves: pa.Table
    dwellings: pa.Table
    areas: pa.Table
    window: tuple
    max_gap_days: int
    programme_dwellings: np.ndarray
    programme_line: np.ndarray


def market_run(cfg: SynthConfig, seed: int, programme=None, years: int | None = None) -> MarketRun:
    """Simulate the market (with ``programme``'s dwellings over ``years`` when given) as register tables."""
    spec = programme_hook(cfg, programme, cfg.years if years is None else years) if programme is not None else None
    raw = simulate(cfg, int(seed), programme=spec)
    reg = build_register(raw, {}, truth=False)  # the programme's chains are traced, not read from the truth
    ids, line = raw.programme_dwellings()
    return MarketRun(reg.moves, reg.dwellings, reg.areas, reg.window, reg.max_gap_days, ids, line)


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


ROUNDS = 6  # Mast's six rounds


def completions_only(cs):
    """The chains of ``cs`` seeded by a dwelling's completion, renumbered 0..n-1 (tracing dwelling ids
    seeds every vacancy at them; the programme's gross chains are the ones its completions start)."""
    keep = cs.chains.filter(pl.col("seed_kind") == "new_build")
    remap = keep.select(pl.col("chain_id").alias("_old"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_new"))
    links = (cs.links.join(remap, left_on="chain_id", right_on="_old", how="inner", maintain_order="left")
             .with_columns(chain_id=pl.col("_new")).drop("_new"))
    return dataclasses.replace(cs, chains=keep.with_columns(chain_id=remap["_new"]), links=links)


def chain_counts(run: MarketRun, reference: pl.DataFrame, munis: list[str],
                 n_lines: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lines, COUNTS, municipalities) in the chains the programme's dwellings start, traced in this run;
    Mast's rounds (2, ROUNDS): dwellings vacated at step k in below-median-income areas, and all
    dwellings vacated at step k (:func:`flyttkedja.analysis.rounds`' definition); and the chains by
    length, (LENGTH_BINS,): 0, 1, ... moves, the last bin every longer chain (the transition model's
    ``chain_length_share`` bins)."""
    from flyttkedja.analysis import rounds
    from flyttkedja.core import trace
    from flyttkedja.scenario.evaluation import LENGTH_BINS

    out = np.zeros((n_lines, len(COUNTS), len(munis)))
    by_round = np.zeros((2, ROUNDS))
    if len(run.programme_dwellings) == 0:
        return out, by_round, np.zeros(LENGTH_BINS)
    cs = completions_only(trace(run.moves, run.dwellings, run.programme_dwellings, window=run.window,
                                max_gap_days=run.max_gap_days))
    lengths = np.bincount(np.minimum(cs.chains["length"].to_numpy(), LENGTH_BINS - 1),
                          minlength=LENGTH_BINS).astype(np.float64)
    share = rounds(cs, areas=run.areas, ci=False, disclosure=None, rounds=ROUNDS).filter(
        (pl.col("statistic") == "share") & (pl.col("area_class") == "below_median"))
    for r in share.iter_rows(named=True):
        k = int(r["step"]) - 1
        if 0 <= k < ROUNDS:
            by_round[:, k] = r["n"], r["n_base"]
    links = cs.link_attributes(list(HOUSEHOLD_COLUMNS))
    line_of = pl.DataFrame({"seed_dwelling": run.programme_dwellings, "unit": run.programme_line})
    chain_unit = cs.chains.select("chain_id", "seed_dwelling").join(line_of, on="seed_dwelling", how="left")
    links = links.join(chain_unit.select("chain_id", "unit"), on="chain_id", how="left", maintain_order="left")
    links = links.with_columns(vac=pl.col("from_dwelling").is_not_null())
    frame = _with_dwellings(links, _dwelling_codes(run.dwellings, munis))
    frame = pl.concat([frame, _flags(frame, reference)], how="horizontal")
    return _tally(frame, n_lines, len(munis)), by_round, lengths


def replicate(cfg: SynthConfig, programmes, years: int, seed: int) -> dict:
    """One replication: the baseline and every programme's run with ``seed``.

    Returns ``{"base": (COUNTS, U), "total": [(COUNTS, U) per programme],
    "gross": [(lines, COUNTS, U) per programme], "rounds": [(2, ROUNDS) per
    programme], "lengths": [(LENGTH_BINS,) chains by length per programme]}`` (U = the preset's
    municipalities in preset order); plain arrays, so that any executor can
    carry them.
    """
    munis = [m["code"] for m in cfg.section("municipality")]
    base = market_run(cfg, seed)
    reference = income_reference(base.moves)
    out = {"base": market_counts(base, reference, munis), "total": [], "gross": [], "rounds": [], "lengths": []}
    for prog in programmes:
        run = market_run(cfg, seed, prog, years)
        out["total"].append(market_counts(run, reference, munis))
        gross, by_round, lengths = chain_counts(run, reference, munis, len(prog.lines))
        out["gross"].append(gross)
        out["rounds"].append(by_round)
        out["lengths"].append(lengths)
    return out
