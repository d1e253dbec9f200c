"""``flyttkedja bench``: run the benchmark suite and report speed ratios.

The benchmarks live in ``benchmarks/`` of a source checkout (they need the
polars and plain-Python baselines, which are not part of the package). Each
benchmark file runs in its own pytest process with the environment its suite
sets in ``benchmarks/suites.toml``; the results are one directory::

    OUT/bench_trace.json ...   pytest-benchmark's JSON per file (absolute times)
    OUT/ratios.json            every speed ratio with its floor
    OUT/summary.json           suite, files, exit status of each

The exit status is 0 when every benchmark and every ratio floor passed, 1
otherwise, 2 on usage errors.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

import flyttkedja
from flyttkedja.cli import main, refuse_existing
from flyttkedja.io import atomic_directory, write_json


def find_benchmarks(path: Path | None) -> Path:
    """The benchmarks directory: ``path``, else ./benchmarks, else the checkout flyttkedja runs from."""
    candidates = [path] if path else [Path.cwd() / "benchmarks",
                                      Path(flyttkedja.__file__).resolve().parents[2] / "benchmarks"]
    for candidate in candidates:
        if (candidate / "suites.toml").is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"no benchmarks/suites.toml in {', '.join(map(str, candidates))}: "
                            "run from a source checkout of flyttkedja or pass --benchmarks DIR")


def run_file(bench_dir: Path, name: str, suite: str, env: dict[str, str], out: Path,
             select: str | None) -> int:
    """Run benchmarks/NAME.py in its own pytest process; its JSON goes to OUT/NAME.json."""
    ratios = out / f"{name}.ratios.json"
    cmd = [sys.executable, "-m", "pytest", str(bench_dir / f"{name}.py"), "--benchmark-enable",
           f"--benchmark-json={out / f'{name}.json'}", "-q", "-s", "-p", "no:cacheprovider",
           f"--rootdir={bench_dir.parent}"]
    if select:
        cmd += ["-k", select]
    # not an xdist worker's variables (a bench started from a test under `pytest -n 2`): with
    # PYTEST_XDIST_WORKER set, pytest-benchmark disables itself and writes no JSON
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    full_env = {**inherited, **env, "FLYTTKEDJA_BENCH_SUITE": suite,
                "FLYTTKEDJA_BENCH_RATIOS_JSON": str(ratios)}
    return subprocess.run(cmd, env=full_env, cwd=bench_dir.parent).returncode


def collect_ratios(out: Path) -> list[dict]:
    """Merge the per-file ratio files into one list (the per-file files are removed)."""
    ratios = []
    for path in sorted(out.glob("*.ratios.json")):
        ratios += json.loads(path.read_text())["ratios"]
        path.unlink()
    return ratios


def print_ratios(ratios: list[dict]) -> None:
    table = Table(title="speed ratios (baseline time / flyttkedja time, same run)")
    for column in ("ratio", "value", "floor", "flyttkedja s", "baseline s"):
        table.add_column(column, justify="left" if column == "ratio" else "right")
    for r in ratios:
        ok = r["ratio"] >= r["floor"]
        table.add_row(r["name"], f"[{'green' if ok else 'red'}]{r['ratio']:.1f}x", f"{r['floor']:g}x",
                      f"{r['flyttkedja_seconds']:.3f}", f"{r['baseline_seconds']:.2f}")
    Console().print(table)


@main.command()
@click.option("--suite", default="quick", show_default=True,
              help="Suite in benchmarks/suites.toml: 'quick' (CI, minutes) or 'full' (the issues' sizes, "
                   "about an hour and 16 GiB).")
@click.option("--out", default="bench-results", show_default=True, type=click.Path(path_type=Path),
              help="Directory for the JSON results.")
@click.option("--only", "only", multiple=True, help="Run only this benchmark file (e.g. bench_trace); repeatable.")
@click.option("-k", "select", default=None, help="pytest -k expression selecting benchmarks inside the files.")
@click.option("--benchmarks", "bench_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="The benchmarks directory (default: ./benchmarks, or the source checkout's).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def bench(suite: str, out: Path, only: tuple[str, ...], select: str | None, bench_dir: Path | None,
          overwrite: bool) -> None:
    """Run the benchmark suite; fail when a speed ratio falls below its floor.

    Every benchmark that has an in-run baseline (polars, plain Python, numpy)
    reports baseline time / flyttkedja time, checked against the suite's floor.
    Absolute times are recorded in OUT/*.json, never asserted.

    \b
    Examples:
      flyttkedja bench                                  # the quick suite CI runs
      flyttkedja bench --only bench_trace --out bench-trace
      flyttkedja bench --suite full --out bench-full    # figures of the closing notes
    """
    missing = [m for m in ("pytest", "pytest_benchmark", "hypothesis") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"flyttkedja bench needs {', '.join(missing)}: install the test extra "
                         "(pip install -e '.[test]' in the source checkout)")
    bench_dir = find_benchmarks(bench_dir)
    suites = tomllib.loads((bench_dir / "suites.toml").read_text())
    if suite not in suites:
        raise ValueError(f"--suite {suite!r}: benchmarks/suites.toml has {', '.join(sorted(suites))}")
    files = sorted(p.stem for p in bench_dir.glob("bench_*.py"))
    unknown = sorted(set(only) - set(files))
    if unknown:
        raise ValueError(f"--only {', '.join(unknown)}: benchmark files are {', '.join(files)}")
    refuse_existing(out, overwrite)
    envs = suites[suite].get("env", {})
    status = {}
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for name in (only or files):
            click.echo(f"== {name} ({suite})", err=True)
            status[name] = run_file(bench_dir, name, suite, {k: str(v) for k, v in envs.get(name, {}).items()},
                                    tmp, select)
        ratios = collect_ratios(tmp)
        write_json({"suite": suite, "ratios": ratios}, tmp / "ratios.json")
        write_json({"suite": suite, "flyttkedja": flyttkedja.__version__, "exit_status": status},
                   tmp / "summary.json")
    print_ratios(ratios)
    failed = [name for name, code in status.items() if code not in (0, 5)]  # 5: nothing selected
    click.echo(f"results in {out}/" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)
