"""Tracing a register directory (as written by ``flyttkedja synth`` or ingestion).

The window and the maximum gap are read from ``register.json`` when present, so
that a register is traced with the parameters it was made (or cut) for.

Example
-------
>>> cs = trace_register("run/register")          # doctest: +SKIP
>>> cs.write("run/chains")                       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from flyttkedja import store
from flyttkedja.core.chainset import ChainSet
from flyttkedja.core.trace import Seeds, trace


def register_params(register_dir: str | Path) -> dict:
    """``window`` and ``max_gap_days`` from ``register.json`` (empty when absent)."""
    manifest = store.read_register_manifest(register_dir)
    out = {}
    if manifest is not None and manifest.window is not None:
        out["window"] = tuple(d.isoformat() for d in manifest.window)
    if manifest is not None and manifest.max_gap_days is not None:
        out["max_gap_days"] = manifest.max_gap_days
    return out


def trace_register(register_dir: str | Path, seeds: Seeds = "new_builds", *, window=None,
                   max_gap_days: int | None = None, max_length: int = 1000, convention: str = "path") -> ChainSet:
    """Trace ``register_dir/moves.parquet`` and ``dwellings.parquet``.

    ``window`` and ``max_gap_days`` default to the register's own (``register.json``),
    else to :func:`flyttkedja.core.trace`'s defaults; ``convention`` is ``"path"`` or
    ``"tree"`` (docs/chains.md).
    """
    register_dir = Path(register_dir)
    moves = store.register_input(register_dir, "moves")
    if not moves.exists():
        raise FileNotFoundError(f"{register_dir}: no {moves.name} (expected a register directory)")
    meta = register_params(register_dir)
    return trace(moves, store.register_input(register_dir, "dwellings"), seeds,
                 window=window if window is not None else meta.get("window"),
                 max_gap_days=max_gap_days if max_gap_days is not None else meta.get("max_gap_days", 365),
                 max_length=max_length, convention=convention, register_dir=register_dir)
