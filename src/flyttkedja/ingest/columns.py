"""Column mappings: the register's variable names → canonical column names.

A mapping is a plain ``{register name: canonical name}`` dict, read from a TOML
file the user edits (a ``[columns]`` table, or keys at the top level) instead
of renaming columns by hand. :data:`SCB_COLUMNS` is the one shipped with
flyttkedja (``scb_columns.toml`` beside this module; docs/ingest.md explains
each name and its codes).

Example
-------
>>> SCB_COLUMNS["LopNr"]
'person_id'
>>> load_columns("scb") is SCB_COLUMNS
True
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from flyttkedja.schema import SCHEMAS

SCB_FILE = Path(__file__).with_name("scb_columns.toml")
PRESETS = ("scb",)


def _read(path: Path) -> dict[str, str]:
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(path.read_text(encoding="utf-8"))
        else:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable column mapping: {exc}") from None
    table = raw.get("columns", raw) if isinstance(raw, dict) else None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise ValueError(f"{path}: a column mapping is a [columns] table of register_name = \"canonical_name\"")
    known = {f.name for schema in SCHEMAS.values() for f in schema}
    unknown = sorted({v for v in table.values() if v not in known})
    if unknown:
        raise ValueError(f"{path}: unknown canonical column(s) {unknown}; see docs/data-model.md")
    return dict(table)


SCB_COLUMNS: dict[str, str] = _read(SCB_FILE)


def load_columns(spec: str | os.PathLike | None) -> dict[str, str] | None:
    """``None``, ``"scb"`` (:data:`SCB_COLUMNS`) or a mapping file (TOML, or JSON) → the mapping.

    >>> load_columns(None) is None
    True
    """
    if spec is None:
        return None
    if str(spec) == "scb":
        return SCB_COLUMNS
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"columns: no such mapping file {path} (or use 'scb')")
    return _read(path)
