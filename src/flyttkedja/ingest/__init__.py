"""Register ingestion: person-level registers → canonical household moves.

* :func:`from_snapshots` — yearly person snapshots (PERSONS panel) → household
  moves at annual resolution, out of core (one pair of years at a time).
* :func:`from_person_moves` — dated person events (PERSON_EVENTS) plus the
  initial snapshot → household moves at day resolution.
* :func:`annual_projection` — dated events as yearly snapshots would show
  them (what annual resolution loses, made explicit).
* :data:`SCB_COLUMNS`, :func:`load_columns` — register variable names → canonical
  columns, from a TOML mapping file (``flyttkedja ingest columns`` prints SCB's).

The rules (who moves together, vacates, fills, home leavers, dates) are in
``docs/ingest.md``.

Example
-------
>>> from flyttkedja.ingest import from_snapshots, SCB_COLUMNS
>>> moves = from_snapshots("mona/persons", "mona/dwellings.parquet", columns=SCB_COLUMNS)  # doctest: +SKIP
"""

from flyttkedja.ingest.columns import SCB_COLUMNS, load_columns
from flyttkedja.ingest.events import annual_projection, from_person_moves
from flyttkedja.ingest.snapshots import from_snapshots


__all__ = ["SCB_COLUMNS", "annual_projection", "from_person_moves", "from_snapshots", "load_columns"]
