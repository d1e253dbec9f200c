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
:func:`flyttkedja._kernel_cache.bust_stale_cache` guards against that: it
stamps the cache directory with a digest of all the files above and drops
their cached kernels when the digest changes (the first call after an edit
recompiles everything).
"""

from __future__ import annotations

from flyttkedja import _random
from flyttkedja._kernel_cache import bust_stale_cache
from flyttkedja.synth import _demography, _market, _state, _year
from flyttkedja.synth._demography import *  # noqa: F403
from flyttkedja.synth._demography import pick, year_start  # noqa: F401
from flyttkedja.synth._market import *  # noqa: F403
from flyttkedja.synth._market import choose_target, find_seeker  # noqa: F401
from flyttkedja.synth._state import *  # noqa: F403
from flyttkedja.synth._state import Market  # noqa: F401
from flyttkedja.synth._year import simulate_year  # noqa: F401

_MODULES = (_random, _state, _market, _demography, _year)

bust_stale_cache("synth", _MODULES)
