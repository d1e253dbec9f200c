"""SIGKILL during each write phase of ``synth``, ``trace``, ``report`` and ``scenario run``,
then a rerun into the same place: no partial output is ever visible, and no temporary
of the killed run is left once the rerun is done.

Each run is a subprocess of the real command line whose ``os.replace`` (the last step
of every atomic file and directory write in :mod:`flyttkedja.io`) and directory
exchange (``--overwrite``) kill the process at their k-th call: k = 1 is the first
file of the output, the last k the move of the finished directory into place. The
default run kills each command at its second file (before any output existed; the
rerun must remove that run's temporaries) and, with ``--overwrite``, at the move of the
finished directory over the old one; ``FLYTTKEDJA_KILL_ALL=1`` at every write. The runs are children forked from one process that imported
flyttkedja once (no threads had started), so a run costs the command alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL = os.environ.get("FLYTTKEDJA_KILL_ALL") == "1"
SERVER = """
import json, os, signal, sys
import flyttkedja.io as io
from flyttkedja.cli import main
import flyttkedja.analysis, flyttkedja.core, flyttkedja.scenario, flyttkedja.synth  # imported once, before forks

real_replace, real_exchange = os.replace, io._exchange
calls = [0]
kill_at = [0]

watch = [""]

def counted(real):
    def call(*a):
        # only the command's own writes count: numba's cache also writes through
        # os.replace when a kernel compiles, which a warm cache does not
        if not os.fspath(a[-1]).startswith(watch[0]):
            return real(*a)
        calls[0] += 1
        if calls[0] == kill_at[0]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a)
    return call

print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the child runs one command line and reports its os.replace calls
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)  # the command's own output must not reach the protocol pipe
        sys.stdout = open(os.devnull, "w")
        kill_at[0] = request["kill_at"]
        watch[0] = request["watch"]
        os.replace, io._exchange = counted(real_replace), counted(real_exchange)
        code = 0
        try:
            main(request["args"], standalone_mode=False)
        except BaseException as exc:
            sys.stderr.write(repr(exc)[:2000])
            code = 1
        with open(request["report"], "w") as f:
            f.write(str(calls[0]))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(json.dumps({"code": code}), flush=True)
"""
SCENARIO = """
name = "kill test"
seed = 3
replications = 1
chain_replications = 20
[source]
preset = "tiny"
years = 2
seed = 3
[model]
bootstrap = 0
[[programme]]
name = "flats"
[[programme.line]]
count = 10
tenure = "rental"
rooms = 2
municipality = "9980"
"""


class Runs:
    """A server process that imports flyttkedja once and forks one child per command line,
    so that each run costs the command, not the interpreter's start-up."""

    def __init__(self, workdir: Path) -> None:
        env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
        self.workdir = workdir
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout.readline().strip() == "ready"

    def __call__(self, args: list[str], kill_at: int = 0) -> tuple[int, int]:
        """(exit code, negative for a signal; os.replace calls made)."""
        report = self.workdir / "calls"
        report.unlink(missing_ok=True)
        watch = str(Path(args[args.index("--out") + 1]).parent)  # where the command's output goes
        self.proc.stdin.write(json.dumps({"args": args, "kill_at": kill_at, "report": str(report),
                                          "watch": watch}) + "\n")
        self.proc.stdin.flush()
        code = json.loads(self.proc.stdout.readline())["code"]
        return code, int(report.read_text()) if report.exists() else -1

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name → bytes); empty when it does not exist."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """Hidden temporaries of ``out`` beside it (``.NAME.<pid>...``) and inside it."""
    beside = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    inside = [str(p) for p in out.rglob(".*.tmp")] if out.exists() else []
    return beside + inside


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = Runs(tmp_path_factory.mktemp("runs"))
    yield runs
    runs.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, run):
    """A register and its chains (written by the command line), and a small scenario file."""
    base = tmp_path_factory.mktemp("kill")
    register, chains = base / "register", base / "chains"
    assert run(["synth", "--preset", "tiny", "--years", "2", "--seed", "3", "--out", str(register)])[0] == 0
    assert run(["trace", str(register), "--out", str(chains)])[0] == 0
    (base / "scenario.toml").write_text(SCENARIO)
    return {"register": register, "chains": chains, "scenario": base / "scenario.toml"}


COMMANDS = {
    "synth": lambda i, out: ["synth", "--preset", "tiny", "--years", "2", "--seed", "3", "--out", str(out)],
    "trace": lambda i, out: ["trace", str(i["register"]), "--out", str(out)],
    "report": lambda i, out: ["report", str(i["chains"]), "--out", str(out), "--replicates", "20"],
    "scenario run": lambda i, out: ["scenario", "run", str(i["scenario"]), "--out", str(out)],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_sigkill_in_every_write_phase_then_rerun(command, inputs, run, tmp_path):
    out = tmp_path / "out"
    args = COMMANDS[command](inputs, out)
    # killed before anything existed: nothing appears; the rerun cleans the killed run's temporaries
    assert run(args, kill_at=2)[0] == -signal.SIGKILL
    assert not out.exists()
    code, n = run(args)  # n: os.replace calls of a whole run (files, then the directory)
    assert code == 0 and n >= 3
    assert leftovers(out) == [], leftovers(out)
    complete = snapshot(out)
    for k in range(1, n + 1) if ALL else [n]:
        assert run([*args, "--overwrite"], kill_at=k)[0] == -signal.SIGKILL
        assert snapshot(out) == complete, f"kill at write {k} of {n}: the visible output changed"
        assert run([*args, "--overwrite"])[0] == 0
        assert leftovers(out) == [], (k, leftovers(out))
        assert snapshot(out) == complete, "same inputs, same bytes"
