"""The simulator's numba kernels, one place to import them from (private).

The kernels live in files by responsibility:

* ``_state.py`` -- the :class:`~flyttkedja.synth._state.Market` structure, its
  columns (codes derived from :mod:`flyttkedja.schema`), stable identities and
  the record helpers;
* ``_demography.py`` -- the year's draws (parallel) and one handler per
  household event;
* ``_market.py`` -- seekers, vacancies, matching, the same-day chain and the
  handlers of completions and arrivals;
* ``_year.py`` -- the year loop that dispatches events to the handlers;
* :mod:`flyttkedja._random` -- the counter-based random numbers.

numba's ``cache=True`` keys a cached kernel on its own file only, so a kernel
in ``_year.py`` would keep the compiled code of an edited ``_market.py``.
:func:`_bust_stale_cache` guards against that: it stamps the cache directory
with a digest of all the files above and drops their cached kernels when the
digest changes (the first call after an edit recompiles everything).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flyttkedja import _random
from flyttkedja.synth import _demography, _market, _state, _year
from flyttkedja.synth._demography import *  # noqa: F403
from flyttkedja.synth._demography import pick, year_start  # noqa: F401
from flyttkedja.synth._market import *  # noqa: F403
from flyttkedja.synth._market import choose_target, find_seeker  # noqa: F401
from flyttkedja.synth._state import *  # noqa: F403
from flyttkedja.synth._state import Market  # noqa: F401
from flyttkedja.synth._year import simulate_year  # noqa: F401

_MODULES = (_random, _state, _market, _demography, _year)
_STAMP = "flyttkedja-synth-kernels.sha256"


def _bust_stale_cache() -> None:
    """Drop cached kernels of these modules when any of their sources changed since they were cached."""
    digest = hashlib.sha256()
    for mod in _MODULES:
        digest.update(Path(mod.__file__).read_bytes())
    stamp = digest.hexdigest()
    dirs = {}
    for mod in _MODULES:
        for obj in vars(mod).values():
            cache = getattr(obj, "_cache", None)
            path = getattr(cache, "_cache_path", None)
            if path and getattr(obj, "__module__", None) == mod.__name__:
                dirs.setdefault(Path(path), set()).add(Path(mod.__file__).stem)
    for directory, stems in dirs.items():
        marker = directory / _STAMP
        try:
            if marker.exists() and marker.read_text() == stamp:
                continue
            if directory.exists():
                for f in directory.iterdir():
                    if f.suffix in (".nbi", ".nbc") and f.name.split(".", 1)[0] in stems:
                        f.unlink(missing_ok=True)
            directory.mkdir(parents=True, exist_ok=True)
            marker.write_text(stamp)
        except OSError:  # a read-only cache: numba itself will not write there either
            pass


_bust_stale_cache()
