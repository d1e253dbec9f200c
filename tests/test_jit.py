"""flyttkedja._jit.Threaded: a prange kernel's serial twin runs on one thread, its parallel form
otherwise, with the same results; a small register's trace compiles the serial twins only
(issue 12 item 6: a first ``flyttkedja demo`` compiles what it runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
from numba import prange

from flyttkedja._jit import Threaded, one_thread, threaded


@threaded
def _squares(x, out):
    for i in prange(x.shape[0]):
        out[i] = x[i] * x[i]


@threaded(prange=False)
def _sum_of_squares(x):
    out = np.empty(x.shape[0], np.int64)
    _squares(x, out)
    total = 0
    for i in range(out.shape[0]):
        total += out[i]
    return total


def test_one_thread_runs_the_serial_twins_and_both_agree():
    x = np.arange(1000, dtype=np.int64)
    with one_thread(True):
        assert numba.get_num_threads() == 1
        serial = _sum_of_squares(x)
    assert len(_sum_of_squares.serial.signatures) == 1
    # each form calls the callee's form of its kind (a cached caller does not load its callees,
    # so their signatures cannot show it): the copies' globals say so
    assert _sum_of_squares.serial.py_func.__globals__["_squares"] is _squares.serial
    assert _sum_of_squares.parallel.py_func.__globals__["_squares"] is _squares.parallel
    assert len(_squares.parallel.signatures) == 0  # nothing compiled or loaded the parallel form yet
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    parallel = _sum_of_squares(x)
    assert serial == parallel == int((x * x).sum())
    if numba.config.NUMBA_NUM_THREADS > 1:
        assert len(_sum_of_squares.parallel.signatures) == 1
        assert _squares.parallel.targetoptions.get("parallel") and not _squares.serial.targetoptions.get("parallel")
        assert not _sum_of_squares.parallel.targetoptions.get("parallel")  # prange=False
    assert _squares.serial.py_func.__qualname__ == "_squares.serial"  # its own entry in numba's cache


def test_one_thread_restores_the_thread_count():
    before = numba.get_num_threads()
    with one_thread(False):
        assert numba.get_num_threads() == before
    with one_thread(True):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


RUN = textwrap.dedent("""
    import random, sys
    import numpy as np, polars as pl, pyarrow as pa
    sys.path.insert(0, sys.argv[1])
    import flyttkedja
    from flyttkedja._jit import Threaded
    from flyttkedja.analysis import _bootstrap_kernels
    from flyttkedja.analysis.bootstrap import replicate_cell_totals
    from flyttkedja import _codes
    from flyttkedja.core import _kernels
    from tests import naive_trace as naive
    from tests.test_trace_naive import tables
    mv, dw = tables(*naive.random_register(random.Random(3), n_dwellings=300, n_days=60))
    for convention in ("path", "tree"):
        flyttkedja.trace(mv, dw, "all", convention=convention)
    flyttkedja.core.vacancy_statistics(mv, dw, pl.col("income") > 100_000)
    replicate_cell_totals(np.arange(50) % 7, np.arange(50) % 3, n_units=7, n_cells=3, replicates=20)
    for mod in (_kernels, _codes, _bootstrap_kernels):
        for name, k in vars(mod).items():
            if isinstance(k, Threaded):
                print(mod.__name__, name, len(k.serial.signatures), len(k.parallel.signatures))
""")


def test_a_small_register_compiles_serial_twins_only_once_each():
    """Tracing a small register (below SERIAL_BELOW moves) under both conventions, its vacancy
    statistics and a small bootstrap: no parallel form is compiled (or loaded), and no serial
    twin more than once (one signature: no read-only/writable or literal-constant copies)."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", RUN, str(root)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, NUMBA_NUM_THREADS="2"), cwd=root)
    rows = [line.split() for line in out.stdout.splitlines()]
    assert len(rows) > 20
    assert [r for r in rows if r[3] != "0"] == []  # parallel forms
    assert [r for r in rows if int(r[2]) > 1] == []  # serial twins
    used = {r[1] for r in rows if r[2] == "1"}
    assert {"successors_by_time", "replicate_cell_totals", "_bits_at_least", "link_columns", "fillings"} <= used


def test_year_start_serial_twin_and_parallel_form_draw_the_same(tmp_path, monkeypatch):
    """The synthetic market draws its year with year_start's serial twin below
    YEAR_START_SERIAL_BELOW persons (every test region) and its parallel form above: the same
    files either way (the parallel form forced with the threshold at 0, on two threads)."""
    import importlib

    from flyttkedja.synth import generate
    simulate = importlib.import_module("flyttkedja.synth.simulate")  # (flyttkedja.synth.simulate is the function)

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    generate("tiny", years=2, seed=5).write(tmp_path / "serial")
    monkeypatch.setattr(simulate, "YEAR_START_SERIAL_BELOW", 0)
    generate("tiny", years=2, seed=5).write(tmp_path / "parallel")
    from flyttkedja.synth import _demography
    assert len(_demography.year_start.serial.signatures) == 1
    assert len(_demography.year_start.parallel.signatures) == 1
    files = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*") if p.is_file())
    assert len(files) > 5
    for f in files:
        assert (tmp_path / "serial" / f).read_bytes() == (tmp_path / "parallel" / f).read_bytes(), f
