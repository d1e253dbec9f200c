"""Fuzz suite: malformed variants of a small register through ``trace``, ``Report``,
``from_snapshots``, ``from_person_moves`` and the CLI (cases in tests/_fuzz.py).

Every case must give the correct output (an accepted spelling: the same output; a
problem the tracer counts: accepted and counted) or one clear error: a
:class:`~flyttkedja.schema.SchemaError` (the CLI: exit status 2 and one line)
naming the table and the column. Silent garbage, unclear errors and crashes fail.
The cases run in a worker subprocess with an address-space limit, so an input
that makes the code allocate absurd memory is a crash here, not on the machine.

Every (mutation, target) pair runs once (one variant per mutation, on each of its targets), then ``FLYTTKEDJA_FUZZ_EXAMPLES`` hypothesis-drawn
variants (other rows and seeds; default 25); ``FLYTTKEDJA_FUZZ_REPORT=path`` writes the counts per outcome as JSON.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._fuzz import MUTATIONS, cases

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FLYTTKEDJA_FUZZ_EXAMPLES", "25"))
OUTCOMES = ("correct", "clear", "silent", "unclear", "crash")


class Pool:
    """The worker subprocess (restarted after a crash)."""

    def __init__(self) -> None:
        self.proc = None

    def start(self) -> None:
        # one thread: on a register this small the kernels' thread start-up is all their time
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", "POLARS_MAX_THREADS": "2"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests._fuzz"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready = self.proc.stdout.readline()
        assert ready.strip() == "ready", "fuzz worker did not start"

    def run(self, case: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:  # the worker died on this case (memory limit, segfault)
            code = self.proc.wait()
            self.proc = None
            return {**case, "outcome": "crash", "error": f"worker exited {code}", "refused": True,
                    "validate_refuses": None, "expect": None}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def campaign():
    """Run every (mutation, target) pair once, then EXAMPLES hypothesis-drawn variants."""
    pool = Pool()
    results: list[dict] = []
    pairs = cases()
    try:
        seeds = {m.name: i for i, m in enumerate(MUTATIONS)}  # one variant per mutation, run on each target:
        for mutation, target in pairs:  # its trace and validate are computed once (tests/_fuzz.Worker)
            results.append(pool.run({"mutation": mutation, "target": target, "seed": seeds[mutation], "rows": 1}))

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(pair=st.sampled_from(pairs), seed=st.integers(0, 2**31 - 1), rows=st.integers(1, 5))
        def draw(pair, seed, rows):
            results.append(pool.run({"mutation": pair[0], "target": pair[1], "seed": seed, "rows": rows}))

        if EXAMPLES:
            draw()
    finally:
        pool.close()
    counts = collections.Counter(r["outcome"] for r in results)
    summary = {"variants": len(results), "mutations": len(MUTATIONS), "pairs": len(pairs),
               **{o: counts.get(o, 0) for o in OUTCOMES},
               "by_target": {t: dict(collections.Counter(r["outcome"] for r in results if r["target"] == t))
                             for t in sorted({r["target"] for r in results})}}
    if os.environ.get("FLYTTKEDJA_FUZZ_REPORT"):
        Path(os.environ["FLYTTKEDJA_FUZZ_REPORT"]).write_text(json.dumps(summary, indent=2) + "\n")
    print("\nfuzz outcomes:", json.dumps(summary))
    return results


def _bad(results, outcomes):
    return [r for r in results if r["outcome"] in outcomes]


def test_every_variant_gives_the_correct_output_or_one_clear_error(campaign):
    bad = _bad(campaign, ("silent", "unclear", "crash"))
    shown = {f"{r['mutation']} / {r['target']}": f"{r['outcome']}: {r.get('error', '')[:300]}" for r in bad}
    assert not bad, json.dumps(shown, indent=1)
    assert {r["outcome"] for r in campaign} == {"correct", "clear"}


def test_validate_agrees_with_the_refusing_functions(campaign):
    """validate finds an issue the functions refuse exactly when they refuse the same inputs."""
    disagree = [(r["mutation"], r["target"], r["refused"], r["validate_refuses"]) for r in campaign
                if r["validate_refuses"] is not None and r["refused"] != r["validate_refuses"]]
    assert not disagree, disagree
