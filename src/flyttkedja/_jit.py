"""Kernels compiled for exactly one signature (private): fewer, smaller numba compilations.

The synthetic market's kernels (:mod:`flyttkedja.synth._state` and its
siblings) and the counter-based draws of :mod:`flyttkedja._random` are
declared with :func:`kernel`; :func:`compile_kernels` compiles (or loads from
numba's cache) each one once, callees first. Kernels with ``prange`` loops are
declared with :func:`threaded`: a parallel form and a serial twin, each
compiled only when a run uses it. docs/performance.md, "First-run
compilation", has the figures.
"""

from __future__ import annotations

import sys
import types as pytypes
from contextlib import contextmanager

import numba
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


class Threaded:
    """A kernel with ``prange`` loops, compiled in two forms on demand: ``parallel=True`` and a
    serial twin (the same code, ``prange`` as ``range``), chosen per call from Python by
    ``numba.get_num_threads()``: the twin on one thread, the parallel form otherwise.

    Compiling a kernel with ``parallel=True`` costs three to four times as much as compiling it
    serially (every ``prange`` loop becomes its own gufunc): 18.4 against 8.9 CPU-s for the
    tracer's and report's kernels of ``flyttkedja demo``, whose tracer runs on one thread
    (``core.trace.serial_when_small``). With twins a run compiles only the form it uses.
    Both forms compute the same: every kernel declared so writes each output slot from one
    iteration (integer reductions only), so its result does not depend on the thread count.

    Each form is a copy of the function whose globals map every other ``Threaded`` kernel to
    its form of the same kind, so a serial twin calls serial twins (a kernel that calls a
    ``Threaded`` kernel must be ``Threaded`` itself). The serial twin has its own name in
    numba's cache (``<name>.serial``; numba keys cached code on the function's name, not on its
    flags). Python callers use the object itself; ``.parallel`` and ``.serial`` are the numba
    dispatchers. Neither form gets numba's C-function wrapper (``no_cfunc_wrapper``: only
    needed to pass a kernel as a first-class function; about 4% of a compilation).
    ``prange=False``: a kernel without ``prange`` loops of its own that calls
    ``Threaded`` kernels; its parallel form is compiled without ``parallel=True`` (numba warns
    that nothing was parallelised) and calls their parallel forms. ``serial``: globals the
    serial twin sees instead of the module's (``{"name": replacement}``), for helpers that pay
    only at the sizes the parallel form runs at (the successor pass's prefetches).
    """

    def __init__(self, fn, options: dict, prange: bool = True, serial: dict | None = None):
        self.__wrapped__ = fn
        self.__name__, self.__qualname__, self.__module__ = fn.__name__, fn.__qualname__, fn.__module__
        self.__doc__ = fn.__doc__
        self._globals: dict[str, dict] = {"parallel": {}, "serial": {}}
        self._serial_overrides = dict(serial or {})
        made = {}
        for form, parallel in (("parallel", True), ("serial", False)):
            copy = pytypes.FunctionType(fn.__code__, self._globals[form], fn.__name__, fn.__defaults__,
                                        fn.__closure__)
            copy.__qualname__ = fn.__qualname__ if parallel else fn.__qualname__ + ".serial"
            copy.__module__, copy.__doc__ = fn.__module__, fn.__doc__
            made[form] = njit(cache=True, parallel=parallel and prange, no_cfunc_wrapper=True, **options)(copy)
        self.parallel, self.serial = made["parallel"], made["serial"]
        self.dispatchers = (self.parallel, self.serial)
        self._ready = False

    def resolve(self) -> None:
        """Fill both copies' globals from the defining module (now fully imported), every
        ``Threaded`` value replaced by its form of the same kind; then those kernels' too."""
        if self._ready:
            return
        self._ready = True
        module_globals = vars(sys.modules[self.__module__])
        for form, g in self._globals.items():
            g.clear()
            for k, v in module_globals.items():
                g[k] = getattr(v, form) if isinstance(v, Threaded) else v
            if form == "serial":
                g.update(self._serial_overrides)
        for v in module_globals.values():
            if isinstance(v, Threaded):
                v.resolve()

    def __call__(self, *args):
        self._ready or self.resolve()
        return (self.serial if numba.get_num_threads() == 1 else self.parallel)(*args)


def threaded(fn=None, *, prange: bool = True, serial: dict | None = None, **options):
    """Declare a ``prange`` kernel :class:`Threaded`: ``@threaded`` for ``njit(cache=True,
    parallel=True)``; ``@threaded(prange=False)`` for a kernel that only calls such kernels;
    ``serial={...}``: globals replaced in the serial twin."""
    if fn is None:
        return lambda f: Threaded(f, options, prange, serial)
    return Threaded(fn, options, prange, serial)


@contextmanager
def one_thread(when: bool):
    """Run the kernels called inside on one thread (so :class:`Threaded` kernels take their
    serial twins) when ``when`` holds; thread-local, restored on exit. Results do not depend
    on it: for small inputs, where a parallel region's start-up costs more than the work and
    compiling the parallel form would cost more than it ever saves."""
    before = numba.get_num_threads()
    if not when or before == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
