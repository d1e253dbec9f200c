"""First-run numba compilation, function by function, with an empty numba cache (issue 12 item 6).

Usage::

    python scripts/compile_profile.py tiny        # generate('tiny', years=1, seed=0)
    python scripts/compile_profile.py demo        # flyttkedja demo --out <tmp> (synth, trace, report)
    python scripts/compile_profile.py tiny --cached   # the same again on a warm cache (expect 0 compilations)
    python scripts/compile_profile.py demo --top 100  # list 100 functions (default 25)
    python scripts/compile_profile.py after-synth     # only the demo's trace and report (its register
                                                      # first made on the caller's warm cache)
    python scripts/compile_profile.py demo --json out.json   # also every compilation's span

Each target runs in a child process with ``NUMBA_CACHE_DIR`` pointing to a fresh
temporary directory (``--cached``: the same directory, after a first run that
fills it), so nothing compiled earlier is reused. In the child, a listener on
numba's ``numba:compile`` event records the start and end (wall and CPU time)
of every compilation; a compilation that triggers another (a callee compiled on
first call) contains it, so each function's *self* time is its span minus the
spans of the compilations nested in it. Printed: the child's total CPU and wall
seconds, the compile total (outermost spans), the number of compilations, and
the functions by self CPU time (all specialisations of a function summed).

Quote figures with ``uptime`` (the machine's load) and run timed measurements
one at a time (``flock /tmp/fk-heavy.lock``), as docs/performance.md says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, sys, time
from numba.core import event

spans, stack, names = [], [], []

class Rec(event.Listener):
    def on_start(self, ev):
        stack.append((time.perf_counter(), time.process_time(), ev.data["dispatcher"]))
        py = getattr(ev.data["dispatcher"], "py_func", None)
        names.append(f"{py.__module__}.{py.__qualname__}" if py is not None else "")

    def on_end(self, ev):
        w0, c0, disp = stack.pop()
        py = getattr(disp, "py_func", None)
        name = f"{py.__module__}.{py.__qualname__}" if py is not None else repr(disp)
        spans.append({"name": name, "depth": len(stack), "wall": time.perf_counter() - w0,
                      "cpu": time.process_time() - c0, "args": str(ev.data.get("args")),
                      "within": [n for n in names if n.startswith("flyttkedja.")][-1:]})
        names.pop()

event.register("numba:compile", Rec())
target = sys.argv[1]
c0, w0 = time.process_time(), time.perf_counter()
if target == "tiny":
    from flyttkedja.synth import generate
    generate("tiny", years=1, seed=0)
elif target == "demo":
    from flyttkedja.cli import main
    try:
        main(["demo", "--out", sys.argv[2], "--overwrite"], standalone_mode=False)
    except SystemExit:
        pass
else:  # after-synth: the demo's trace and report of the register made before
    from flyttkedja.cli import main
    out = sys.argv[2]
    for args in (["trace", out + "/register", "--out", out + "/chains", "--overwrite"],
                 ["report", out + "/chains", "--out", out + "/report", "--overwrite"]):
        try:
            main(args, standalone_mode=False)
        except SystemExit:
            pass
print("\n" + json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0, "spans": spans}))
"""


def profile(target: str, cache: str, out: str) -> dict:
    if target == "after-synth":  # the register, made with the caller's numba cache (not profiled)
        subprocess.run([sys.executable, "-c", "from flyttkedja.cli import main; main()", "synth", "--preset", "metro", "--scale", "0.1",
                        "--seed", "7", "--out", out + "/register", "--overwrite"], check=True, capture_output=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    res = subprocess.run([sys.executable, "-c", _CHILD, target, out], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def self_times(spans: list[dict]) -> dict[str, list[float]]:
    """Per function: [self CPU s, self wall s, compilations]; a span's children end before it, at depth + 1."""
    by: dict[str, list[float]] = {}
    child_cpu: dict[int, float] = {}
    child_wall: dict[int, float] = {}
    for s in spans:  # in end order: every child precedes its parent
        d = s["depth"]
        cpu = s["cpu"] - child_cpu.pop(d + 1, 0.0)
        wall = s["wall"] - child_wall.pop(d + 1, 0.0)
        child_cpu[d] = child_cpu.get(d, 0.0) + s["cpu"]
        child_wall[d] = child_wall.get(d, 0.0) + s["wall"]
        row = by.setdefault(s["name"], [0.0, 0.0, 0])
        row[0] += cpu
        row[1] += wall
        row[2] += 1
    return by


def by_package(spans: list[dict]) -> dict[str, float]:
    """Self CPU seconds per package: flyttkedja.core, flyttkedja.synth, ...; numba's own overloads
    (``np.empty``'s implementation, ...) count for the flyttkedja function they were compiled within."""
    out: dict[str, float] = {}
    child_cpu: dict[int, float] = {}
    for s in spans:
        d = s["depth"]
        cpu = s["cpu"] - child_cpu.pop(d + 1, 0.0)
        child_cpu[d] = child_cpu.get(d, 0.0) + s["cpu"]
        owner = s["name"] if s["name"].startswith("flyttkedja.") else (s.get("within") or ["(numba)"])[0]
        parts = owner.split(".")
        key = ".".join(parts[:2]) if parts[0] == "flyttkedja" else owner
        out[key] = out.get(key, 0.0) + cpu
    return out


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    cached = "--cached" in sys.argv
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 25
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        out = os.path.join(tmp, "demo")
        if cached:
            profile(target, cache, out)
        r = profile(target, cache, out)
    spans = r["spans"]
    outer = [s for s in spans if s["depth"] == 0]
    print(f"target {target}{' (warm cache)' if cached else ' (empty numba cache)'}; load {os.getloadavg()[0]:.2f}")
    print(f"process: {r['cpu']:.1f} CPU-s, {r['wall']:.1f} s wall")
    print(f"compilation: {sum(s['cpu'] for s in outer):.1f} CPU-s, {sum(s['wall'] for s in outer):.1f} s wall, "
          f"{len(spans)} compilations")
    print("by package (self CPU-s): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                  sorted(by_package(spans).items(), key=lambda kv: -kv[1])))
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(r, f)
    rows = sorted(self_times(spans).items(), key=lambda kv: -kv[1][0])
    print(f"{'function':60s} {'self CPU-s':>10s} {'wall s':>7s} {'n':>3s}")
    for name, (cpu, wall, n) in rows[:top]:
        print(f"{name:60s} {cpu:10.2f} {wall:7.2f} {n:3d}")
    if len(rows) > top:
        rest = rows[top:]
        print(f"{'(' + str(len(rest)) + ' more)':60s} {sum(r[1][0] for r in rest):10.2f} "
              f"{sum(r[1][1] for r in rest):7.2f} {sum(r[1][2] for r in rest):3d}")


if __name__ == "__main__":
    main()
