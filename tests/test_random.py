"""The one counter-based generator (flyttkedja._random) and the streams built on it, pinned.

Every stream of the package -- the synthetic market's draws, the bootstrap's
Poisson weights, the transition model's Monte Carlo chains, the analysis
record keys -- is a function of the splitmix64 finaliser in
:mod:`flyttkedja._random`. The digests below were computed on main before the
bootstrap, scenario and analysis modules were moved onto that module
(session 14, issue 12 item 7): any change of a constant, of the finaliser, or
of how a module seeds its stream changes them. A deliberate change of a stream
updates them here, in the same commit that says why.

The naive references (tests/naive_*.py) check the kernels against readable
Python on random inputs; these pins check that the streams stay the streams.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from flyttkedja import _random
from flyttkedja.analysis import _bootstrap_kernels
from flyttkedja.analysis._engine import record_keys
from flyttkedja.analysis.bootstrap import replicate_cell_totals, replicate_seeds
from flyttkedja.scenario import _kernels as scenario_kernels
from flyttkedja.scenario.compare import replication_seeds


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def test_finaliser_and_python_forms_pinned():
    zs = [0, 1, 12345, 0x9E3779B97F4A7C15, (1 << 64) - 1]
    assert [_random.mix_int(z) for z in zs] == [
        0, 6238072747940578789, 17540659726606785873, 16294208416658607535, 13029008266876403067]
    assert [int(_random.mix(np.uint64(z))) for z in zs] == [_random.mix_int(z) for z in zs]
    np.testing.assert_array_equal(_random.mix_array(np.array(zs, np.uint64)),
                                  np.array([_random.mix_int(z) for z in zs], np.uint64))
    assert [int(_random.stream_key(s, *p)) for s, p in [(0, ()), (7, (1,)), (7, (2, 2020)), (11, (3, 5, 6))]] == [
        7905728728188956330, 7635930907752685883, 819956644933833222, 9739672774644362580]


def test_draws_pinned():
    key = _random.stream_key(7, 3)
    assert _random.u01(key, 12345, 3) == 0.053810715690228994
    assert _random.u01x(key, 12345, 3, 9) == 0.2266847613695957
    a = np.arange(0, 5000, 7)
    assert digest(_random.u01_array(key, a, 5)) == "0b3125a6f5baf4c0"


def test_sequential_form_pinned():
    """splitmix_next (the transition model's chains) and stream_output (the bootstrap's weights) are one sequence."""
    seed = np.uint64(0x0123456789ABCDEF)
    state, us = seed, []
    for _ in range(5):
        state, u = _random.splitmix_next(np.uint64(state))  # from Python: keep the state a uint64
        us.append(u)
    outs = [int(_random.stream_output(seed, i)) for i in range(1, 6)]
    assert [float(np.float64(o >> 11) * 2.0**-53) for o in outs] == us
    assert outs == [1547611027431991965, 15380727978956804243, 3427440727199435966, 11733030637320693740,
                    90156556503711752]


def test_bootstrap_weights_pinned():
    """The Poisson-bootstrap replicates (analysis.bootstrap) on fixed data: totals and the raw stream."""
    rng = np.random.default_rng(5)
    unit = rng.integers(0, 300, 4000)
    cell = rng.integers(0, 25, 4000)
    totals = replicate_cell_totals(unit, cell, n_units=300, n_cells=25, replicates=40, seed=17)
    assert digest(totals) == "f4a8d77c8162a909"
    seeds = replicate_seeds(17, 3)
    assert digest(seeds) == "ac9e44571d29c53f"
    out = [int(_bootstrap_kernels.stream_output(s, i)) for s in seeds for i in (1, 2, 1000)]
    assert out == [14083439749480833012, 17728296653421532219, 16402099062123217648, 7238416428736202652,
                   4517100448732982301, 18201455777861658350, 10514364899379655673, 12309825811832084399,
                   12191254570133246847]


def _chain_inputs():
    rng = np.random.default_rng(11)
    K, S, R, G = 3, 4, 3, 2

    def cum(*shape):
        p = rng.random(shape) + 0.05
        c = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
        c[..., -1] = 1.0
        return c
    kind_of = rng.integers(0, K, 40).astype(np.int64)
    moves_flag = np.array([1] * S + [0] * (R - 1) + [0], np.int64)
    return (kind_of, cum(K, S), cum(K, S, S + R), rng.random((K, S, G)), cum(S, S + R), rng.random((S, G)),
            moves_flag)


@pytest.mark.parametrize("seed", [0, 2**31 - 1, 2**63 + 5])
def test_scenario_chains_pinned(seed):
    """The transition model's Monte Carlo chains (scenario._kernels.simulate_chains) on fixed inputs."""
    out = scenario_kernels.simulate_chains(*_chain_inputs(), 6, np.uint64(seed), 12, 8)
    assert digest(*out) == {0: "f6aec5da0eed4eab", 2**31 - 1: "1a2e0d5c603d853b", 2**63 + 5: "da58dddeac17971b"}[seed]


def test_record_keys_pinned():
    """The analysis record keys (disclosure control's record order) and their seed scramble."""
    ids = np.arange(0, 100_000, 13, dtype=np.int64)
    assert digest(record_keys(ids, 0, 0), record_keys(ids, 0, 1), record_keys(ids, 42, 1)) == "269b042387985c42"
    assert [_random.seed_scramble(s) for s in (0, 1, 42, 2**40)] == [
        16932112157916947305, 15816735275003127391, 6649822421108960615, 11684940111818652711]


def test_microsimulation_seeds_pinned():
    assert replication_seeds(7, 5) == [2083679832, 1792079617, 2038301562, 142198000, 1732601695]
