"""Synthetic Swedish-style register with ground-truth vacancy chains.

A vacancy-driven housing-market microsimulation (numba kernels in
``_state.py``, ``_demography.py``, ``_market.py`` and ``_year.py``, gathered
in ``_kernels.py``) of a region of municipalities and small areas; see
``docs/synthetic.md`` for the model and ``docs/calibration.md`` for how its
output compares with published Swedish figures. A new-build
:class:`Programme` (lines of dwellings, with allocation rules) can be added
to a run; two runs with and without it share every random draw the
programme's effects do not reach.

Example
-------
>>> from flyttkedja.synth import generate, read_register
>>> reg = generate("tiny", years=1, seed=3)
>>> reg.moves.num_rows > 0 and reg.truth_moves.num_rows == reg.moves.num_rows
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyttkedja.synth.config import ConfigError, SynthConfig, load_config
from flyttkedja.synth.programme import ALLOCATIONS, Programme, ProgrammeLine
from flyttkedja.synth.register import Register, build_register, read_register
from flyttkedja.synth.simulate import RawRegister, simulate

__all__ = ["ALLOCATIONS", "ConfigError", "Programme", "ProgrammeLine", "RawRegister", "Register", "SynthConfig",
           "generate", "load_config", "read_register", "simulate"]


def generate(
    preset: str | dict[str, Any] = "metro",
    *,
    scale: float = 1.0,
    years: int | None = 10,
    seed: int = 7,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    programme: Programme | None = None,
) -> Register:
    """Simulate a region and return its register with ground truth.

    Parameters
    ----------
    preset : str or dict
        ``"metro"`` (about 1 million residents, 13 municipalities), ``"tiny"``,
        a path to a TOML preset, or a dict (see :func:`load_config`).
    scale : float
        Multiplies residents and every flow: 0.05 for a quick run, 8-10 for a
        national-size one.
    years : int or None
        Years simulated (the window); None keeps the preset's.
    seed : int
        Same preset, scale, years and seed give byte-identical output files.
    progress : callable, optional
        Called with each simulated year when it is done.
    programme : Programme, optional
        Extra new builds (a scenario's programme; see :mod:`flyttkedja.synth.programme`).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed!r}")
    cfg = load_config(preset, years=years, scale=scale, overrides=overrides)
    raw = simulate(cfg, seed, progress, programme)
    meta = {"preset": cfg.preset, "seed": seed, "scale": cfg.scale, "years": cfg.years,
            "first_year": cfg.first_year, "residents": cfg.residents}
    return build_register(raw, meta)
