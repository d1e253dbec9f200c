"""Canonical register tables: Arrow schemas, code lists and validation.

These schemas are the contract between every part of flyttkedja: the synthetic
generator writes them, ingestion produces them, the tracer and the analysis read
them. ``docs/data-model.md`` documents every field.

Categorical columns are stored as plain strings holding one canonical English
code (``"rental"``, not ``"hyresrätt"``); :func:`conform` accepts the Swedish names
and SCB's numeric codes on input and rewrites them. Kernels never see strings:
:func:`codes` turns a categorical column into small integers in the order of
its code list.

Example
-------
>>> import pyarrow as pa
>>> from flyttkedja.schema import conform
>>> t = pa.table({"dwelling_id": [1, 2], "tenure": ["hyresrätt", "3"]})
>>> conform(t, "dwellings", partial=True)["tenure"].to_pylist()
['rental', 'owner']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# --------------------------------------------------------------------------- codes
TENURES: tuple[str, ...] = ("rental", "cooperative", "owner")
LANDLORDS: tuple[str, ...] = ("public", "private")
BUILDING_TYPES: tuple[str, ...] = ("multi_dwelling", "small_house")
AREA_TYPES: tuple[str, ...] = (  # RegSO area types, most to least deprived
    "major_challenges",
    "challenges",
    "mixed",
    "good",
    "very_good",
)
ORIGINS: tuple[str, ...] = ("dwelling", "new_household", "in_migrant", "immigrant")
DESTINATIONS: tuple[str, ...] = ("dwelling", "out_migrant", "emigrant", "dissolved")
HOUSEHOLD_TYPES: tuple[str, ...] = (
    "single",
    "couple",
    "single_parent",
    "couple_with_children",
    "other",
)
FORMATIONS: tuple[str, ...] = ("initial", "new_household", "in_migrant", "immigrant", "split")
SEXES: tuple[str, ...] = ("F", "M")
FAMILY_POSITIONS: tuple[str, ...] = (  # a person's place in the register household (FamSt-like)
    "head",     # household head / reference person; a person living alone
    "partner",  # the head's spouse, registered partner or cohabitant
    "child",    # a child living with a parent
    "other",    # anyone else (another relative, a lodger)
)
END_REASONS: tuple[str, ...] = (  # how a chain ends; docs/chains.md
    "new_household",
    "in_migrant",
    "immigrant",
    "not_vacated",
    "unfilled",
    "censored",
    "cycle",
    "max_length",
)
PERSON_EVENT_KINDS: tuple[str, ...] = (
    "move",           # between two dwellings of the study area
    "birth",          # born into to_dwelling
    "death",          # died in from_dwelling
    "in_migration",   # arrived from elsewhere in Sweden into to_dwelling
    "immigration",    # arrived from abroad into to_dwelling
    "out_migration",  # left from_dwelling for elsewhere in Sweden
    "emigration",     # left from_dwelling for abroad
)
SEED_KINDS: tuple[str, ...] = ("new_build", "move")  # what opened a chain's first vacancy

# Swedish names and SCB codes accepted on input (compared after folding case and
# diacritics, so "Hyresrätt", "hyresratt" and "HYRESRÄTT" all match).
_ALIASES: dict[str, dict[str, str]] = {
    "tenure": {
        "hyresratt": "rental", "hr": "rental", "1": "rental",
        "bostadsratt": "cooperative", "br": "cooperative", "2": "cooperative",
        "aganderatt": "owner", "agarlagenhet": "owner", "ar": "owner", "3": "owner",
        "owner_occupied": "owner", "owner-occupied": "owner", "co-operative": "cooperative",
    },
    "landlord": {
        "allmannytta": "public", "allmannyttan": "public", "kommunal": "public",
        "privat": "private", "private_landlord": "private",
    },
    "building_type": {
        "flerbostadshus": "multi_dwelling", "fbh": "multi_dwelling", "multi-dwelling": "multi_dwelling",
        "smahus": "small_house", "sh": "small_house", "small-house": "small_house",
    },
    "origin": {
        "lagenhet": "dwelling", "flytta_hemifran": "new_household", "nytt_hushall": "new_household",
        "inflyttare": "in_migrant", "invandrare": "immigrant",
    },
    "destination": {
        "lagenhet": "dwelling", "utflyttare": "out_migrant", "utvandrare": "emigrant",
        "dodsfall": "dissolved", "upplost": "dissolved",
    },
    "area_type": {
        "1": "major_challenges", "stora_socioekonomiska_utmaningar": "major_challenges",
        "2": "challenges", "socioekonomiska_utmaningar": "challenges",
        "3": "mixed", "socioekonomiskt_blandade": "mixed",
        "4": "good", "goda_socioekonomiska_forutsattningar": "good",
        "5": "very_good", "mycket_goda_socioekonomiska_forutsattningar": "very_good",
    },
    "family_position": {
        "huvudman": "head", "referensperson": "head", "ensamstaende": "head",
        "make": "partner", "maka": "partner", "sambo": "partner", "gift": "partner", "registrerad_partner": "partner",
        "barn": "child", "hemmavarande_barn": "child",
        "ovrig": "other", "ovriga": "other",
    },
    "sex": {"k": "F", "kvinna": "F", "female": "F", "2": "F", "m": "M", "man": "M", "male": "M", "1": "M"},
}

CODE_LISTS: dict[str, tuple[str, ...]] = {
    "tenure": TENURES,
    "landlord": LANDLORDS,
    "building_type": BUILDING_TYPES,
    "area_type": AREA_TYPES,
    "origin": ORIGINS,
    "destination": DESTINATIONS,
    "household_type": HOUSEHOLD_TYPES,
    "formation": FORMATIONS,
    "sex": SEXES,
    "head_sex": SEXES,
    "event": PERSON_EVENT_KINDS,
    "family_position": FAMILY_POSITIONS,
}

# ------------------------------------------------------------------------- schemas
def _f(name: str, type_: pa.DataType, nullable: bool, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


DWELLINGS = pa.schema([
    _f("dwelling_id", pa.int64(), False, "Dwelling id, unique (lägenhetsnummer, pseudonymised)."),
    _f("building_id", pa.int64(), False, "Building (or new-build project) the dwelling belongs to."),
    _f("tenure", pa.string(), False, "Tenure form: rental, cooperative or owner."),
    _f("landlord", pa.string(), True, "public (allmännytta) or private for rental; null otherwise."),
    _f("building_type", pa.string(), False, "multi_dwelling (flerbostadshus) or small_house (småhus)."),
    _f("rooms", pa.int8(), False, "Rooms, kitchen not counted (2 = '2 rum och kök')."),
    _f("floor_area_m2", pa.int16(), False, "Living area in square metres."),
    _f("area_id", pa.int32(), False, "Small area (DeSO/RegSO-like)."),
    _f("area_type", pa.string(), False, "Socioeconomic type of the small area (RegSO classes)."),
    _f("municipality", pa.string(), False, "Municipality code, four digits."),
    _f("completed", pa.date32(), True, "Completion date; null for stock older than the study window."),
    _f("demolished", pa.date32(), True, "Demolition date; null if standing at the end of the window."),
])

HOUSEHOLDS = pa.schema([
    _f("household_id", pa.int64(), False, "Household id, unique."),
    _f("formation", pa.string(), False, "How it entered: initial, new_household, in_migrant, immigrant, split."),
    _f("formed", pa.date32(), True, "Date it formed or arrived; null for households present at the start."),
    _f("head_birth_year", pa.int16(), False, "Birth year of the household head."),
    _f("head_sex", pa.string(), False, "Sex of the household head: F or M."),
    _f("born_abroad", pa.bool_(), False, "Head born outside Sweden (utrikes född)."),
])

MOVES = pa.schema([
    _f("household_id", pa.int64(), False, "Moving household."),
    _f("move_date", pa.date32(), False, "Date of the move (for annual data: the rule in docs/ingest.md)."),
    _f("from_dwelling", pa.int64(), True, "Dwelling left; null when none in the study area is left."),
    _f("to_dwelling", pa.int64(), True, "Dwelling entered; null when the household leaves the area or dissolves."),
    _f("origin", pa.string(), False, "dwelling, new_household, in_migrant or immigrant."),
    _f("destination", pa.string(), False, "dwelling, out_migrant, emigrant or dissolved."),
    _f("vacates", pa.bool_(), False, "All residents left from_dwelling: it became empty."),
    _f("fills", pa.bool_(), False, "to_dwelling was empty when the household moved in."),
    _f("size", pa.int8(), False, "Persons in the moving household."),
    _f("adults", pa.int8(), False, "Persons aged 18 or more in the moving household."),
    _f("age_head", pa.int16(), False, "Age of the household head at the move, years."),
    _f("income", pa.int64(), False, "Household disposable income, SEK per year: the members' incomes of the "
       "move year's 31 December snapshot (the previous one for members gone by then); docs/ingest.md."),
    _f("household_type", pa.string(), False, "single, couple, single_parent, couple_with_children or other."),
    _f("born_abroad", pa.bool_(), False, "Head born outside Sweden."),
])

AREAS = pa.schema([
    _f("area_id", pa.int32(), False, "Small area id."),
    _f("municipality", pa.string(), False, "Municipality code, four digits."),
    _f("area_type", pa.string(), False, "Socioeconomic type (RegSO classes)."),
    _f("median_income", pa.int64(), False, "Median disposable income per consumption unit of residents, SEK/year."),
])

PERSONS = pa.schema([  # SCB-style yearly snapshot panel, one row per person and year
    _f("person_id", pa.int64(), False, "Pseudonymised person id (LopNr)."),
    _f("year", pa.int16(), False, "Snapshot year; the snapshot refers to 31 December."),
    _f("dwelling_id", pa.int64(), True, "Dwelling registered on; null when not registered on one."),
    _f("household_id", pa.int64(), True, "Register household id in that year."),
    _f("birth_year", pa.int16(), False, "Birth year."),
    _f("sex", pa.string(), False, "F or M."),
    _f("born_abroad", pa.bool_(), False, "Born outside Sweden."),
    _f("income", pa.int64(), False, "Individual disposable income that year, SEK."),
    _f("municipality", pa.string(), True, "Municipality of residence; null when outside the region."),
    _f("area_id", pa.int32(), True, "Small area of residence."),
    _f("family_position", pa.string(), True,
       "head, partner, child or other in the register household (FamSt); optional, see docs/ingest.md."),
])

PERSON_EVENTS = pa.schema([  # dated person-level register events (folkbokföring)
    _f("person_id", pa.int64(), False, "Pseudonymised person id (LopNr)."),
    _f("event_date", pa.date32(), False, "Date the event took effect."),
    _f("event", pa.string(), False, "move, birth, death, in_migration, immigration, out_migration, emigration."),
    _f("from_dwelling", pa.int64(), True, "Dwelling left; null for birth, in_migration and immigration."),
    _f("to_dwelling", pa.int64(), True, "Dwelling entered; null for death, out_migration and emigration."),
])

SCHEMAS: dict[str, pa.Schema] = {
    "dwellings": DWELLINGS,
    "households": HOUSEHOLDS,
    "moves": MOVES,
    "areas": AREAS,
    "persons": PERSONS,
    "person_events": PERSON_EVENTS,
}
# Nullable columns a table may lack altogether (registers without them): conform leaves them out.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"persons": ("family_position",)}
UNIQUE_KEYS: dict[str, str] = {"dwellings": "dwelling_id", "households": "household_id", "areas": "area_id"}


class SchemaError(ValueError):
    """A table does not meet its canonical schema; the message names table, column and rows."""


# ---------------------------------------------------------------------- conforming
def _fold(value: str) -> str:
    """Lower-case, strip diacritics and turn spaces into underscores."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "_")


def _example_rows(mask: pa.Array | np.ndarray, limit: int = 5) -> list[int]:
    return np.flatnonzero(np.asarray(mask, dtype=bool))[:limit].tolist()


def _normalise_codes(table_name: str, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    allowed = CODE_LISTS[name]
    aliases = _ALIASES.get(name.removeprefix("head_"), {})
    as_text = column.cast(pa.string())
    distinct = pc.unique(as_text).to_pylist()
    mapping: dict[str, str] = {}
    bad: list[str] = []
    for value in distinct:
        if value is None:
            continue
        if value in allowed:
            mapping[value] = value
            continue
        folded = _fold(value)
        target = folded if folded in allowed else aliases.get(folded)
        if target is None:
            bad.append(value)
        else:
            mapping[value] = target
    if bad:
        rows = _example_rows(pc.is_in(as_text, value_set=pa.array(bad)).to_numpy(zero_copy_only=False))
        raise SchemaError(
            f"{table_name}.{name}: unknown code(s) {bad[:5]} at rows {rows}; "
            f"allowed: {', '.join(allowed)} (Swedish names and SCB codes are accepted too)"
        )
    if all(k == v for k, v in mapping.items()):
        return as_text
    keys = pa.array(list(mapping))
    values = pa.array(list(mapping.values()))
    index = pc.index_in(as_text, value_set=keys)
    return pc.take(values, index)


def conform(
    table: pa.Table,
    name: str,
    *,
    partial: bool = False,
    check_unique: bool = True,
) -> pa.Table:
    """Cast ``table`` to the canonical schema ``name`` and check it.

    Columns are reordered to the schema, cast to their canonical types,
    categorical codes are normalised (Swedish names and SCB codes become the
    English code), and non-nullable columns are checked for nulls. Extra columns
    are kept, after the canonical ones.

    Parameters
    ----------
    table : pyarrow.Table
    name : {"dwellings", "households", "moves", "areas", "persons", "person_events"}
    partial : bool
        Allow canonical columns to be missing (used for inputs that carry only
        what a step needs). Columns in ``OPTIONAL_COLUMNS`` (``persons.family_position``)
        may always be missing; they are then left out.
    check_unique : bool
        Check the table's key column (``dwelling_id`` ...) for duplicates.

    Raises
    ------
    SchemaError
        Naming the table, the column and example row numbers.
    """
    schema = SCHEMAS[name]
    optional = OPTIONAL_COLUMNS.get(name, ())
    missing = [f.name for f in schema if f.name not in table.column_names and f.name not in optional]
    if missing and not partial:
        raise SchemaError(f"{name}: missing column(s) {missing}; present: {table.column_names}")
    columns: dict[str, pa.ChunkedArray] = {}
    for field in schema:
        if field.name not in table.column_names:
            continue
        column = table.column(field.name)
        if field.name in CODE_LISTS:
            column = _normalise_codes(name, field.name, column)
        try:
            column = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(
                f"{name}.{field.name}: cannot convert {column.type} to {field.type}: {exc}"
            ) from None
        if not field.nullable and column.null_count:
            rows = _example_rows(pc.is_null(column).to_numpy(zero_copy_only=False))
            raise SchemaError(f"{name}.{field.name}: {column.null_count} null value(s), e.g. rows {rows}")
        columns[field.name] = column
    for extra in table.column_names:
        if extra not in columns:
            columns[extra] = table.column(extra)
    out = pa.table(columns)
    key = UNIQUE_KEYS.get(name)
    if check_unique and key in columns:
        _check_unique(name, key, out.column(key))
    fields = [schema.field(c) if c in schema.names else out.schema.field(c) for c in out.column_names]
    return out.cast(pa.schema(fields))


def _check_unique(table_name: str, key: str, column: pa.ChunkedArray) -> None:
    values = column.to_numpy()
    if len(values) < 2:
        return
    order = np.argsort(values, kind="stable")
    dup = np.flatnonzero(values[order][1:] == values[order][:-1])
    if len(dup):
        rows = sorted(order[np.unique(np.concatenate([dup, dup + 1]))][:5].tolist())
        raise SchemaError(
            f"{table_name}.{key}: {len(dup)} duplicate id(s), e.g. {values[order][dup[0]]} at rows {rows}"
        )


def codes(column: pa.ChunkedArray | pa.Array, code_list: Sequence[str], null_code: int = -1) -> np.ndarray:
    """Integer codes (int8) of a conformed categorical column, in ``code_list`` order.

    Nulls become ``null_code``. Values outside the list raise :class:`SchemaError`.

    >>> codes(pa.array(["owner", None, "rental"]), TENURES).tolist()
    [2, -1, 0]
    """
    index = pc.index_in(column, value_set=pa.array(list(code_list)))
    unknown = pc.and_(pc.is_null(index), pc.is_valid(column))
    if pc.any(unknown).as_py():
        rows = _example_rows(unknown.to_numpy(zero_copy_only=False))
        raise SchemaError(f"unknown code(s) at rows {rows}; allowed: {', '.join(code_list)}")
    return pc.fill_null(index, null_code).to_numpy(zero_copy_only=False).astype(np.int8)


def canonical_code(column: str, value: str | None) -> str | None:
    """The canonical code of one input value of a categorical column, or None when
    it is null or unknown (folded and matched as :func:`conform` does).

    >>> canonical_code("family_position", "Övrig")
    'other'
    """
    if value is None:
        return None
    table = aliases(column)
    return table.get(value, table.get(_fold(value)))


def aliases(column: str) -> dict[str, str]:
    """Accepted input spellings → canonical code of a categorical column, for
    readers that normalise lazily (e.g. polars); keys are folded as :func:`conform`
    folds (lower case, no diacritics, spaces as underscores).

    >>> aliases("family_position")["barn"]
    'child'
    """
    allowed = CODE_LISTS[column]
    return {code: code for code in allowed} | _ALIASES.get(column.removeprefix("head_"), {})


def empty(name: str) -> pa.Table:
    """An empty table with the canonical schema ``name``."""
    return SCHEMAS[name].empty_table()


def field_docs(name: str) -> Mapping[str, str]:
    """Column name → one-line meaning, from the schema's field metadata."""
    return {f.name: f.metadata[b"doc"].decode() for f in SCHEMAS[name]}
