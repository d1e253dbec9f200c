"""The stale-cache guard (flyttkedja._kernel_cache) of kernels that inline another file's functions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from flyttkedja import _kernel_cache, _random
from flyttkedja.analysis import _bootstrap_kernels
from flyttkedja.scenario import _kernels as scenario_kernels
from flyttkedja.synth import _kernels as synth_kernels

RUN = textwrap.dedent("""
    import sys
    import numpy as np
    from flyttkedja._kernel_cache import bust_stale_cache
    import rng, kern
    if sys.argv[1] == "guarded":
        bust_stale_cache("test", (rng, kern))
    print(kern.draw(np.uint64(5)))
""")


def _run(tmp_path, mode, constant):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "rng.py").write_text(textwrap.dedent(f"""
        import numpy as np
        from numba import njit

        @njit(inline="always", cache=True)
        def mix(z):
            return z * np.uint64({constant})
    """))
    kern = tmp_path / "kern.py"  # written once: numba's cache index checks the caller's file's mtime
    kern.exists() or kern.write_text(textwrap.dedent("""
        from numba import njit
        from rng import mix

        @njit(cache=True)
        def draw(z):
            return mix(z)
    """))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", RUN, mode], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    return int(out.stdout.split()[-1])


def test_an_edited_inlined_module_is_recompiled(tmp_path):
    """Unguarded, numba's cache keeps the caller's code of the old callee (the hazard);
    guarded, the edit is seen."""
    assert _run(tmp_path / "a", "plain", 3) == 15
    assert _run(tmp_path / "a", "plain", 7) == 15  # stale: what the guard is for
    assert _run(tmp_path / "b", "guarded", 3) == 15
    assert _run(tmp_path / "b", "guarded", 7) == 35
    assert _run(tmp_path / "b", "guarded", 7) == 35  # and the cache is used again once stamped
    assert any(p.name == "flyttkedja-test-kernels.sha256" for p in (tmp_path / "b" / "cache").rglob("*"))


def test_every_kernel_group_inlining_random_is_guarded():
    groups = _kernel_cache.GROUPS
    assert groups["synth"] == synth_kernels._MODULES
    assert groups["analysis"] == (_random, _bootstrap_kernels)
    assert groups["scenario"] == (_random, scenario_kernels)
