"""Speed-ratio floors and the ratios artifact, shared by every benchmark file.

A benchmark that compares flyttkedja with an in-run baseline reports the ratio
through the :func:`speed_ratio` fixture. The fixture records it and fails the
test when the ratio is below the floor of the running suite (``suites.toml``,
suite from ``FLYTTKEDJA_BENCH_SUITE``, default ``quick``). With
``FLYTTKEDJA_BENCH_RATIOS_JSON`` set, every ratio of the session is written
there at the end (``flyttkedja bench`` sets it).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

SUITES = tomllib.loads((Path(__file__).parent / "suites.toml").read_text())
SUITE = os.environ.get("FLYTTKEDJA_BENCH_SUITE", "quick")
RATIOS: list[dict] = []


def floor(name: str) -> float:
    """The floor of ratio ``name`` in the running suite; every ratio must have one."""
    floors = SUITES[SUITE]["floors"]
    if name not in floors:
        raise KeyError(f"benchmarks/suites.toml: no floor for ratio {name!r} in suite {SUITE!r}")
    return float(floors[name])


@pytest.fixture
def speed_ratio(request):
    """``speed_ratio(name, baseline_seconds, flyttkedja_seconds)`` → the ratio, asserted ≥ its floor."""
    def check(name: str, baseline_seconds: float, flyttkedja_seconds: float) -> float:
        ratio = baseline_seconds / flyttkedja_seconds
        RATIOS.append({"name": name, "test": request.node.nodeid, "ratio": ratio, "floor": floor(name),
                       "baseline_seconds": baseline_seconds, "flyttkedja_seconds": flyttkedja_seconds})
        assert ratio >= floor(name), (f"{name}: flyttkedja is {ratio:.1f}x faster than the baseline, "
                                      f"below the floor of {floor(name):g}x in suite {SUITE!r}")
        return ratio
    return check


def pytest_sessionfinish(session, exitstatus) -> None:
    path = os.environ.get("FLYTTKEDJA_BENCH_RATIOS_JSON")
    if path:
        Path(path).write_text(json.dumps({"suite": SUITE, "ratios": RATIOS}, indent=2) + "\n")
