"""`flyttkedja.scenario.run` (this module: `compare`): every programme by both methods, as one comparison table.

Output directory (written atomically): ``comparison.parquet`` (columns
:data:`COMPARISON_COLUMNS`, the contract with the report), ``summary.txt``
(what the figures say, in English and Swedish), ``scenario.json`` (the
resolved scenario, seeds, warnings, which programme differences are
resolved) and ``model.json`` (the estimated transition model,
disclosure-controlled counts only, with its cross-validated error).

The three quantities a planner needs, per 100 new dwellings (docs/scenarios.md):

- ``moves_gross_per_100_new`` — moves in the chains the programme's dwellings
  start: the transition model's expectation, and (method
  ``microsimulation``) the same chains traced inside the market runs;
- ``moves_net_per_100_new`` — the paired change in all moves of the market;
- ``displacement_ratio`` — net / gross.

Rows are per programme (``line`` null) and per programme line (``line`` =
"1", "2", ... in file order), for the whole region (``area`` = "region"),
the programme's municipality ("municipality") and the rest of the region
("rest").

Example
-------
>>> table = run(load_scenario("examples/kustvik_rental_share.toml"), "out/kustvik")   # doctest: +SKIP
>>> read_comparison("out/kustvik").filter(pl.col("measure") == "moves_gross_per_100_new")   # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja import store
from flyttkedja.analysis.release import declare_scenario_run, legacy_fingerprint, model_checking, \
    register_fingerprint, scenario_checking, scenario_checking_text
from flyttkedja.io import atomic_directory, atomic_file, check_output, write_json, write_parquet
from flyttkedja.scenario.config import Programme, Scenario
from flyttkedja.scenario.model import Z975, TransitionModel, attribute_label, estimate, rooms_label
from flyttkedja.schema import AREA_TYPES, TENURES

COMPARISON_COLUMNS = {
    "programme": pa.string(), "line": pa.string(), "area": pa.string(), "method": pa.string(),
    "measure": pa.string(), "group": pa.string(), "estimate": pa.float64(), "lower": pa.float64(),
    "upper": pa.float64(), "n": pa.int64(), "suppressed": pa.bool_(),
}
COMPARISON_SCHEMA = pa.schema([pa.field(k, t) for k, t in COMPARISON_COLUMNS.items()])
AREAS = ("region", "municipality", "rest")
GROSS, NET, RATIO = "moves_gross_per_100_new", "moves_net_per_100_new", "displacement_ratio"
# the model's gross × a run's displacement ratio (scenario.evaluation, the explorer): an estimate for a new
# programme, not the net measured on the market, so it has its own name (never NET's)
ADJUSTED = "moves_adjusted_per_100_new"
ROUNDS_MEASURE = "below_median_share_by_round"  # group = round k: share of dwellings vacated there in such areas

# 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal 1.96)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """97.5% quantile of Student's t with ``df`` degrees of freedom (normal beyond 30)."""
    return T975[df - 1] if 1 <= df <= 30 else Z975


def read_comparison(path: str | os.PathLike) -> pl.DataFrame:
    """The comparison table of a scenario output directory, columns in contract order."""
    return pl.read_parquet(store.scenario_file(path, "comparison")).select(list(COMPARISON_COLUMNS))


def _row(programme, method, measure, group, est, lo=None, hi=None, n=0, suppressed=False, line=None,
         area="region") -> dict:
    f = lambda x: None if x is None or not np.isfinite(x) else float(x)  # noqa: E731
    return {"programme": programme, "line": line, "area": area, "method": method, "measure": measure,
            "group": group, "estimate": f(est), "lower": f(lo), "upper": f(hi), "n": int(n),
            "suppressed": bool(suppressed)}


def programme_municipalities(programme: Programme) -> list[str]:
    """The municipalities a programme's lines name (its "municipality" area), in order of appearance."""
    return list(dict.fromkeys(line.municipality for line in programme.lines if line.municipality is not None))


# ---------------------------------------------------------------------- transition model
class UnusedAttributeWarning(UserWarning):
    """A programme line sets an attribute the transition model cannot use (not among its strata)."""


LINE_ATTRIBUTES = ("tenure", "rooms", "area_type", "landlord", "building_type", "municipality")


def line_attributes(line) -> dict:
    return {k: getattr(line, k) for k in LINE_ATTRIBUTES}


def programme_kinds(model: TransitionModel, programme: Programme) -> tuple[list, np.ndarray, list[str]]:
    """(start distribution, allocated group or None, new-household pool factor) of each line, the counts, and
    warnings for lines whose exact stratum was never observed (keys relaxed) and lines without a pool
    (:func:`line_pools`)."""
    kinds, notes = [], []
    factors, pool_notes = line_pools(model, programme)
    for i, line in enumerate(programme.lines):
        w, relaxed = model.line_weights(line_attributes(line))
        if relaxed:
            notes.append(f"programme {programme.name!r} line {i + 1}: no observed stratum with its "
                         f"{', '.join(relaxed)}; the model uses the other strata of its kind instead")
        group = model.groups.index(line.target_group) if line.target_group in model.groups else None
        kinds.append((w, group, factors[i]))
    return kinds, np.array([line.count for line in programme.lines], np.int64), notes + pool_notes


def pool_kind(line) -> tuple[str, str, str]:
    """The kind whose new households a line shares (:func:`~flyttkedja.scenario.model.pool_factor`): tenure,
    rooms label, municipality (``"*"``: the line leaves it open, the region)."""
    return (str(line.tenure), attribute_label("rooms", line.rooms), line.municipality or "*")


def line_pools(model: TransitionModel, programme: Programme) -> tuple[list[float], list[str]]:
    """Each line's new-household pool factor ``v / (v + n)`` (:func:`~flyttkedja.scenario.model.pool_factor`):
    ``v`` the model's filled vacancies of the line's kind (:func:`pool_kind`, ``model.flow``), ``n`` the
    dwellings of the programme's lines of that kind (lines of one kind share one pool). A line whose kind
    the model has no ``v`` for (withheld by disclosure control, or never seen) gets 1 and a note; so does every
    line of a model without ``flow`` (saved before the pool), with one note for the programme."""
    from flyttkedja.scenario.model import pool_factor

    if model.flow is None:
        return [1.0] * len(programme.lines), [
            f"programme {programme.name!r}: the model carries no vacancy flow by kind (saved before the "
            "new-household pool): its first vacancies go to new households as often as in the register, "
            "however much the programme adds (no pool)"]
    n: dict[tuple, int] = {}
    for line in programme.lines:
        n[pool_kind(line)] = n.get(pool_kind(line), 0) + int(line.count)
    factors, notes = [], []
    for i, line in enumerate(programme.lines):
        kind = pool_kind(line)
        v = model.flow.get(kind)
        if v is None:
            notes.append(f"programme {programme.name!r} line {i + 1}: the model publishes no vacancy flow for "
                         f"{kind[0]}, {kind[1]} rooms, "
                         f"{'the region' if kind[2] == '*' else kind[2]} (withheld, or never seen): no "
                         "new-household pool for this line")
        factors.append(pool_factor(v, n[kind]))
    return factors, notes


def unused_attributes(model: TransitionModel, programme: Programme) -> list[str]:
    """Warnings naming the line attributes the planner wrote that the model cannot use."""
    out = []
    for i, line in enumerate(programme.lines):
        written = set(line.written) if line.written else set()
        ignored = [k for k in ("landlord", "building_type", "municipality", "area_type")
                   if k in written and k not in model.keys]
        if "rooms" not in model.keys and "size_band" not in model.keys:
            ignored.append("rooms")
        if line.level != 1.0:
            ignored.append("level")
        if ignored:
            out.append(f"programme {programme.name!r} line {i + 1}: the transition model ignores "
                       f"{', '.join(ignored)} (not among its strata {', '.join(model.keys)}"
                       f"{'; the price level only reaches the microsimulation' if 'level' in ignored else ''})")
    return out


def sparse_lines(model: TransitionModel, programmes, min_observations: int) -> list[str]:
    """Warnings for programme lines whose strata hold fewer than ``min_observations`` vacancy records."""
    observed = model.first.sum(axis=1) + model.later.sum(axis=1)
    out = []
    for prog in programmes:
        kinds, _, _ = programme_kinds(model, prog)
        for k, (weights, *_) in enumerate(kinds):
            n = int(np.floor(observed[weights > 0].sum() + 0.5))  # pooled records spread: fractions
            if n < min_observations:
                out.append(f"programme {prog.name!r} line {k + 1}: its strata hold {n} vacancy records "
                           f"(fewer than {min_observations}); its figures lean on coarser strata")
    return out


def supply_by_kind(cs) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Of a traced register, per kind (tenure, rooms label "1".."5+", municipality; municipality ``"*"``:
    the region): (new builds whose chains were traced, moves that filled a vacant dwelling of the kind) over
    the window — how large new supply of a kind was against the kind's whole vacancy flow. Aggregates only
    (they feed :func:`supply_lines`' shares)."""
    dw = pl.from_arrow(cs.dwellings.select(["dwelling_id", "tenure", "rooms", "municipality"]))
    kind = [pl.col("tenure").cast(pl.String), rooms_label(pl.col("rooms")).alias("rooms"),
            pl.col("municipality").cast(pl.String)]
    moves = pl.from_arrow(cs.moves.select(["to_dwelling", "fills"]))
    fills = (moves.filter(pl.col("fills") & pl.col("to_dwelling").is_not_null())
             .join(dw, left_on="to_dwelling", right_on="dwelling_id", how="inner").select(kind))
    built = (cs.chains.filter(pl.col("seed_kind") == "new_build").select("seed_dwelling")
             .join(dw, left_on="seed_dwelling", right_on="dwelling_id", how="inner").select(kind))
    out: dict[tuple[str, str, str], list[int]] = {}
    for col, frame in ((0, built), (1, fills)):
        for t, r, m, n in frame.group_by(["tenure", "rooms", "municipality"]).len().iter_rows():
            for key in ((t, r, m), (t, r, "*")):
                out.setdefault(key, [0, 0])[col] += int(n)
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def supply_lines(supply: dict, programmes, min_observations: int = 30) -> list[str]:
    """Notes for lines that add more supply of their kind than the register saw any municipality take.

    ``supply``: :func:`supply_by_kind` of the source register. A line of ``count`` dwellings of tenure ×
    rooms in municipality m, built over a period as long as the register's window, makes new builds
    ``(count + b) / (count + v)`` of the kind's filled vacancies there (b new builds among v). Beyond the
    largest share of any municipality with at least ``min_observations`` filled vacancies of the kind, the
    model extrapolates: the market's answer to that much added supply (first vacancies wait longer and go
    more often to households from outside, other chains of the kind shorten: saturation,
    docs/scenarios.md) is not in the register's chains. Only shares are printed.
    """
    out = []
    for prog in programmes:
        for k, line in enumerate(prog.lines):
            rooms = attribute_label("rooms", line.rooms)
            observed = [b / v for (t, r, m), (b, v) in supply.items()
                        if t == line.tenure and r == rooms and m != "*" and v >= min_observations]
            b, v = supply.get((line.tenure, rooms, line.municipality or "*"), (0, 0))
            if not observed or v < min_observations:
                continue
            share, top = (line.count + b) / (line.count + v), max(observed)
            if share > top:
                out.append(f"programme {prog.name!r} line {k + 1}: {line.count} {line.tenure} dwellings of {rooms} "
                           f"rooms make new builds {share:.0%} of the kind's filled vacancies "
                           f"{'in ' + line.municipality if line.municipality else 'in the region'} over the "
                           f"register's window (the register: {b / v:.0%}; at most {top:.0%} in any municipality): "
                           f"beyond sharing the kind's new households with the line (the new-household pool) the model "
                           f"has not seen the market absorb that much added supply (saturation), and its gross may be "
                           f"off")
    return out


def _model_spec(model: TransitionModel) -> list[tuple[str, str | None, str, float]]:
    """(measure, group, area, scale) of each column of :func:`_model_values`."""
    out = [(GROSS, None, a, 100.0) for a in AREAS]
    out += [(f"vacancies_{t}_per_100_new", t, "region", 100.0) for t in TENURES]
    out += [(f"vacancies_area_{a}_per_100_new", a, "region", 100.0) for a in AREA_TYPES]
    out += [(f"reached_{g}_per_100_new", g, a, 100.0) for a in AREAS for g in model.groups]
    out += [(f"end_{r}_share", r, "region", 1.0) for r in model.reasons]
    return out


def _by_key(model: TransitionModel, key: str, values) -> np.ndarray | None:
    """(len(values), S) indicator of strata whose ``key`` is each value (None if not a key)."""
    if key not in model.keys or not len(values):
        return None
    pos = model.keys.index(key)
    which = np.array([s.split("|")[pos] for s in model.strata])
    return np.stack([which == v for v in values]).astype(np.float64)


def _model_values(model: TransitionModel, kinds, counts, munis: list[str], probs=None) -> np.ndarray:
    """(1 + lines, columns of :func:`_model_spec`): per new dwelling, the programme then each line."""
    pr = model.probabilities() if probs is None else probs
    in_muni = _by_key(model, "municipality", munis)
    mask = in_muni.sum(axis=0) > 0 if in_muni is not None else None
    ten, area = _by_key(model, "tenure", TENURES), _by_key(model, "area_type", AREA_TYPES)
    nan = lambda n: np.full(n, np.nan)  # noqa: E731
    G = len(model.groups)
    rows = []
    for start, group, pool in kinds:
        e = model.expectations(start, group, pr, pool)
        mv, rb = e["moves_by_stratum"], e["reach_by_stratum"]
        m_mv = mv[mask].sum() if mask is not None else np.nan
        m_rb = rb[mask].sum(axis=0) if mask is not None else nan(G)
        rows.append(np.r_[e["moves"], m_mv, e["moves"] - m_mv,
                          ten @ e["vacancies"] if ten is not None else nan(len(TENURES)),
                          area @ e["vacancies"] if area is not None else nan(len(AREA_TYPES)),
                          e["reach"], m_rb, e["reach"] - m_rb, e["ends"]])
    lines = np.array(rows)
    share = counts / counts.sum()
    return np.vstack([share @ lines, lines])


def transition_rows(model: TransitionModel, programme: Programme, *, bootstrap: int, reps: int, seed: int,
                    model_error: float = 0.0) -> list[dict]:
    """The transition model's rows for one programme and its lines: exact expectations with bootstrap
    intervals (gross moves: also the model's cross-validated error, relative sd ``model_error``), and the
    Monte Carlo distribution of the programme's total moves."""
    rows = expectation_rows(model, programme, bootstrap=bootstrap, seed=seed, model_error=model_error)
    kinds, counts, _ = programme_kinds(model, programme)
    sim = model.simulate(kinds, counts, reps, seed)
    per100 = sim["moves"] / counts.sum() * 100
    rows.append(_row(programme.name, "transition_model", f"{GROSS}_simulated", None, per100.mean(),
                     *np.percentile(per100, [2.5, 97.5]), reps))
    return rows + length_rows(model, programme)


def length_rows(model: TransitionModel, programme: Programme) -> list[dict]:
    """``chain_length_share`` of the transition model: the exact distribution of the absorbing chain, the
    rows :meth:`TransitionModel.evaluate` gives (one implementation; the Monte Carlo chains' histogram is the
    same quantity and is not printed a second time). The microsimulation gives the same measure traced."""
    from flyttkedja.scenario.evaluation import LENGTH_MEASURE, evaluate

    return [r for r in evaluate(model, programme)["rows"] if r["measure"] == LENGTH_MEASURE]


def expectation_rows(model: TransitionModel, programme: Programme, *, bootstrap: int, seed: int,
                     model_error: float = 0.0, probs=None) -> list[dict]:
    """The exact-expectation rows of :func:`transition_rows` (no Monte Carlo): ``chain_length_mean`` and
    every measure of :func:`_model_spec`, per programme and line, with bootstrap intervals when
    ``bootstrap`` > 0 (gross moves: widened by the relative model error ``model_error``).
    :meth:`TransitionModel.evaluate` gives these with ``bootstrap=0``; ``probs``: the model's
    :meth:`~TransitionModel.probabilities`, if already computed."""
    kinds, counts, _ = programme_kinds(model, programme)
    munis = programme_municipalities(programme)
    point = _model_values(model, kinds, counts, munis, probs)
    boot = (model.bootstrap(lambda p: _model_values(model, kinds, counts, munis, p), bootstrap, seed)
            if bootstrap else None)
    n = model.vacancy_records()
    rows = []
    spec = _model_spec(model)
    for li in range(point.shape[0]):
        line = None if li == 0 else str(li)
        if li == 0:
            lo, hi = np.nanpercentile(boot[:, 0, 0], [2.5, 97.5]) if boot is not None else (None, None)
            rows.append(_row(programme.name, "transition_model", "chain_length_mean", None, point[0, 0], lo, hi, n))
        for k, (name, group, area, scale) in enumerate(spec):
            if area != "region" and not munis:
                continue
            est = point[li, k] * scale
            if not np.isfinite(est):
                continue
            lo = hi = None
            if boot is not None:
                lo, hi = np.nanpercentile(boot[:, li, k], [2.5, 97.5]) * scale
            if name == GROSS and model_error > 0:
                sd_boot = 0.0 if lo is None else (hi - lo) / (2 * Z975)
                half = Z975 * np.hypot(sd_boot, model_error * est)
                lo, hi = est - half, est + half
            rows.append(_row(programme.name, "transition_model", name, group, est, lo, hi, n, line=line, area=area))
    return rows


# ---------------------------------------------------------------------- microsimulation
def _paired(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and paired t interval over replications (axis 0)."""
    reps = len(x)
    mean = float(x.mean())
    if reps < 2:
        return mean, np.nan, np.nan
    half = t975(reps - 1) * x.std(ddof=1) / np.sqrt(reps)
    return mean, mean - half, mean + half


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float, float]:
    """mean(num) / mean(den) with a delta-method t interval over replications."""
    reps, d = len(num), den.mean()
    if d <= 0:
        return np.nan, np.nan, np.nan
    r = num.mean() / d
    if reps < 2:
        return r, np.nan, np.nan
    half = t975(reps - 1) * (num - r * den).std(ddof=1) / np.sqrt(reps) / d
    return r, r - half, r + half


def _areas(counts: np.ndarray, in_muni: np.ndarray | None) -> dict[str, np.ndarray]:
    """Sum the last axis (municipalities) into the region, the programme's municipality and the rest."""
    region = counts.sum(axis=-1)
    if in_muni is None:
        return {"region": region}
    m = counts[..., in_muni].sum(axis=-1)
    return {"region": region, "municipality": m, "rest": region - m}


def microsim_rows(programme: Programme, index: int, results: list[dict], munis: list[str]) -> list[dict]:
    """Rows of one programme from the replications (:func:`microsim.replicate` results, seed order)."""
    from flyttkedja.scenario.microsim import COUNTS

    own = programme_municipalities(programme)
    in_muni = np.isin(munis, own) if own else None
    reps = len(results)
    base = np.stack([r["base"] for r in results])
    total = np.stack([r["total"][index] for r in results])
    gross = np.stack([r["gross"][index] for r in results])  # (reps, lines, C, U)
    net_a, gross_a = _areas(total - base, in_muni), _areas(gross.sum(axis=1), in_muni)
    scale = 100.0 / programme.dwellings
    rows = []

    def named(c: str, net: bool) -> tuple[str, str | None]:
        if c == "moves":
            return (NET if net else GROSS), None
        stem, group = c, c.removeprefix("vacancies_area_").removeprefix("vacancies_").removeprefix("reached_")
        return f"{stem}{'_net' if net else ''}_per_100_new", group

    for area in gross_a:
        for ci, c in enumerate(COUNTS):
            if c != "moves" and c.startswith("vacancies") and area != "region":
                continue
            for net, arr in ((False, gross_a[area]), (True, net_a[area])):
                name, group = named(c, net)
                rows.append(_row(programme.name, "microsimulation", name, group, *_paired(arr[:, ci] * scale),
                                 n=reps, area=area))
        rows.append(_row(programme.name, "microsimulation", RATIO, None,
                         *_ratio(net_a[area][:, 0], gross_a[area][:, 0]), n=reps, area=area))
    if all("lengths" in r for r in results):  # chain length distribution of the traced chains
        from flyttkedja.scenario.evaluation import LENGTH_MEASURE

        hist = np.stack([r["lengths"][index] for r in results])  # (reps, LENGTH_BINS)
        for k in range(hist.shape[1]):
            group = f"{k}+" if k == hist.shape[1] - 1 else str(k)
            rows.append(_row(programme.name, "microsimulation", LENGTH_MEASURE, group,
                             *_ratio(hist[:, k], hist.sum(axis=1)), n=reps))
    if all("rounds" in r for r in results):  # Mast's rounds in the traced chains
        by_round = np.stack([r["rounds"][index] for r in results])  # (reps, 2, rounds)
        for k in range(by_round.shape[2]):
            rows.append(_row(programme.name, "microsimulation", ROUNDS_MEASURE, str(k + 1),
                             *_ratio(by_round[:, 0, k], by_round[:, 1, k]), n=reps))
    for li, line in enumerate(programme.lines):  # gross by line (net is the programme's as a whole)
        line_a = _areas(gross[:, li], in_muni)
        for area, arr in line_a.items():
            for ci, c in enumerate(COUNTS):
                if c.startswith("vacancies") and area != "region":
                    continue
                name, group = named(c, False)
                rows.append(_row(programme.name, "microsimulation", name, group,
                                 *_paired(arr[:, ci] * 100.0 / line.count), n=reps, line=str(li + 1), area=area))
    return rows


def differences(programmes, results: list[dict]) -> list[dict]:
    """Paired differences of net moves per 100 new dwellings between every two programmes (with one
    programme: against building nothing), with 95% t intervals; ``resolved`` when the interval excludes 0."""
    per = [np.array([(r["total"][i][0] - r["base"][0]).sum() for r in results]) * 100.0 / p.dwellings
           for i, p in enumerate(programmes)]  # COUNTS[0] = moves, summed over municipalities
    pairs = list(itertools.combinations(range(len(programmes)), 2)) or [(0, None)]
    out = []
    for a, b in pairs:
        d = per[a] - (per[b] if b is not None else 0.0)
        est, lo, hi = _paired(d)
        out.append({"a": programmes[a].name, "b": programmes[b].name if b is not None else "nothing built",
                    "measure": NET, "difference": est, "lower": lo, "upper": hi, "replications": len(d),
                    "resolved": bool(np.isfinite(lo) and (lo > 0 or hi < 0))})
    return out


def replications_until_resolved(fn, seeds: list[int], first: int, *, programmes, step: int | None = None,
                                run_batch=None) -> tuple[list[dict], list[dict]]:
    """Run ``first`` replications, then batches of ``step`` until every pairwise difference is resolved
    or ``len(seeds)`` replications ran; returns (results, differences)."""
    results = run_batch(seeds[:first])
    step = step or max(first, 2)
    diffs = differences(programmes, results)
    while len(results) < len(seeds) and not all(d["resolved"] for d in diffs):
        results += run_batch(seeds[len(results): len(results) + step])
        diffs = differences(programmes, results)
    return results, diffs


# ---------------------------------------------------------------------- run
def replication_seeds(seed: int, n: int) -> list[int]:
    """The market-run seeds of a scenario's first ``n`` microsimulation replications (ints below 2**31).

    A scenario with ``seed`` runs replication k at ``replication_seeds(seed, n)[k]`` for any n > k, so
    scripts that repeat its first market runs use these.

    >>> replication_seeds(7, 3)[:2] == replication_seeds(7, 2)
    True
    """
    return [int(s % 2**31) for s in np.random.SeedSequence(seed).generate_state(n)]


def run(scenario: Scenario, out: str | os.PathLike | None = None, *, overwrite: bool = False,
        progress: Callable[[str, float], None] | None = None, workers: int | None = None,
        scheduler=None) -> pl.DataFrame:
    """Estimate the transition model, run the paired microsimulation and compare every programme.

    ``progress(step, fraction)`` is called as work completes. ``workers`` and
    ``scheduler`` choose where replications run (:mod:`flyttkedja.scenario.executor`;
    default: the scenario file's ``[run]`` table, else local processes).
    Returns the comparison table; with ``out`` also writes the output directory.
    """
    from flyttkedja.core import trace, trace_register
    from flyttkedja.scenario.executor import map_replications
    from flyttkedja.scenario.microsim import MARKET_RULE, MEASURED_AS, allocation_notes, replicate
    from flyttkedja.scenario.summary import summary_text
    from flyttkedja.synth import generate
    from flyttkedja.synth.config import load_config

    say = progress or (lambda step, frac: None)
    src, ms = scenario.source, scenario.model
    workers = scenario.execution.workers if workers is None else workers
    scheduler = scenario.execution.scheduler if scheduler is None else scheduler
    if out is not None:  # refused before any work, not after it
        check_output(out, [src.register], overwrite=overwrite)
    say("tracing the source register", 0.0)
    if src.register:
        cs = trace_register(src.register, "new_builds")
        areas_file = store.register_input(src.register, "areas")
        areas = str(areas_file) if areas_file.is_file() else None  # rounds into below-median-income areas
    else:
        reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
        cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
        areas = reg.areas
        del reg
    # the run is declared in the ledger (one written by an earlier flyttkedja holds the legacy hash)
    fingerprint = (register_fingerprint(cs), legacy_fingerprint(cs)) if src.register else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = estimate(cs, ms.strata, threshold=ms.threshold, min_observations=ms.min_observations,
                         shrinkage=ms.shrinkage, areas=areas)
    supply = supply_by_kind(cs)  # new builds against the whole vacancy flow, by kind (saturation notes)
    del cs  # the model's records are all that is needed from here on
    messages = [str(w.message) for w in caught]
    sigma = 0.0
    if ms.cross_validation and model.records is not None and model.records.get("seed_muni") is not None:
        say("cross-validating the model by municipality", 0.05)
        cv = model.cross_validate()
        model.meta["cross_validation"] = cv
        sigma = float(cv.get("sigma", 0.0))
    checking = model_checking(model)  # what model.json withholds (before the register's model is disclosed)
    if src.register:  # register microdata: every figure that leaves comes from the disclosed counts
        model = model.disclosed()
        messages.append(f"register source: the comparison uses the disclosure-controlled model "
                        f"({model.suppressed_cells} cells suppressed, threshold {model.threshold})")
    for prog in scenario.programmes:
        for text in unused_attributes(model, prog):
            warnings.warn(text, UnusedAttributeWarning, stacklevel=2)
            messages.append(text)
        messages += programme_kinds(model, prog)[2]
        messages += allocation_notes(prog)
    messages += sparse_lines(model, scenario.programmes, ms.min_observations)
    messages += supply_lines(supply, scenario.programmes, ms.min_observations)
    rows = []
    for i, prog in enumerate(scenario.programmes):
        say(f"transition model: {prog.name}", 0.1 + 0.1 * i / len(scenario.programmes))
        rows += transition_rows(model, prog, bootstrap=ms.bootstrap, reps=scenario.chain_replications,
                                seed=scenario.seed, model_error=sigma)
    model.records = None  # bootstrap and cross-validation are done: free the chain records before the market runs
    budget = max(scenario.max_replications, scenario.replications)
    seeds = replication_seeds(scenario.seed, budget)
    diffs: list[dict] = []
    used: list[int] = []
    if src.preset:
        cfg = load_config(src.preset, years=src.years, scale=src.scale)
        munis = [m["code"] for m in cfg.section("municipality")]
        done = [0]

        def tick():
            done[0] += 1
            say(f"microsimulation: replication {done[0]} (at most {budget})", 0.2 + 0.8 * done[0] / budget)

        fn = partial(replicate, cfg, scenario.programmes, src.years)
        batch = partial(map_replications, fn, workers=workers, scheduler=scheduler, progress=tick)
        results, diffs = replications_until_resolved(fn, seeds, scenario.replications,
                                                     programmes=scenario.programmes, run_batch=batch)
        used = seeds[: len(results)]
        for i, prog in enumerate(scenario.programmes):
            rows += microsim_rows(prog, i, results, munis)
        from flyttkedja.scenario.evaluation import displacement_by_kind

        model.meta["displacement"] = displacement_by_kind(scenario.programmes, rows)  # net for new programmes
    else:
        messages.append("microsimulation skipped: the source is a register, not a synthetic preset")
    table = pa.Table.from_pylist(rows, schema=COMPARISON_SCHEMA)
    frame = pl.from_arrow(table)
    if out is not None:
        text = "\n\n\n".join(summary_text(frame, diffs, lang=lang) for lang in ("en", "sv"))
        with atomic_directory(out, overwrite=overwrite, inputs=[src.register]) as tmp:
            write_parquet(table, store.scenario_file(tmp, "comparison"))
            with atomic_file(store.scenario_file(tmp, "summary")) as part:
                Path(part).write_text(text + "\n", encoding="utf-8")
            store.write_scenario_manifest(tmp, store.ScenarioManifest(
                scenario=scenario.to_dict(), microsimulation_seeds=used, warnings=messages,
                model={"strata": len(model.strata), "keys": list(model.keys), "chains": model.meta.get("chains"),
                       "shrinkage": model.shrinkage, "sparse_strata": model.meta["sparse_strata"],
                       "cross_validation": {k: v for k, v in model.meta.get("cross_validation", {}).items()
                                            if k != "by_municipality"}},
                notes=["target-group allocation: the transition model conditions the first filler on the group; "
                       "the microsimulation lets only eligible households already in the region (no arrivals) get "
                       "the line's dwellings, at completion "
                       "and at every re-letting (the market's rules; lowest_quintile and born_abroad lines stay "
                       "open there). Where the market's rule is not the measured definition: "
                       + "; ".join(f"{g}: measured as {MEASURED_AS[g]}, the market's rule {MARKET_RULE[g]}"
                                   for g in MARKET_RULE),
                       "gross = the chains the programme's dwellings start; net = the paired change in all moves "
                       "that fill a dwelling; displacement_ratio = net / gross"],
                differences=diffs,
                programme_municipalities={p.name: programme_municipalities(p) for p in scenario.programmes}))
            model.save(store.scenario_file(tmp, "model"))
            check = scenario_checking(checking, frame, bool(src.register))
            if fingerprint is not None:  # a register's run is declared beside the output (analysis.release)
                ledger = store.ledger_file(out)
                why = declare_scenario_run(ledger, fingerprint[0], Path(out).name, store.scenario_file(tmp, "model"),
                                           checking, legacy=fingerprint[1])
                check["ledger"] = why or f"declared in {ledger} as {Path(out).name!r}"
            write_json(check, store.scenario_file(tmp, "check_json"))
            store.scenario_file(tmp, "check_text").write_text(scenario_checking_text(check) + "\n", encoding="utf-8")
    say("done", 1.0)
    return frame
