"""Process-wide settings applied before numba is imported.

numba's ``cache=True`` writes compiled kernels beside the source by default.
When the package is installed read-only (system site-packages, a container),
that fails, so a writable per-user cache directory is set unless the user
chose one with ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path


def ensure_numba_cache_dir() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    package_dir = Path(__file__).resolve().parent
    if os.access(package_dir, os.W_OK):
        return
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = base / "flyttkedja" / "numba"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
