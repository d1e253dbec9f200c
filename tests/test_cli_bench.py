"""`flyttkedja bench` on a small stand-in benchmarks directory that uses the real conftest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from flyttkedja.cli import main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

SUITES = """
[quick.env.bench_fake]
FAKE_BASELINE_SECONDS = "2.0"
[quick.floors]
fake_vs_baseline = 3
[strict.env.bench_fake]
FAKE_BASELINE_SECONDS = "2.0"
[strict.floors]
fake_vs_baseline = 100
"""

BENCH_FAKE = """
import os

def test_fake(benchmark, speed_ratio):
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    speed_ratio("fake_vs_baseline", float(os.environ["FAKE_BASELINE_SECONDS"]), 0.1)
"""


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    d = tmp_path / "benchmarks"
    d.mkdir()
    shutil.copy(BENCHMARKS / "conftest.py", d / "conftest.py")
    (d / "suites.toml").write_text(SUITES)
    (d / "bench_fake.py").write_text(BENCH_FAKE)
    return d


def run(*args: str):
    return CliRunner().invoke(main, ["bench", *args])


def test_ratio_above_floor_passes_and_is_recorded(bench_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run("--benchmarks", str(bench_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    ratios = json.loads((out / "ratios.json").read_text())
    assert ratios["suite"] == "quick"
    [r] = ratios["ratios"]
    assert (r["name"], r["floor"]) == ("fake_vs_baseline", 3.0)
    assert r["ratio"] == pytest.approx(20.0)
    times = json.loads((out / "bench_fake.json").read_text())
    assert [b["name"] for b in times["benchmarks"]] == ["test_fake"]
    assert json.loads((out / "summary.json").read_text())["exit_status"] == {"bench_fake": 0}


def test_ratio_below_floor_fails(bench_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run("--benchmarks", str(bench_dir), "--suite", "strict", "--out", str(out))
    assert result.exit_code == 1
    assert "failed: bench_fake" in result.output
    assert json.loads((out / "ratios.json").read_text())["ratios"][0]["floor"] == 100.0


def test_ratio_without_floor_fails(bench_dir: Path, tmp_path: Path) -> None:
    (bench_dir / "suites.toml").write_text(SUITES.replace("fake_vs_baseline = 3", "other = 3"))
    assert run("--benchmarks", str(bench_dir), "--out", str(tmp_path / "r")).exit_code == 1


@pytest.mark.parametrize("args, message", [
    (["--suite", "nightly"], "--suite 'nightly'"),
    (["--only", "bench_nothing"], "--only bench_nothing"),
])
def test_usage_errors_are_one_line(bench_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("--benchmarks", str(bench_dir), "--out", str(tmp_path / "r"), *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_missing_benchmarks_directory(tmp_path: Path) -> None:
    result = run("--benchmarks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "suites.toml" in result.output
