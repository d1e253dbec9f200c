"""Stale numba caches of kernels that inline other files' functions (private).

numba's ``cache=True`` keys a cached kernel on its own source file only. A
kernel that inlines a function of another file (every kernel drawing from
:mod:`flyttkedja._random`, the synthetic market's handlers from their
siblings) would keep the compiled code of the other file's old version after
it is edited. :func:`bust_stale_cache` guards against that: each group of
kernel modules stamps the cache directories of its modules with a digest of
all their sources and drops their cached kernels when the digest changes (the
first call after an edit recompiles the group). The groups are registered in
:data:`GROUPS` (synth, analysis, scenario); each has its own stamp, so groups
sharing a module (all share ``_random``) never undo each other's stamps.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

GROUPS: dict[str, tuple[ModuleType, ...]] = {}


def bust_stale_cache(group: str, modules: tuple[ModuleType, ...]) -> None:
    """Drop cached kernels of ``modules`` when any of their sources changed since they were cached.

    Call it at import of the module that defines (or gathers) the group's
    kernels, before any of them runs: numba loads a cached kernel on its first call.
    """
    GROUPS[group] = tuple(modules)
    digest = hashlib.sha256()
    for mod in modules:
        digest.update(Path(mod.__file__).read_bytes())
    stamp = digest.hexdigest()
    dirs: dict[Path, set[str]] = {}
    for mod in modules:
        for value in vars(mod).values():
            for obj in getattr(value, "dispatchers", (value,)):  # a _jit.Threaded kernel has two
                cache = getattr(obj, "_cache", None)
                path = getattr(cache, "_cache_path", None)
                if path and getattr(obj, "__module__", None) == mod.__name__:
                    dirs.setdefault(Path(path), set()).add(Path(mod.__file__).stem)
    for directory, stems in dirs.items():
        marker = directory / f"flyttkedja-{group}-kernels.sha256"
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
