"""Benchmarks of flyttkedja.scenario: Monte Carlo chains, and the paired microsimulation.

Monte Carlo: ``FLYTTKEDJA_BENCH_REPLICATIONS`` replications (default 50; the
issue's target is 1000, i.e. 10,000 new dwellings × 1,000 = 10 million chains)
of 10,000 new dwellings on a model of metro size (60 strata: tenure × size band
× area type, 6 target groups, mean chain length about 2.5). The alternative is
the strongest a user could write without numba: all chains at once, vectorised
numpy, one step of every live chain per iteration. It runs
``FLYTTKEDJA_BENCH_NUMPY_REPLICATIONS`` (default 10) replications and is scaled
to the same number of chains; the ratio is printed and stored in ``extra_info``.

Paired microsimulation: three programmes of 600 dwellings (0/30/50% rental) in
Kustvik. Quick default: the ``tiny`` preset; the issue's target (the default
``metro`` preset, 5 years, 5 replications):
``FLYTTKEDJA_BENCH_MICROSIM=metro``.

    FLYTTKEDJA_BENCH_REPLICATIONS=1000 FLYTTKEDJA_BENCH_MICROSIM=metro \\
        pytest benchmarks/bench_scenario.py --benchmark-enable -s
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest

from flyttkedja.scenario.model import TransitionModel
from flyttkedja.schema import END_REASONS

REPLICATIONS = int(os.environ.get("FLYTTKEDJA_BENCH_REPLICATIONS", "50"))
NUMPY_REPLICATIONS = int(os.environ.get("FLYTTKEDJA_BENCH_NUMPY_REPLICATIONS", "10"))
MICROSIM = os.environ.get("FLYTTKEDJA_BENCH_MICROSIM", "tiny")
N_NEW = 10_000
S, G, R = 60, 6, len(END_REASONS)


def metro_like_model(seed: int = 0) -> TransitionModel:
    """60 strata, chains continue with probability ~0.6 per vacancy, fills concentrated near the diagonal."""
    rng = np.random.default_rng(seed)
    W = S + R
    later = np.zeros((S, W), np.int64)
    later[:, :S] = rng.poisson(2.0, (S, S)) + 40 * np.eye(S, dtype=np.int64)
    later[:, S:S + 4] = rng.poisson(15, (S, 4))
    later[:, S + 4] = rng.poisson(3, S)
    first = later.copy()
    fills = later[:, :S].sum(axis=1) + later[:, S:S + 4].sum(axis=1)
    gf = (rng.random((S, G)) * 0.5 * fills[:, None]).astype(np.int64)
    fg = np.stack([later] * G)
    return TransitionModel(("stratum",), tuple(f"s{i}" for i in range(S)), tuple(f"g{i}" for i in range(G)),
                           first, later, fills, gf, fg)


def numpy_chains(model: TransitionModel, start: np.ndarray, n_chains: int, seed: int):
    """Vectorised numpy Monte Carlo: the same model, every live chain advanced one step per iteration."""
    P0, P, F = model.probabilities()
    flag = model.moves_flag().astype(bool)
    rng = np.random.default_rng(seed)
    cum0, cum = np.cumsum(P0, axis=1), np.cumsum(P, axis=1)
    state = np.searchsorted(np.cumsum(start), rng.random(n_chains), side="right").clip(0, S - 1)
    length = np.zeros(n_chains, np.int64)
    reach = np.zeros(G, np.int64)
    vac = np.zeros(S, np.int64)
    ends = np.zeros(R, np.int64)
    alive = np.arange(n_chains)
    table = cum0
    while alive.size:
        u = rng.random(alive.size)
        out = (u[:, None] >= table[state]).sum(axis=1).clip(0, table.shape[1] - 1)
        moved = flag[out]
        length[alive[moved]] += 1
        reach += (rng.random((int(moved.sum()), G)) < F[state[moved]]).sum(axis=0)
        done = out >= S
        ends += np.bincount(out[done] - S, minlength=R)
        vac += np.bincount(out[~done], minlength=S)
        alive, state, table = alive[~done], out[~done], cum
    return length, reach, vac, ends


@pytest.fixture(scope="module")
def model():
    return metro_like_model()


def test_monte_carlo_numba(benchmark, model, speed_ratio):
    start = np.full(S, 1.0 / S)
    kinds, counts = [(start, None, 1.0)], np.array([N_NEW])  # pool factor 1: the first rows as estimated
    model.simulate(kinds, counts, 2, seed=1)  # warm the JIT
    out = benchmark.pedantic(model.simulate, args=(kinds, counts, REPLICATIONS, 1), rounds=3, iterations=1)
    chains = N_NEW * REPLICATIONS
    best = benchmark.stats.stats.min
    benchmark.extra_info.update(chains=chains, chains_per_second=chains / best,
                                mean_length=float(out["moves"].sum() / chains))
    t0 = time.perf_counter()
    numpy_chains(model, start, N_NEW * NUMPY_REPLICATIONS, seed=1)
    numpy_time = (time.perf_counter() - t0) * REPLICATIONS / NUMPY_REPLICATIONS
    benchmark.extra_info.update(numpy_seconds_scaled=numpy_time, ratio_numpy_over_numba=numpy_time / best)
    print(f"\n{chains:,} chains: numba {best:.2f} s, vectorised numpy {numpy_time:.2f} s (scaled from "
          f"{NUMPY_REPLICATIONS} replications), ratio {numpy_time / best:.1f}x")
    speed_ratio("monte_carlo_vs_numpy", numpy_time, best)


def test_paired_microsimulation(benchmark, tmp_path):
    from flyttkedja.scenario import load_scenario, run
    from flyttkedja.scenario.config import Source, replace_source

    sc = load_scenario(Path(__file__).parent.parent / "examples" / "kustvik_rental_share.toml")
    if MICROSIM != "metro":
        sc = replace_source(sc, Source(preset="tiny", scale=1.0, years=3, seed=11), municipality="9981")
        sc = dataclasses.replace(sc, replications=5, max_replications=5)  # a fixed amount of work
    counter = iter(range(1000))
    result = benchmark.pedantic(lambda: run(sc, tmp_path / f"out{next(counter)}"), rounds=1, iterations=1)
    benchmark.extra_info.update(preset=sc.source.preset, programmes=len(sc.programmes),
                                replications=sc.replications, rows=result.height)
    print(f"\nthree-programme comparison on {sc.source.preset}: {benchmark.stats.stats.min:.1f} s")


def test_market_run(benchmark):
    """One market run of the microsimulation (``FLYTTKEDJA_BENCH_MICROSIM`` preset, 5 years), by phase: the
    simulator, the register tables without the truth (what :func:`microsim.market_run` builds) against with it
    (what ``synth.generate`` builds: the strongest alternative, same raw run), and the measures."""
    from flyttkedja.analysis.groups import income_reference
    from flyttkedja.scenario import load_scenario
    from flyttkedja.scenario.microsim import chain_counts, market_counts, programme_hook
    from flyttkedja.synth.config import load_config
    from flyttkedja.synth.register import build_register
    from flyttkedja.synth.simulate import simulate

    sc = load_scenario(Path(__file__).parent.parent / "examples" / "kustvik_rental_share.toml")
    cfg = load_config(MICROSIM, years=5, scale=1.0)
    munis = [m["code"] for m in cfg.section("municipality")]
    prog = sc.programmes[2] if MICROSIM == "metro" else None
    spec = programme_hook(cfg, prog, 5) if prog is not None else None
    t0 = time.perf_counter()
    raw = simulate(cfg, 11, programme=spec)
    t_sim = time.perf_counter() - t0
    build_register(raw, {})  # loads the truth kernels: compile time is no part of either figure
    t0 = time.perf_counter()
    build_register(raw, {})
    t_full = time.perf_counter() - t0

    def market():
        return build_register(raw, {}, truth=False)

    reg = benchmark.pedantic(market, rounds=3, iterations=1)
    t_market = benchmark.stats.stats.min
    from flyttkedja.scenario.microsim import MarketRun

    ids, line = raw.programme_dwellings()
    run_ = MarketRun(reg.moves, reg.dwellings, reg.areas, reg.window, reg.max_gap_days, ids, line)
    t0 = time.perf_counter()
    reference = income_reference(run_.moves)
    market_counts(run_, reference, munis)
    if prog is not None:
        chain_counts(run_, reference, munis, len(prog.lines))
    t_measure = time.perf_counter() - t0
    benchmark.extra_info.update(preset=MICROSIM, moves=reg.moves.num_rows, simulate_seconds=t_sim,
                                register_with_truth_seconds=t_full, measure_seconds=t_measure,
                                ratio_with_truth_over_without=t_full / t_market)
    print(f"\nmarket run ({MICROSIM}, {reg.moves.num_rows:,} moves): simulate {t_sim:.2f} s, register "
          f"{t_market:.2f} s without the truth against {t_full:.2f} s with it ({t_full / t_market:.2f}×), "
          f"measures {t_measure:.2f} s")
