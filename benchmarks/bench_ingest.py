"""Benchmarks of flyttkedja.ingest.from_snapshots: throughput and peak memory.

A vectorised maker writes a synthetic person panel (one Parquet file per year):
households of 1-5 persons in dwellings (20% spare), each year 12% of
households move to a random free dwelling, 1% of persons leave and as many
new persons arrive. Family positions: the first member of a household is its
head, the second its partner, the others children. Peak memory is the max RSS of a child process
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``), one fresh child per run.

Sizes: ``FLYTTKEDJA_BENCH_SCALE`` = persons in millions (default 0.1, quick);
the issue's figure uses ``FLYTTKEDJA_BENCH_SCALE=2``.

    FLYTTKEDJA_BENCH_SCALE=2 pytest benchmarks/bench_ingest.py --benchmark-enable -s

National scale (Sweden: 10.5 M persons x 12 years, about 126 M person-years; some
15 minutes and 5 GiB here, so only with ``FLYTTKEDJA_BENCH_NATIONAL=1``, or
``flyttkedja bench --suite national``), with the panel under
``FLYTTKEDJA_BENCH_DIR`` when set (it takes about 2 GB of disk):

    FLYTTKEDJA_BENCH_NATIONAL=1 flock /tmp/fk-heavy.lock pytest benchmarks/bench_ingest.py -k national -s
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

SCALE = float(os.environ.get("FLYTTKEDJA_BENCH_SCALE", "0.1"))
PERSONS = int(SCALE * 1_000_000)
FIRST_YEAR = 2000


def make_panel(directory: Path, persons: int, years: int, seed: int = 7) -> Path:
    """Write ``years`` yearly snapshots of about ``persons`` persons to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    size = rng.choice([1, 2, 3, 4, 5], p=[0.38, 0.32, 0.13, 0.12, 0.05], size=persons // 2)
    size = size[: np.searchsorted(np.cumsum(size), persons)]
    n_hh = len(size)
    household = np.repeat(np.arange(n_hh), size)
    n = len(household)
    dwellings = np.int64(n_hh * 1.2)
    home = rng.permutation(dwellings)[:n_hh].astype(np.int64)
    birth = (FIRST_YEAR - rng.integers(0, 90, n)).astype(np.int32)
    pid = np.arange(n, dtype=np.int64)
    rank = np.arange(n) - np.repeat(np.cumsum(size) - size, size)  # place in the household
    position = np.array(["head", "partner", "child"])[np.minimum(rank, 2)]
    next_pid = n
    for k in range(years):
        year = FIRST_YEAR + k
        if k:
            movers = np.flatnonzero(rng.random(n_hh) < 0.12)
            occupied = np.zeros(dwellings, bool)
            occupied[home] = True
            occupied[home[movers]] = False
            free = np.flatnonzero(~occupied)
            home[movers] = rng.permutation(free)[: len(movers)]
            leave = rng.random(n) < 0.01
            pid = pid.copy()
            pid[leave] = np.arange(next_pid, next_pid + leave.sum())  # leavers replaced by newcomers
            birth[leave] = year - rng.integers(0, 40, leave.sum())
            next_pid += int(leave.sum())
        pl.DataFrame({
            "person_id": pid, "year": np.full(n, year, np.int16), "dwelling_id": home[household],
            "household_id": household.astype(np.int64), "birth_year": birth.astype(np.int16),
            "sex": np.where(pid % 2 == 0, "F", "M"), "born_abroad": pid % 5 == 0,
            "income": (pid * 7919) % 400_000, "family_position": position,
        }).write_parquet(directory / f"persons_{year}.parquet")
    return directory


CHILD = """
import resource, sys, time
from flyttkedja.ingest import from_snapshots
t = time.perf_counter()
from_snapshots(sys.argv[1], out=sys.argv[2])
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BASELINE = """
import resource, sys, time
import polars as pl
t = time.perf_counter()
# What a user might write: the whole panel in memory, previous dwelling by shift.
df = pl.read_parquet(sys.argv[1] + "/*.parquet").sort("person_id", "year")
prev = df.with_columns(prev=pl.col("dwelling_id").shift().over("person_id"),
                       prev_year=pl.col("year").shift().over("person_id"))
moves = (prev.filter((pl.col("prev_year") == pl.col("year") - 1) & (pl.col("prev") != pl.col("dwelling_id")))
         .group_by("year", "prev", "dwelling_id").agg(size=pl.len()))
moves.write_parquet(sys.argv[2])
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_child(code: str, persons_dir: Path, out: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one fresh child process."""
    done = subprocess.run([sys.executable, "-c", code, str(persons_dir), str(out)],
                          check=True, capture_output=True, text=True)
    seconds, rss_kib = done.stdout.split()
    return float(seconds), int(rss_kib) / 1024


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    root = tmp_path_factory.mktemp("panels")
    return {years: make_panel(root / f"p{years}", PERSONS, years) for years in (10, 20)}


def test_from_snapshots_throughput(benchmark, panels, tmp_path):
    """Person-years per second of from_snapshots (in a child), against an in-memory polars baseline."""
    ours = benchmark.pedantic(run_child, args=(CHILD, panels[10], tmp_path / "m.parquet"), rounds=1, iterations=1)
    base = run_child(BASELINE, panels[10], tmp_path / "b.parquet")
    rows = PERSONS * 10
    benchmark.extra_info.update(
        persons=PERSONS, years=10, seconds=ours[0], rss_mib=ours[1],
        person_years_per_s=rows / ours[0], baseline_seconds=base[0], baseline_rss_mib=base[1],
        time_ratio=ours[0] / base[0], memory_ratio=ours[1] / base[1],
    )
    print(f"\nfrom_snapshots {PERSONS:,} persons x 10 years: {ours[0]:.1f} s "
          f"({rows / ours[0]:,.0f} person-years/s), peak RSS {ours[1]:,.0f} MiB; "
          f"in-memory polars baseline (raw moves only): {base[0]:.1f} s, {base[1]:,.0f} MiB")


NATIONAL = os.environ.get("FLYTTKEDJA_BENCH_NATIONAL") == "1"
NATIONAL_PERSONS, NATIONAL_YEARS = 10_500_000, 12


@pytest.mark.skipif(not NATIONAL, reason="national scale: set FLYTTKEDJA_BENCH_NATIONAL=1")
def test_national_from_snapshots(benchmark, tmp_path):
    """10.5 M persons x 12 yearly snapshots through from_snapshots: time and peak RSS, and
    peak RSS with the first 6 years of the same panel (memory flat in years)."""
    root = Path(os.environ.get("FLYTTKEDJA_BENCH_DIR") or tmp_path)
    full = root / f"national_{NATIONAL_PERSONS}_{NATIONAL_YEARS}"
    if len(list(full.glob("*.parquet"))) != NATIONAL_YEARS:
        make_panel(full, NATIONAL_PERSONS, NATIONAL_YEARS)
    half = tmp_path / "half"
    half.mkdir()
    for path in sorted(full.glob("*.parquet"))[: NATIONAL_YEARS // 2]:
        (half / path.name).symlink_to(path)
    six = run_child(CHILD, half, tmp_path / "m6.parquet")
    twelve = benchmark.pedantic(run_child, args=(CHILD, full, tmp_path / "m12.parquet"), rounds=1, iterations=1)
    rows = pl.scan_parquet(full / "*.parquet").select(pl.len()).collect().item()
    moves = pl.scan_parquet(tmp_path / "m12.parquet").select(pl.len()).collect().item()
    benchmark.extra_info.update(persons=NATIONAL_PERSONS, years=NATIONAL_YEARS, person_years=rows,
                                household_moves=moves, seconds=twelve[0], rss_mib=twelve[1],
                                person_years_per_s=rows / twelve[0], seconds_6=six[0], rss_6_mib=six[1],
                                rss_ratio_12_to_6=twelve[1] / six[1])
    print(f"\nnational from_snapshots: {rows:,} person-years ({NATIONAL_PERSONS:,} persons x {NATIONAL_YEARS} "
          f"years) -> {moves:,} household moves in {twelve[0]:.0f} s ({rows / twelve[0]:,.0f} person-years/s), "
          f"peak RSS {twelve[1]:,.0f} MiB; 6 years: {six[0]:.0f} s, {six[1]:,.0f} MiB "
          f"(12/6 memory ratio {twelve[1] / six[1]:.3f})")
    assert twelve[1] <= 1.25 * six[1]


def test_peak_memory_flat_in_years(benchmark, panels, tmp_path):
    """Peak RSS with 20 years stays within 25% of that with 10 years."""
    ten = run_child(CHILD, panels[10], tmp_path / "m10.parquet")
    twenty = benchmark.pedantic(run_child, args=(CHILD, panels[20], tmp_path / "m20.parquet"),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(rss_10_mib=ten[1], rss_20_mib=twenty[1], ratio=twenty[1] / ten[1],
                                seconds_10=ten[0], seconds_20=twenty[0])
    print(f"\npeak RSS 10 years {ten[1]:,.0f} MiB, 20 years {twenty[1]:,.0f} MiB "
          f"(ratio {twenty[1] / ten[1]:.3f}); time {ten[0]:.1f} s / {twenty[0]:.1f} s")
    assert twenty[1] <= 1.25 * ten[1]

