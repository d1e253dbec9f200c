"""Scenario engine: kernels against the plain references, the model against tracing, files and CLI."""

from __future__ import annotations

import json
import warnings

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyttkedja.scenario import _kernels as K
from flyttkedja.scenario.model import TransitionModel, analytic, estimate, load_model
from naive_scenario import naive_chains, naive_expectations

R = 8  # end reasons


def _model(rng: np.random.Generator, S: int, G: int, absorb: float) -> TransitionModel:
    """A random model whose chains end with probability at least ``absorb`` at each vacancy."""
    W = S + R
    later = rng.integers(0, 20, (S, W))
    later[:, S:] += (rng.random((S, R)) < 0.5) * rng.integers(0, 20, (S, R))
    later[:, S + 4] += np.ceil(absorb * later.sum(axis=1) + 1).astype(np.int64)  # "unfilled": always some end
    first = rng.integers(0, 20, (S, W)) * (rng.random((S, 1)) < 0.8)
    fills = rng.integers(0, 50, S)
    gf = (rng.random((S, G)) * fills[:, None]).astype(np.int64)
    fg = rng.integers(0, 5, (G, S, W))
    return TransitionModel(("tenure",), tuple(f"s{i}" for i in range(S)), tuple(f"g{i}" for i in range(G)),
                           first, later, fills, gf, fg)


def _kernel_args(m: TransitionModel, kinds, counts, reps, seed, max_length=50, n_hist=6):
    """The same arguments TransitionModel.simulate passes (recomputed here for the reference)."""
    captured = {}
    real = K.simulate_chains

    def spy(*args):
        captured["args"] = args
        return real(*args)

    K.simulate_chains = spy
    try:
        out = m.simulate(kinds, counts, reps, seed, max_length, n_hist)
    finally:
        K.simulate_chains = real
    return captured["args"], out


@settings(max_examples=40, deadline=None)
@given(S=st.integers(1, 4), G=st.integers(0, 2), reps=st.integers(1, 3), n=st.integers(0, 6),
       seed=st.integers(0, 2**63), data=st.integers(0, 2**32 - 1), max_length=st.integers(1, 6))
def test_monte_carlo_kernel_equals_reference(S, G, reps, n, seed, data, max_length):
    rng = np.random.default_rng(data)
    m = _model(rng, S, G, absorb=0.0)
    kinds = [(rng.dirichlet(np.ones(S)), None), (rng.dirichlet(np.ones(S)), 0 if G else None)]
    counts = np.array([n, n // 2])
    args, out = _kernel_args(m, kinds, counts, reps, seed, max_length)
    ref = naive_chains(*[np.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
    for a, b in zip(out.values(), ref):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(S=st.integers(1, 6), G=st.integers(0, 3), data=st.integers(0, 2**32 - 1), group=st.booleans())
def test_analytic_equals_reference(S, G, data, group):
    rng = np.random.default_rng(data)
    m = _model(rng, S, G, absorb=0.05)
    start = rng.dirichlet(np.ones(S))
    P0, P, F = m.probabilities()
    g = 0 if group and G else None
    got = analytic(start, P0, P, F, m.moves_flag(), g)
    ref = naive_expectations(start, P0, P, F, m.moves_flag(), g)
    for key in ("moves", "vacancies", "reach", "ends"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-8, atol=1e-10)
    assert abs(got["ends"].sum() - 1.0) < 1e-9  # every chain ends


def test_monte_carlo_converges_to_closed_form():
    rng = np.random.default_rng(1)
    m = _model(rng, 5, 2, absorb=0.2)
    start = rng.dirichlet(np.ones(5))
    exact = m.expectations(start)
    n, reps = 2000, 200
    sim = m.simulate([(start, None)], np.array([n]), reps, seed=42)
    # each replication's mean is an average of n iid chains: the mean over replications has
    # standard error sd(replication means) / sqrt(reps); allow 4 standard errors
    for key, got, want in [("moves", sim["moves"] / n, exact["moves"]),
                           ("reach", sim["reach"] / n, exact["reach"]),
                           ("vacancies", sim["vacancies"] / n, exact["vacancies"]),
                           ("ends", sim["ends"] / n, exact["ends"])]:
        se = got.std(axis=0, ddof=1) / np.sqrt(reps)
        assert np.all(np.abs(got.mean(axis=0) - want) <= 4 * se + 1e-12), key


def test_monte_carlo_same_for_any_thread_count():
    m = _model(np.random.default_rng(2), 4, 1, absorb=0.1)
    kinds = [(np.full(4, 0.25), None)]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = m.simulate(kinds, np.array([300]), 7, seed=5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = m.simulate(kinds, np.array([300]), 7, seed=5)
    finally:
        numba.set_num_threads(before)
    for key in one:
        np.testing.assert_array_equal(one[key], many[key])


@pytest.fixture(scope="module")
def traced(small_register):
    import flyttkedja

    r = small_register
    return flyttkedja.trace(r.moves, r.dwellings, window=r.window, max_gap_days=r.max_gap_days)


@pytest.fixture(scope="module")
def model(traced):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate(traced)


def test_model_reproduces_the_traced_register(model, traced):
    """In-sample, the programme actually built (observed new-build strata) gets exactly the traced
    mean length and end-reason shares: counts of a Markov chain's transitions conserve flow."""
    nb = model.first.sum(axis=1)
    e = model.expectations(nb / nb.sum())
    chains = traced.chains
    assert e["moves"] == pytest.approx(chains["length"].mean(), rel=1e-9)
    shares = chains["end_reason"].value_counts()
    for reason, count in shares.iter_rows():
        assert e["ends"][model.reasons.index(reason)] == pytest.approx(count / chains.height, abs=1e-9)


def test_sparse_strata_warn(traced):
    with pytest.warns(UserWarning, match="fewer than 30 observations"):
        estimate(traced, min_observations=30)


def test_saved_model_is_disclosure_controlled(model, tmp_path):
    path = model.save(tmp_path / "model.json")
    record = json.loads(path.read_text())
    counts = np.concatenate([np.ravel(record[k]) for k in ("first", "later", "fills", "group_fills", "first_group")])
    assert not np.any((counts > 0) & (counts < model.threshold))
    assert record["suppressed_cells"] > 0
    # saving a model that is already disclosure-controlled still counts what was withheld
    again = json.loads(model.disclosed().save(tmp_path / "again.json").read_text())
    assert again["suppressed_cells"] == record["suppressed_cells"]
    assert "records" not in record["meta"] and "chains" not in record["meta"]  # totals are not published
    text = path.read_text()
    assert "household_id" not in text and "dwelling_id" not in text
    loaded = load_model(path)
    assert loaded.records is None and loaded.strata == model.strata
    start = np.full(len(model.strata), 1 / len(model.strata))
    assert np.isfinite(loaded.expectations(start)["moves"])


def test_bootstrap_intervals_cover_the_point(model):
    nb = model.first.sum(axis=1)
    start = nb / nb.sum()
    boot = model.bootstrap(lambda p: model.expectations(start, probs=p)["moves"], 100, seed=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    assert lo < model.expectations(start)["moves"] < hi


def test_line_weights_match_attributes(model):
    w = model.line_weights({"tenure": "rental", "rooms": 2})
    strata = np.array(model.strata)
    assert w.sum() == pytest.approx(1.0)
    assert all(s.startswith("rental|2|") for s in strata[w > 0])
    with pytest.raises(ValueError, match="no stratum"):
        model.line_weights({"tenure": "palace"})
