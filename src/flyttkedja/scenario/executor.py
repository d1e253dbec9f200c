"""Where replications run: local processes by default, a Dask cluster when given a scheduler.

:func:`map_replications` calls ``fn(seed)`` for every seed and returns the
results in seed order, whatever order they finish in — so the comparison
table is byte-identical for any executor and any number of workers (each
replication's random streams are keyed to its own seed only).

- ``workers=0``: in this process, one after another (debugging, tests);
- ``workers=N`` (default: the CPUs this process may use, at most one per replication):
  a pool of N local processes (started fresh, ``spawn``: safe with numba's
  threads);
- ``scheduler="tcp://host:8786"`` or a ``distributed.Client``: the Dask
  cluster behind it (``pip install 'flyttkedja[distributed]'``).

Example
-------
>>> from functools import partial
>>> map_replications(partial(pow, 2), [1, 2, 3], workers=0)
[2, 4, 8]
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed


def map_replications(fn: Callable, seeds: Sequence[int], *, workers: int | None = None, scheduler=None,
                     progress: Callable[[], None] | None = None) -> list:
    """``[fn(seed) for seed in seeds]``, run by the chosen executor (see the module docstring)."""
    seeds = [int(s) for s in seeds]
    tick = progress or (lambda: None)
    if not seeds:
        return []
    if scheduler is not None:
        return _dask(fn, seeds, scheduler, tick)
    n = _cpus() if workers is None else int(workers)
    n = min(n, len(seeds))
    if n <= 0 or (workers is None and n == 1):
        out = []
        for s in seeds:
            out.append(fn(s))
            tick()
        return out
    results: dict[int, object] = {}
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, s): i for i, s in enumerate(seeds)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            tick()
    return [results[i] for i in range(len(seeds))]


def _cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count: containers, batch jobs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _dask(fn, seeds, scheduler, tick) -> list:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("a Dask scheduler was given but dask.distributed is not installed: "
                           "pip install 'flyttkedja[distributed]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(fn, seeds, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, object] = {}
        for fut in dask_completed(futures):
            results[index[fut.key]] = fut.result()
            tick()
        return [results[i] for i in range(len(seeds))]
    finally:
        if client is not scheduler:
            client.close()
