"""``trace()`` end to end of two or more checkouts in one run, and their outputs' hashes.

Timing one checkout now and another an hour later on this shared VM says little: the
same code's best round moved by 0.3 s within an hour (docs/performance.md, sixth
round). This script alternates the checkouts in one run, each in a fresh process of
its own venv (``<checkout>/.venv/bin/python``), so each imports its own package and
numba cache. Every process reads the register as ``trace(path)`` and
``benchmarks/bench_trace.py`` read it (string code columns as dictionaries), makes one
untimed warm-up call per convention (loads the numba cache), then times ``rounds``
calls of each convention, alternating path and tree. The table gives the best round
(wall) per checkout and convention, with the CPU seconds of that round and the load
average when the run started and ended.

``--hash`` prints instead, per checkout, SHA-256 digests of what ``trace()`` and
``vacancy_statistics`` return on the register for both conventions: the chains and
links frames (column names, types and polars' per-row hashes with fixed seeds), the
quality counts and the statistics frame with the benchmark's condition
(``income < 200,000``). Equal digests = byte-identical outputs for the same polars.

    flock /tmp/fk-heavy.lock python scripts/trace_same_run.py /tmp/fk14bench/synth_metro_12_couples1 \\
        /work/wt/issue14 /work/wt/base-83c7bcd --rounds 3 --processes 2
    nice -n 19 python scripts/trace_same_run.py REGISTER_DIR CHECKOUT_A CHECKOUT_B --hash
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import hashlib, json, sys, time
    import numpy as np, polars as pl, pyarrow as pa, pyarrow.parquet as pq
    import flyttkedja, flyttkedja.core
    from flyttkedja import store
    from flyttkedja.schema import CODE_LISTS

    directory, mode, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def read(path):
        coded = [f.name for f in pq.read_schema(path) if f.name in CODE_LISTS and pa.types.is_string(f.type)]
        return pq.read_table(path, read_dictionary=coded)

    meta = store.read_register_manifest(directory)
    moves, dwellings = (read(store.register_file(directory, t)) for t in ("moves", "dwellings"))
    window = tuple(d.isoformat() for d in meta.window)

    def run(convention):
        return flyttkedja.trace(moves, dwellings, window=window, max_gap_days=meta.max_gap_days,
                                convention=convention)

    def digest(frame):
        h = hashlib.sha256(json.dumps([[c, str(t)] for c, t in frame.schema.items()]).encode())
        h.update(np.ascontiguousarray(frame.hash_rows(seed=1).to_numpy()).tobytes())
        return h.hexdigest()[:16]

    if mode == "hash":
        out = {}
        for convention in ("path", "tree"):
            cs = run(convention)
            out[convention] = {"chains": digest(cs.chains), "links": digest(cs.links),
                               "quality": hashlib.sha256(json.dumps(cs.quality, sort_keys=True).encode())
                               .hexdigest()[:16], "n_chains": cs.chains.height, "n_links": cs.links.height}
        stats = flyttkedja.core.vacancy_statistics(moves, dwellings, pl.col("income") < 200_000, window=window,
                                              max_gap_days=meta.max_gap_days)
        out["vacancy_statistics"] = {"frame": digest(stats), "rows": stats.height}
        print(json.dumps(out))
    else:
        for convention in ("path", "tree"):
            run(convention)  # warm-up: numba cache
        times = {"path": [], "tree": []}
        for _ in range(rounds):
            for convention in ("path", "tree"):
                t0, c0 = time.perf_counter(), time.process_time()
                run(convention)
                times[convention].append((time.perf_counter() - t0, time.process_time() - c0))
        print(json.dumps(times))
""")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def child(checkout: Path, register: Path, mode: str, rounds: int) -> dict:
    python = checkout / ".venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(python), "-c", CHILD, str(register), mode, str(rounds)], capture_output=True,
                         text=True, cwd=checkout, env=env)
    if out.returncode:
        raise SystemExit(f"{checkout}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def revision(checkout: Path) -> str:
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("register", type=Path, help="register directory (register.json, moves, dwellings)")
    ap.add_argument("checkouts", type=Path, nargs="+", help="checkouts with a .venv each")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per convention and process")
    ap.add_argument("--processes", type=int, default=2, help="processes per checkout, alternating")
    ap.add_argument("--hash", action="store_true", help="print the outputs' digests instead of timing")
    args = ap.parse_args(argv)
    if args.hash:
        for c in args.checkouts:
            print(f"{c} ({revision(c)}): {json.dumps(child(c, args.register, 'hash', 0))}", flush=True)
        return
    start = load()
    best: dict[tuple, tuple] = {}
    for p in range(args.processes):
        for c in args.checkouts:
            times = child(c, args.register, "time", args.rounds)
            print(f"process {p + 1}, {c} ({revision(c)}), load {load()}: "
                  + "; ".join(f"{k} " + " ".join(f"{w:.3f}" for w, _ in v) for k, v in times.items()), flush=True)
            for convention, rounds in times.items():
                for wall, cpu in rounds:
                    if wall < best.get((c, convention), (float("inf"),))[0]:
                        best[(c, convention)] = (wall, cpu)
    n = args.rounds * args.processes
    print(f"\nload average at the start {start}, at the end {load()}; best of {n} rounds (wall, CPU of that round)\n")
    print("| checkout | `trace()` path | `trace()` tree |\n|---|---|---|")
    for c in args.checkouts:
        cells = [f"{best[(c, k)][0]:.3f} s ({best[(c, k)][1]:.3f} s CPU)" for k in ("path", "tree")]
        print(f"| {revision(c)} | {' | '.join(cells)} |")


if __name__ == "__main__":
    sys.exit(main())
