"""Kernels compiled for exactly one signature (private): fewer, smaller numba compilations.

The synthetic market's kernels (:mod:`flyttkedja.synth._state` and its
siblings) and the counter-based draws of :mod:`flyttkedja._random` are
declared with :func:`kernel`; :func:`compile_kernels` compiles (or loads from
numba's cache) each one once, callees first. docs/performance.md, "First-run
compilation", has the figures.
"""

from __future__ import annotations

from numba import njit

_PINNED: list = []


def kernel(ret, *args, python: bool = False):
    """``njit(cache=True)`` with exactly one signature ``ret(*args)``, fixed on first use.

    A kernel called from another kernel with a constant argument (``-1``,
    ``True``) would otherwise be compiled once more for each combination of
    literal values (numba types constants as literals): eight copies of
    the synthetic market's ``record_move``, five of ``new_seeker``. Pinned kernels are compiled
    for their signature by :func:`compile_kernels` and then refuse new
    specialisations, so constants convert to the declared types.

    Pinned kernels allocate nothing, so they are compiled without numba's
    reference counting (``_nrt=False``): no incref/decref of the arrays they
    take (the synthetic market's state) on every call (docs/performance.md).

    They are called from other kernels only, so numba builds them no Python
    wrapper (boxing and unboxing the synthetic market's 21-field state costs
    about 0.1 s of compilation per kernel); ``python=True`` keeps it for the few that tests
    also call from Python.
    """
    def wrap(fn):
        dispatcher = njit(cache=True, _nrt=False, no_cpython_wrapper=not python, no_cfunc_wrapper=True)(fn)
        _PINNED.append((dispatcher, ret(*args)))
        return dispatcher
    return wrap


def compile_kernels() -> None:
    """Compile (or load from numba's cache) every pinned kernel for its one signature, callees first.

    Call it before the first call of a kernel that calls pinned ones
    (``simulate.simulate`` does); later calls return at once.
    """
    while _PINNED:
        dispatcher, sig = _PINNED.pop(0)
        dispatcher.compile(sig)
        dispatcher.disable_compile()
