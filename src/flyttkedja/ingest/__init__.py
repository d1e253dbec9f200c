"""Register ingestion: person-level registers → canonical household moves.

* :func:`from_snapshots` — yearly person snapshots (PERSONS panel) → household
  moves at annual resolution, out of core (one pair of years at a time).
* :func:`from_person_moves` — dated person events (PERSON_EVENTS) plus the
  initial snapshot → household moves at day resolution.
* :func:`annual_projection` — dated events as yearly snapshots would show
  them (what annual resolution loses, made explicit).
* :data:`SCB_COLUMNS` — an example mapping from SCB-style register names.

The rules (who moves together, vacates, fills, home leavers, dates) are in
``docs/ingest.md``.

Example
-------
>>> from flyttkedja.ingest import from_snapshots, SCB_COLUMNS
>>> moves = from_snapshots("mona/persons", "mona/dwellings.parquet", columns=SCB_COLUMNS)  # doctest: +SKIP
"""

from flyttkedja.ingest.events import annual_projection, from_person_moves
from flyttkedja.ingest.snapshots import from_snapshots

# SCB-style microdata names → canonical names (docs/ingest.md explains each).
SCB_COLUMNS: dict[str, str] = {
    "LopNr": "person_id",
    "Ar": "year",
    "LopNr_LghNr": "dwelling_id",
    "LopNr_HushallsId": "household_id",
    "FodelseAr": "birth_year",
    "Kon": "sex",
    "FodLand": "born_abroad",
    "DispInk": "income",
    "FamStF": "family_position",  # optional; values recoded to head/partner/child/other (docs/ingest.md)
    "Kommun": "municipality",
    "DeSO": "area_id",
}

__all__ = ["SCB_COLUMNS", "annual_projection", "from_person_moves", "from_snapshots"]
