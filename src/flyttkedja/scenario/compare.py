"""`flyttkedja.scenario.run` (this module: `compare`): every programme by both methods, as one comparison table.

Output directory (written atomically): ``comparison.parquet`` (columns
:data:`COMPARISON_COLUMNS`, the contract with the report), ``scenario.json``
(the resolved scenario, seeds, warnings) and ``model.json`` (the estimated
transition model, disclosure-controlled counts only).

Example
-------
>>> table = run(load_scenario("examples/kustvik_rental_share.toml"), "out/kustvik")   # doctest: +SKIP
>>> read_comparison("out/kustvik").filter(pl.col("measure") == "moves_per_100_new")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.io import atomic_directory, write_json, write_parquet
from flyttkedja.scenario.config import Programme, Scenario
from flyttkedja.scenario.model import TransitionModel, estimate
from flyttkedja.schema import AREA_TYPES, TENURES

COMPARISON_COLUMNS = {
    "programme": pa.string(), "method": pa.string(), "measure": pa.string(), "group": pa.string(),
    "estimate": pa.float64(), "lower": pa.float64(), "upper": pa.float64(), "n": pa.int64(), "suppressed": pa.bool_(),
}
COMPARISON_SCHEMA = pa.schema([pa.field(k, t) for k, t in COMPARISON_COLUMNS.items()])


# 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal 1.96)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def read_comparison(path: str | os.PathLike) -> pl.DataFrame:
    """The comparison table of a scenario output directory, columns in contract order."""
    return pl.read_parquet(Path(path) / "comparison.parquet").select(list(COMPARISON_COLUMNS))


def _row(programme, method, measure, group, est, lo=None, hi=None, n=0, suppressed=False) -> dict:
    f = lambda x: None if x is None or not np.isfinite(x) else float(x)  # noqa: E731
    return {"programme": programme, "method": method, "measure": measure, "group": group, "estimate": f(est),
            "lower": f(lo), "upper": f(hi), "n": int(n), "suppressed": bool(suppressed)}


def programme_kinds(model: TransitionModel, programme: Programme) -> tuple[list, np.ndarray]:
    """(start distribution, allocated group or None) and the count of each line."""
    kinds = []
    for line in programme.lines:
        attrs = {"tenure": line.tenure, "rooms": line.rooms, "area_type": line.area_type,
                 "landlord": line.landlord, "building_type": line.building_type, "municipality": line.municipality}
        group = model.groups.index(line.target_group) if line.target_group in model.groups else None
        kinds.append((model.line_weights(attrs), group))
    return kinds, np.array([line.count for line in programme.lines], np.int64)


def sparse_lines(model: TransitionModel, programmes, min_observations: int) -> list[str]:
    """Warnings for programme lines whose strata hold fewer than ``min_observations`` vacancy records."""
    observed = model.first.sum(axis=1) + model.later.sum(axis=1)
    out = []
    for prog in programmes:
        kinds, _ = programme_kinds(model, prog)
        for k, (weights, _) in enumerate(kinds):
            n = int(observed[weights > 0].sum())
            if n < min_observations:
                out.append(f"programme {prog.name!r} line {k}: its strata hold {n} vacancy records "
                           f"(fewer than {min_observations}); its figures rest on few observations")
    return out


def _summaries(model: TransitionModel, kinds, counts, probs=None) -> np.ndarray:
    """Per-new-dwelling expectations of a programme, flattened in :func:`_measure_names` order."""
    total = counts.sum()
    acc = None
    for (start, group), c in zip(kinds, counts):
        e = model.expectations(start, group, probs)
        vec = np.r_[e["moves"], _by(model, e["vacancies"], "tenure", TENURES),
                    _by(model, e["vacancies"], "area_type", AREA_TYPES), e["reach"], e["ends"]] * (c / total)
        acc = vec if acc is None else acc + vec
    return acc


def _by(model: TransitionModel, vac: np.ndarray, key: str, values) -> np.ndarray:
    if key not in model.keys:
        return np.full(len(values), np.nan)
    pos = model.keys.index(key)
    which = np.array([s.split("|")[pos] for s in model.strata])
    return np.array([vac[which == v].sum() for v in values])


def _measure_names(model: TransitionModel) -> list[tuple[str, str | None, float]]:
    """(measure, group, scale) in the order of :func:`_summaries`; per-100 measures are scaled by 100."""
    out = [("moves_per_100_new", None, 100.0)]
    out += [(f"vacancies_{t}_per_100_new", t, 100.0) for t in TENURES]
    out += [(f"vacancies_area_{a}_per_100_new", a, 100.0) for a in AREA_TYPES]
    out += [(f"reached_{g}_per_100_new", g, 100.0) for g in model.groups]
    out += [(f"end_{r}_share", r, 1.0) for r in model.reasons]
    return out


def transition_rows(model: TransitionModel, programme: Programme, *, bootstrap: int, reps: int, seed: int) -> list[dict]:
    """The transition model's rows for one programme: exact expectations with bootstrap intervals, and
    the Monte Carlo distribution of the programme's total moves."""
    kinds, counts = programme_kinds(model, programme)
    point = _summaries(model, kinds, counts)
    boot = model.bootstrap(lambda p: _summaries(model, kinds, counts, p), bootstrap, seed) if bootstrap else None
    n = int(model.first.sum() + model.later.sum())
    rows = [_row(programme.name, "transition_model", "chain_length_mean", None, point[0],
                 *(np.nanpercentile(boot[:, 0], [2.5, 97.5]) if boot is not None else (None, None)), n)]
    for k, (name, group, scale) in enumerate(_measure_names(model)):
        lo, hi = (np.nanpercentile(boot[:, k], [2.5, 97.5]) * scale) if boot is not None else (None, None)
        rows.append(_row(programme.name, "transition_model", name, group, point[k] * scale, lo, hi, n))
    sim = model.simulate(kinds, counts, reps, seed)
    per100 = sim["moves"] / counts.sum() * 100
    rows.append(_row(programme.name, "transition_model", "moves_per_100_new_simulated", None, per100.mean(),
                     *np.percentile(per100, [2.5, 97.5]), reps))
    hist = sim["hist"].sum(axis=0) / sim["hist"].sum()
    rows.append(_row(programme.name, "transition_model", "chain_length_share_0", None, hist[0], n=reps))
    rows.append(_row(programme.name, "transition_model", "chain_length_share_5_plus", None, hist[5:].sum(), n=reps))
    return rows


def microsim_rows(programme: Programme, names: list[str], diffs: np.ndarray) -> list[dict]:
    """Mean difference programme − baseline per 100 programme dwellings, paired t interval."""
    scale = 100.0 / programme.dwellings
    reps = diffs.shape[0]
    rows = []
    for k, name in enumerate(names):
        x = diffs[:, k] * scale
        mean = x.mean()
        half = (T975[reps - 2] if reps <= 31 else 1.96) * x.std(ddof=1) / np.sqrt(reps) if reps > 1 else np.nan
        group = name.split("_per_100")[0].removeprefix("vacancies_area_").removeprefix("vacancies_").removeprefix("reached_")
        rows.append(_row(programme.name, "microsimulation", name, None if name == "moves_per_100_new" else group,
                         mean, mean - half, mean + half, reps))
    return rows


def run(scenario: Scenario, out: str | os.PathLike | None = None, *, overwrite: bool = False,
        progress: Callable[[str, float], None] | None = None) -> pl.DataFrame:
    """Estimate the transition model, run the paired microsimulation and compare every programme.

    ``progress(step, fraction)`` is called as work completes. Returns the
    comparison table; with ``out`` also writes the output directory.
    """
    from flyttkedja.core import trace, trace_register
    from flyttkedja.synth import generate
    from flyttkedja.synth.config import load_config
    from flyttkedja.scenario.microsim import paired_runs

    say = progress or (lambda step, frac: None)
    src, ms = scenario.source, scenario.model
    say("tracing the source register", 0.0)
    if src.register:
        cs = trace_register(src.register, "new_builds")
    else:
        reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
        cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = estimate(cs, ms.strata, threshold=ms.threshold, min_observations=ms.min_observations)
    messages = [str(w.message) for w in caught]
    if src.register:  # register microdata: every figure that leaves comes from the disclosed counts
        model = model.disclosed()
        messages.append(f"register source: the comparison uses the disclosure-controlled model "
                        f"({model.suppressed_cells} cells suppressed, threshold {model.threshold})")
    messages += sparse_lines(model, scenario.programmes, ms.min_observations)
    rows = []
    for i, prog in enumerate(scenario.programmes):
        say(f"transition model: {prog.name}", 0.1 + 0.1 * i / len(scenario.programmes))
        rows += transition_rows(model, prog, bootstrap=ms.bootstrap, reps=scenario.chain_replications,
                                seed=scenario.seed)
    seeds = [int(s % 2**31) for s in np.random.SeedSequence(scenario.seed).generate_state(scenario.replications)]
    if src.preset:
        cfg = load_config(src.preset, years=src.years, scale=src.scale)
        total = scenario.replications * (1 + len(scenario.programmes))
        done = [0]

        def tick():
            done[0] += 1
            say(f"microsimulation: run {done[0]} of {total}", 0.2 + 0.8 * done[0] / total)

        diffs = paired_runs(cfg, scenario.programmes, src.years, seeds, tick)
        for prog in scenario.programmes:
            rows += microsim_rows(prog, diffs["names"], diffs[prog.name])
    else:
        messages.append("microsimulation skipped: the source is a register, not a synthetic preset")
    table = pa.Table.from_pylist(rows, schema=COMPARISON_SCHEMA)
    if out is not None:
        with atomic_directory(out, overwrite=overwrite) as tmp:
            write_parquet(table, tmp / "comparison.parquet")
            write_json({"scenario": scenario.to_dict(), "microsimulation_seeds": seeds, "warnings": messages,
                        "model": {"strata": len(model.strata), "chains": model.meta.get("chains"),
                                  "sparse_strata": model.meta["sparse_strata"]},
                        "notes": ["target-group allocation is applied in the transition model only"]},
                       tmp / "scenario.json")
            model.save(tmp / "model.json")
    say("done", 1.0)
    return pl.from_arrow(table)
