"""Canonical register tables: Arrow schemas, code lists and validation.

These schemas are the contract between every part of flyttkedja: the synthetic
generator writes them, ingestion produces them, the tracer and the analysis read
them. ``docs/data-model.md`` documents every field.

Categorical columns are stored as plain strings holding one canonical English
code (``"rental"``, not ``"hyresrätt"``); :func:`conform` accepts the Swedish names
and SCB's numeric codes on input and rewrites them. A column that arrives
dictionary-encoded (Parquet's dictionary pages, polars ``Categorical``) is decided on
its dictionary; the tracer keeps it dictionary-encoded (``keep_dictionary``). Kernels
never see strings: :func:`codes` turns a categorical column into small integers in the order of
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

import datetime as dt
import functools
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
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
# Columns without which no step can use a table (the tracer's; ingestion's are in ingest/_panel.py).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "moves": ("household_id", "move_date", "from_dwelling", "to_dwelling", "origin", "destination",
              "vacates", "fills"),
    "dwellings": ("dwelling_id",),
    "areas": ("area_id", "median_income"),
    "person_events": ("person_id", "event_date", "event", "from_dwelling", "to_dwelling"),
}
# Nullable columns a table may lack altogether (registers without them): conform leaves them out.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"persons": ("family_position",)}
UNIQUE_KEYS: dict[str, str] = {"dwellings": "dwelling_id", "households": "household_id", "areas": "area_id"}


class SchemaError(ValueError):
    """A table does not meet its canonical schema; the message names table, column and rows."""


# ------------------------------------------------------------------------ the rule set
# Bounds of the documented ranges (docs/data-model.md, "Constraints").
MAX_SIZE = 50               # persons in one register household
MAX_AGE = 120               # years
MAX_ROOMS = 50              # rooms, kitchen not counted
MAX_FLOOR_AREA = 5_000      # m²
MAX_INCOME = 10**11         # SEK per year, either sign: sums over millions of rows stay far inside int64
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)  # a date outside is a wrong type or unit
EXAMPLES = 5


@dataclass(frozen=True)
class Rule:
    """One documented constraint on a table: rows where ``check`` is true break it.

    ``check`` is a polars expression over the table's canonical columns and, for
    rules that relate tables (``scope="register"``), the derived columns named in
    :data:`DERIVED`. ``action`` says what the refusing functions (``trace``,
    ``Report``, ``from_snapshots``, ``from_person_moves``) do: ``"refuse"`` (a
    :class:`SchemaError` naming table, column and example rows, before any
    work), or ``"count"`` (accepted and counted: ``validate`` reports it, the
    tracer's ``quality`` counts it). ``validate`` reports every rule.
    """

    table: str
    column: str
    check: pl.Expr
    message: str
    action: str = "refuse"
    show_values: bool = False  # examples of the offending values in messages (never for ids)

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.check.meta.root_names()))

    @property
    def scope(self) -> str:
        return "register" if any(n in DERIVED for n in self.needs) else "table"


# Derived columns that register-scope rules use; each is computed by whoever evaluates the rule
# (validate with polars joins; the tracer from its dense dwelling index; the panel reader).
DERIVED: dict[str, str] = {
    "_from_known": "moves: from_dwelling is in dwellings.dwelling_id (null when from_dwelling is null)",
    "_to_known": "moves: to_dwelling is in dwellings.dwelling_id (null when to_dwelling is null)",
    "_from_completed": "moves: dwellings.completed of from_dwelling",
    "_to_completed": "moves: dwellings.completed of to_dwelling",
    "_twice": "moves: the household moved earlier on the same date",
    "_elsewhere": "moves: the household leaves a dwelling other than the one it last entered",
    "_occupied_fill": "moves: fills=True but to_dwelling was occupied (occupancy replayed, validate only)",
    "_empty_join": "moves: fills=False but to_dwelling was empty (validate only)",
    "_empty_departure": "moves: from_dwelling was already empty (validate only)",
    "_area_known": "dwellings: area_id is in areas.area_id",
    "_area_municipality": "dwellings: areas.municipality of the dwelling's area_id",
    "_dwelling_known": "persons: dwelling_id is in dwellings.dwelling_id (null when dwelling_id is null)",
}


def _code(column: str) -> pl.Expr:
    return pl.col(f"_code_{column}")


def _outside(column: str | pl.Expr, lo, hi) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return (expr < lo) | (expr > hi)


def _dates_outside(column: str) -> pl.Expr:
    return _outside(column, pl.lit(DATE_MIN), pl.lit(DATE_MAX))


def _structural_rules() -> list[Rule]:
    """Nulls in required columns, unknown codes and duplicate keys, from the schemas."""
    rules = []
    for table, schema in SCHEMAS.items():
        for f in schema:
            if not f.nullable:  # a code column's nulls by its codes (unknown spellings are not nulls)
                null = _code(f.name) == NULL_CODE if f.name in CODE_LISTS else pl.col(f.name).is_null()
                rules.append(Rule(table, f.name, null, "null value(s)"))
            if f.name in CODE_LISTS:
                rules.append(Rule(table, f.name, _code(f.name) == UNKNOWN_CODE,
                                  f"unknown code(s); allowed: {', '.join(CODE_LISTS[f.name])} "
                                  "(Swedish names and SCB codes are accepted too)"))
        if table in UNIQUE_KEYS:
            key = UNIQUE_KEYS[table]
            rules.append(Rule(table, key, pl.col(key).is_duplicated(), "duplicate id(s)"))
    return rules


def _content_rules() -> list[Rule]:
    f, t = pl.col("from_dwelling"), pl.col("to_dwelling")
    date, income = pl.col("move_date"), pl.col("income")
    overflow = income.abs().cast(pl.Float64).sum() >= 2.0**62
    events = pl.col("event")
    needs_from = events.is_in(["move", "death", "out_migration", "emigration"])
    needs_to = events.is_in(["move", "birth", "in_migration", "immigration"])
    return [
        # dwellings
        Rule("dwellings", "rooms", _outside("rooms", 0, MAX_ROOMS), f"rooms outside 0..{MAX_ROOMS}", show_values=True),
        Rule("dwellings", "floor_area_m2", _outside("floor_area_m2", 1, MAX_FLOOR_AREA),
             f"floor area outside 1..{MAX_FLOOR_AREA} m²", show_values=True),
        Rule("dwellings", "completed", _dates_outside("completed"), f"date outside {DATE_MIN}..{DATE_MAX}",
             show_values=True),
        Rule("dwellings", "demolished", _dates_outside("demolished"), f"date outside {DATE_MIN}..{DATE_MAX}",
             show_values=True),
        Rule("dwellings", "demolished", pl.col("demolished") < pl.col("completed"), "a demolition before the completion"),
        Rule("dwellings", "area_id", pl.col("_area_known").not_(),
             "an area_id not in the areas table (areas incomplete, or of another region)"),
        Rule("dwellings", "municipality", pl.col("municipality") != pl.col("_area_municipality"),
             "a municipality other than the areas table's for its area_id (areas of another region?)"),
        # moves
        Rule("moves", "move_date", _dates_outside("move_date"), f"date outside {DATE_MIN}..{DATE_MAX}",
             show_values=True),
        Rule("moves", "to_dwelling", f == t, "from_dwelling equal to to_dwelling (a self-move)"),
        Rule("moves", "origin", (_code("origin") == 0) != f.is_not_null(),
             "origin 'dwelling' without a from_dwelling, or a from_dwelling with another origin"),
        Rule("moves", "destination", (_code("destination") == 0) != t.is_not_null(),
             "destination 'dwelling' without a to_dwelling, or a to_dwelling with another destination"),
        Rule("moves", "vacates", pl.col("vacates") & f.is_null(), "vacates true but no from_dwelling"),
        Rule("moves", "fills", pl.col("fills") & t.is_null(), "fills true but no to_dwelling"),
        Rule("moves", "size", _outside("size", 1, MAX_SIZE), f"household size outside 1..{MAX_SIZE}",
             show_values=True),
        Rule("moves", "adults", (pl.col("adults") < 0) | (pl.col("adults") > pl.col("size")),
             "adults outside 0..size", show_values=True),
        Rule("moves", "age_head", _outside("age_head", 0, MAX_AGE), f"age of head outside 0..{MAX_AGE}",
             show_values=True),
        Rule("moves", "income", _outside("income", -MAX_INCOME, MAX_INCOME),
             f"income outside ±{MAX_INCOME:,} SEK", show_values=True),
        Rule("moves", "income", overflow & income.is_not_null(), "incomes whose sum overflows int64"),
        Rule("moves", "from_dwelling", pl.col("_from_known").not_(), "a dwelling id not in dwellings.dwelling_id"),
        Rule("moves", "to_dwelling", pl.col("_to_known").not_(), "a dwelling id not in dwellings.dwelling_id"),
        Rule("moves", "from_dwelling", date < pl.col("_from_completed"),
             "a departure before the dwelling's completion date (an old dwelling marked as a new build?)"),
        Rule("moves", "to_dwelling", date < pl.col("_to_completed"),
             "an arrival before the dwelling's completion date", action="count"),
        Rule("moves", "move_date", pl.col("_twice"), "the household's second move on one day"),
        Rule("moves", "from_dwelling", pl.col("_elsewhere"),
             "a departure from a dwelling other than the one the household last entered "
             "(a household in two dwellings at once)"),
        Rule("moves", "fills", pl.col("_occupied_fill"), "fills=True into an occupied dwelling", action="count"),
        Rule("moves", "fills", pl.col("_empty_join"), "fills=False into an empty dwelling", action="count"),
        Rule("moves", "vacates", pl.col("_empty_departure"), "a departure from an empty dwelling", action="count"),
        # areas
        Rule("areas", "median_income", _outside("median_income", 0, MAX_INCOME),
             f"median income outside 0..{MAX_INCOME:,} SEK", show_values=True),
        # persons (one snapshot year at a time)
        Rule("persons", "year", _outside("year", DATE_MIN.year, DATE_MAX.year),
             f"year outside {DATE_MIN.year}..{DATE_MAX.year}", show_values=True),
        Rule("persons", "person_id", pl.struct("person_id", "year").is_duplicated(),  # a panel: once a year
             "duplicate person id"),
        Rule("persons", "birth_year", _outside(pl.col("year") - pl.col("birth_year"), 0, MAX_AGE),
             f"impossible age (year - birth_year outside 0..{MAX_AGE})", action="count"),
        Rule("persons", "income", _outside("income", -MAX_INCOME, MAX_INCOME),
             f"income outside ±{MAX_INCOME:,} SEK", show_values=True),
        Rule("persons", "dwelling_id", pl.col("_dwelling_known").not_(),
             "a dwelling not in the dwellings table (the person counts as outside the study area)", action="count"),
        # person events
        Rule("person_events", "event_date", _dates_outside("event_date"), f"date outside {DATE_MIN}..{DATE_MAX}",
             show_values=True),
        Rule("person_events", "from_dwelling", needs_from & pl.col("from_dwelling").is_null(),
             "from_dwelling missing for a move or departure"),
        Rule("person_events", "from_dwelling", ~needs_from & pl.col("from_dwelling").is_not_null(),
             "from_dwelling given for an arrival"),
        Rule("person_events", "to_dwelling", needs_to & pl.col("to_dwelling").is_null(),
             "to_dwelling missing for a move or arrival"),
        Rule("person_events", "to_dwelling", ~needs_to & pl.col("to_dwelling").is_not_null(),
             "to_dwelling given for a departure"),
        Rule("person_events", "to_dwelling", pl.col("from_dwelling") == pl.col("to_dwelling"),
             "to_dwelling equal to from_dwelling (a self-move)"),
        Rule("person_events", "event",
             pl.struct("person_id", "event_date", "event", "from_dwelling", "to_dwelling").is_duplicated(),
             "the same event as another row (a duplicated event would cut a chain)"),
    ]


NULL_CODE, UNKNOWN_CODE = -1, -2


@dataclass(frozen=True)
class Finding:
    """What one rule found in one table: the number of rows and up to five example rows."""

    rule: Rule
    rows: int
    example_rows: list[int]
    example_values: list = field(default_factory=list)
    text: str | None = None  # a message of its own (a column that cannot be read as its type)

    def message(self) -> str:
        if self.text is not None:
            return f"{self.rule.table}.{self.rule.column}: {self.text}"
        shown = [repr(v) if isinstance(v, str) else str(v) for v in self.example_values]
        values = f" (values {', '.join(shown)})" if shown else ""
        return (f"{self.rule.table}.{self.rule.column}: {self.rows} row(s) with {self.rule.message}{values}, "
                f"e.g. rows {self.example_rows}")


RULES: list[Rule] = _structural_rules() + _content_rules()


def rules(table: str, *, scope: str | None = None, action: str | None = None) -> list[Rule]:
    """The rules of ``table`` (optionally of one scope, ``"table"`` or ``"register"``, or one action)."""
    return [r for r in RULES if r.table == table and (scope is None or r.scope == scope)
            and (action is None or r.action == action)]


def evaluate(table_rules: Sequence[Rule], frame: pl.DataFrame | pl.LazyFrame, *, row: str | None = None,
             label: str | None = None) -> list[Finding]:
    """Evaluate every rule whose columns ``frame`` has, in one fused polars query.

    Returns one :class:`Finding` per evaluated rule (rows 0 when it holds).
    Example rows are positions in ``frame`` (or the values of its column ``row``).
    Rules whose columns are missing are skipped (a table may carry only what a
    step needs).
    """
    names = set(frame.collect_schema().names())
    todo = [r for r in table_rules if set(r.needs) <= names]
    if not todo:
        return []
    index = pl.col(row).cast(pl.Int64) if row else pl.int_range(pl.len(), dtype=pl.Int64)
    lazy = frame.lazy()
    engine = "streaming" if isinstance(frame, pl.LazyFrame) else "auto"
    schema = frame.collect_schema()
    try:  # first the counts alone (one fused pass); examples only for the rules that found rows
        counts = lazy.select([r.check.fill_null(False).sum().alias(f"n{i}") for i, r in enumerate(todo)]) \
            .collect(engine=engine)
        hit = [i for i in range(len(todo)) if counts[f"n{i}"][0]]
        exprs = []
        for i in hit:
            r, bad = todo[i], todo[i].check.fill_null(False)
            exprs.append(index.filter(bad).head(EXAMPLES).implode().alias(f"r{i}"))
            if r.show_values and r.column in names:
                value = pl.col(r.column)
                if schema[r.column] == pl.Date:  # days: dates beyond year 9999 exist in date32
                    value = value.cast(pl.Int32)
                exprs.append(value.filter(bad).unique(maintain_order=True).head(3).implode().alias(f"v{i}"))
        out = lazy.select(exprs).collect(engine=engine) if exprs else None
    except (pl.exceptions.PolarsError, OSError) as exc:  # a file that fails to read while scanned
        raise SchemaError(f"{label or table_rules[0].table}: cannot read: {exc}") from None
    findings = []
    for i, r in enumerate(todo):
        n = int(counts[f"n{i}"][0] or 0)
        rows = out[f"r{i}"][0].to_list() if n else []
        values = out[f"v{i}"][0].to_list() if n and f"v{i}" in out.columns else []
        if values and schema[r.column] == pl.Date:
            values = [_day_text(v) for v in values]
        findings.append(Finding(r, n, rows, values))
    if label is not None:
        findings = [Finding(Rule(label, f.rule.column, f.rule.check, f.rule.message, f.rule.action,
                                 f.rule.show_values), f.rows, f.example_rows, f.example_values)
                    for f in findings]
    return findings


def _day_text(days: int) -> str:
    """A date32 value for a message: ISO when Python can hold it, else the day number."""
    try:
        return (dt.date(1970, 1, 1) + dt.timedelta(days=int(days))).isoformat()
    except OverflowError:
        return f"day {days} from 1970-01-01"


def refuse(findings: Sequence[Finding]) -> None:
    """Raise one :class:`SchemaError` for the first broken ``refuse`` rule (naming table, column,
    example rows), saying how many other rules broke."""
    broken = [f for f in findings if f.rows and f.rule.action == "refuse"]
    if broken:
        more = f" (and {len(broken) - 1} other problem(s): run `flyttkedja validate`)" if len(broken) > 1 else ""
        raise SchemaError(broken[0].message() + more)


def counted(findings: Sequence[Finding]) -> dict[str, int]:
    """``{"table.column: message": rows}`` of the broken ``count`` rules (for a quality summary)."""
    return {f"{f.rule.table}.{f.rule.column}: {f.rule.message}": f.rows
            for f in findings if f.rows and f.rule.action == "count"}


# ---------------------------------------------------------------------- conforming
def _fold(value: str) -> str:
    """Lower-case, strip diacritics and turn spaces into underscores."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "_")


def _example_rows(mask: pa.Array | np.ndarray, limit: int = 5) -> list[int]:
    return np.flatnonzero(np.asarray(mask, dtype=bool))[:limit].tolist()


def code_column(name: str, column: pa.ChunkedArray | pa.Array, keep_dictionary: bool = False,
                ) -> tuple[pa.ChunkedArray, np.ndarray]:
    """A categorical column with canonical codes, and its int8 codes in code-list order
    (-1 null, -2 an unknown spelling). Never raises: callers decide (``conform`` refuses,
    ``validate`` counts).

    Values spelled as the canonical code are matched byte by byte in one parallel pass
    (:mod:`flyttkedja._codes`); only the few other distinct values are folded (case,
    diacritics) and looked up among the accepted spellings. Dictionary-encoded columns
    (Parquet read with ``read_dictionary``, polars ``Categorical``/``Enum``) are decided on
    their dictionary; with ``keep_dictionary`` (the tracer's) they stay dictionary-encoded
    (int8 codes, the code list as dictionary): no row is compared and no string is
    materialised.

    >>> column, c = code_column("tenure", pa.array(["hyresrätt", "3", None, "villa"]))
    >>> column.to_pylist(), c.tolist()
    (['rental', 'owner', None, None], [0, 2, -1, -2])
    """
    from flyttkedja import _codes

    allowed = CODE_LISTS[name]
    known = aliases(name)
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        codes_ = _dictionary_codes(name, column)
        return _from_codes(codes_, allowed, dictionary=keep_dictionary), codes_
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            or pa.types.is_string_view(column.type)):
        column = column.cast(pa.string())
    spellings, code_of = list(allowed), list(range(len(allowed)))
    chunks = [_codes.match(c, spellings, code_of) for c in column.chunks]
    codes_ = np.concatenate(chunks) if chunks else np.empty(0, np.int8)
    unmatched = codes_ == UNKNOWN_CODE
    if not unmatched.any():
        return column if column.type == pa.string() else column.cast(pa.string()), codes_
    others = pc.unique(pc.filter(column, pa.chunked_array([unmatched]) if len(chunks) != 1 else unmatched))
    for value in others.to_pylist():
        target = known.get(_fold(value)) if value is not None else None
        spellings.append(value)
        code_of.append(allowed.index(target) if target is not None else UNKNOWN_CODE)
    codes_ = np.concatenate([_codes.match(c, spellings, code_of) for c in column.chunks])
    return _from_codes(codes_, allowed), codes_


def _dictionary_codes(name: str, column: pa.ChunkedArray) -> np.ndarray:
    """int8 codes of a dictionary-encoded column: each chunk's dictionary (a few values) is
    matched as a string column (once for a run of chunks with equal dictionaries), then its
    indices pick their codes (one gather per row, no string compared or copied)."""
    from flyttkedja import _codes
    from flyttkedja._scratch import scratch  # reused memory: fresh pages cost more than the pass

    out = scratch(len(column), np.int8)
    pos = 0
    seen, lut = None, None
    for chunk in column.chunks:
        n = len(chunk)
        if n:
            if seen is None or not chunk.dictionary.equals(seen):  # a file's row groups share one
                seen, lut = chunk.dictionary, code_column(name, chunk.dictionary)[1]
            _codes.pick(chunk, lut, out[pos:pos + n])
        pos += n
    return out


def _from_codes(codes_: np.ndarray, allowed: Sequence[str], dictionary: bool = False) -> pa.ChunkedArray:
    """Canonical column from int8 codes (nulls for -1 and -2): a string column, or with
    ``dictionary`` a dictionary-encoded one (int8 indices = the codes, the code list as
    dictionary), built on the codes' bytes without materialising a string per row."""
    from flyttkedja import _codes

    bits, invalid = _codes.validity(codes_)
    bitmap, values = None, codes_  # no null or unknown code: the codes are the indices (shared, never written)
    if invalid:
        bitmap, values = pa.py_buffer(bits), np.maximum(codes_, 0)
    indices = pa.Array.from_buffers(pa.int8(), len(codes_), [bitmap, pa.py_buffer(values)])
    # safe=False: every index is a position in ``allowed`` by construction (no checking pass)
    array = pa.DictionaryArray.from_arrays(indices, pa.array(list(allowed)), safe=False)
    return pa.chunked_array([array if dictionary else array.cast(pa.string())])


def _cast(name: str, field: pa.Field, column: pa.ChunkedArray, keep_dictionary: bool = False) -> pa.ChunkedArray:
    """Cast one column to its canonical type; a value that does not fit is refused with its rows.
    With ``keep_dictionary`` a dictionary-encoded string column stays so (same values)."""
    target, source = field.type, column.type
    if pa.types.is_date(target) and (pa.types.is_integer(source) or pa.types.is_floating(source)):
        valid = column.drop_null()
        example = valid[0].as_py() if len(valid) else None
        raise SchemaError(
            f"{name}.{field.name}: {source} values (e.g. {example} at row {_first_valid(column)}) are not dates; "
            "give a date column (YYYYMMDD integers: pl.col(c).cast(pl.String).str.to_date('%Y%m%d'); Excel "
            "serial days: pl.date(1899, 12, 30) + pl.duration(days=c))")
    if source == target or (keep_dictionary and target == pa.string() and pa.types.is_dictionary(source)
                            and (pa.types.is_string(source.value_type) or pa.types.is_large_string(source.value_type))):
        return column  # a string column may stay dictionary-encoded (code_column; ChainSet decodes)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        rows: list[int] = []
        if pa.types.is_integer(target) and (pa.types.is_integer(source) or pa.types.is_floating(source)):
            lost = pc.not_equal(column.cast(target, safe=False).cast(pa.float64()), column.cast(pa.float64()))
            rows = _example_rows(pc.fill_null(lost, False).to_numpy(zero_copy_only=False))
        where = f" at rows {rows}" if rows else ""
        raise SchemaError(f"{name}.{field.name}: cannot convert {source} to {target}{where}: {exc}") from None


def _first_valid(column: pa.ChunkedArray) -> int:
    rows = _example_rows(pc.is_valid(column).to_numpy(zero_copy_only=False), 1)
    return rows[0] if rows else 0


def inspect(table: pa.Table, name: str, *, check_unique: bool = True,
            derive: Callable[[pa.Table], Mapping[str, object]] | None = None, keep_dictionary: bool = False,
            codes_of: Collection[str] | None = None) -> tuple[pa.Table, dict[str, np.ndarray], list[Finding]]:
    """:func:`conform` without refusing: the conformed table (a column of the wrong type left
    out), the int8 codes of its categorical columns (code-list order; -1 null, -2 unknown) and
    one :class:`Finding` per rule of the table (``validate`` reports them all).

    ``derive`` (the tracer's) maps the conformed table to the :data:`DERIVED` columns of the
    register-scope rules; those rules are then checked in the same fused query as the table
    rules (one pass over the rows). It is not called when a column has the wrong type.
    ``keep_dictionary`` (the tracer's): dictionary-encoded string columns stay so; a column
    whose dictionaries hold canonical codes only is then kept as it is, the rules that read
    nothing but its codes are answered from the codes its dictionaries can give
    (:func:`_dictionary_findings`: no pass over the rows), and its int8 codes are computed
    only when ``codes_of`` (default: every code column) names it or another rule reads them."""
    schema = SCHEMAS[name]
    columns: dict[str, pa.ChunkedArray] = {}
    code_arrays: dict[str, np.ndarray] = {}
    answered: dict[int, Finding] = {}
    problems: list[Finding] = []
    for field in schema:
        if field.name not in table.column_names:
            continue
        column = table.column(field.name)
        found = _dictionary_findings(name, field.name, column) if keep_dictionary else None
        if found is not None:
            answered.update(found)
            if codes_of is None or field.name in codes_of or _code_rules(name, field.name)[1]:
                code_arrays[field.name] = _dictionary_codes(field.name, column)
        elif field.name in CODE_LISTS:
            column, code_arrays[field.name] = code_column(field.name, column, keep_dictionary)
        try:
            columns[field.name] = _cast(name, field, column, keep_dictionary)
        except SchemaError as exc:
            what = str(exc).split(": ", 1)[1]
            problems.append(Finding(Rule(name, field.name, pl.lit(True), f"values not of type {field.type}"),
                                    table.num_rows, [], text=what))
    for extra in table.column_names:
        if extra not in columns and extra not in schema.names:
            columns[extra] = table.column(extra)
    fields = [schema.field(c).with_type(columns[c].type) if c in schema.names else pa.field(c, columns[c].type)
              for c in columns]
    out = pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))
    derived = derive(out) if derive is not None and not problems else None
    findings = check_table(out, name, code_arrays, check_unique=check_unique, derived=derived,
                           scope="table" if derived is None else None, answered=answered)
    for i, f in enumerate(findings):  # the unknown spellings themselves (conformed to null above)
        if f.rows and f.rule.check.meta.root_names() == [f"_code_{f.rule.column}"] and "unknown" in f.rule.message:
            raw = table.column(f.rule.column).cast(pa.string())
            values = pc.unique(pc.filter(raw, code_arrays[f.rule.column] == UNKNOWN_CODE)).to_pylist()
            findings[i] = Finding(f.rule, f.rows, f.example_rows, values[:5])
    return out, code_arrays, problems + findings


def missing_columns(table: pa.Table, name: str) -> list[Finding]:
    """One finding per column of :data:`REQUIRED_COLUMNS` that ``table`` lacks (validate's report;
    the refusing functions raise on the first)."""
    return [Finding(Rule(name, c, pl.lit(True), "a missing column (required)"), max(table.num_rows, 1), [])
            for c in REQUIRED_COLUMNS.get(name, ()) if c not in table.column_names]


def conform_codes(
    table: pa.Table,
    name: str,
    *,
    partial: bool = False,
    check_unique: bool = True,
    derive: Callable[[pa.Table], Mapping[str, object]] | None = None,
    keep_dictionary: bool = False,
    codes_of: Collection[str] | None = None,
) -> tuple[pa.Table, dict[str, np.ndarray], list[Finding]]:
    """:func:`conform`, also returning the int8 codes of the categorical columns
    (code-list order) and the findings of the table's rules (the ``count`` ones
    for a quality summary); with ``derive``, also of the register rules;
    ``keep_dictionary`` and ``codes_of`` as in :func:`inspect`. Raises as
    :func:`conform` does."""
    schema = SCHEMAS[name]
    optional = OPTIONAL_COLUMNS.get(name, ())
    missing = [f.name for f in schema if f.name not in table.column_names and f.name not in optional]
    if missing and not partial:
        raise SchemaError(f"{name}: missing column(s) {missing}; present: {table.column_names}")
    out, code_arrays, findings = inspect(table, name, check_unique=check_unique, derive=derive,
                                         keep_dictionary=keep_dictionary, codes_of=codes_of)
    refuse(findings)
    return out, code_arrays, findings


def check_table(table: pa.Table, name: str, code_arrays: Mapping[str, np.ndarray] | None = None, *,
                check_unique: bool = True, derived: Mapping[str, object] | None = None,
                scope: str = "table", answered: Mapping[int, Finding] | None = None) -> list[Finding]:
    """Findings of the rules of ``name`` over a conformed Arrow table (no copies of numeric
    columns; string columns only where a rule reads them). ``derived`` supplies the
    columns of :data:`DERIVED` for ``scope="register"`` rules (``scope=None``: both scopes);
    ``answered`` the findings of rules already answered (by ``id`` of the rule, from
    :func:`_dictionary_findings`)."""
    answered = answered or {}
    todo = [r for r in rules(name, scope=scope)
            if check_unique or not (r.column == UNIQUE_KEYS.get(name) and "duplicate" in r.message)]
    extra = {f"_code_{k}": v for k, v in (code_arrays or {}).items()} | dict(derived or {})
    # only the rules evaluate() can run (a rule on a derived column nobody supplied is skipped
    # there): a column no such rule reads is not converted (dwellings.municipality, a string
    # column read only by the areas rule, cost 6 M polars string views in the tracer)
    todo = [r for r in todo if id(r) in answered or set(r.needs) <= set(table.column_names) | set(extra)]
    # a rule that a column has no nulls is answered from Arrow's null count: a column only
    # such rules read is never converted (6 M strings of dwellings.municipality: 0.06-0.14 s)
    nulls = {i: answered.get(id(r)) or _null_finding(r, table.column(r.column)) for i, r in enumerate(todo)
             if id(r) in answered or (_is_null_rule(r) and r.column in table.column_names)}
    rest = [r for i, r in enumerate(todo) if i not in nulls]
    needed = {n for r in rest for n in r.needs if n in table.column_names}
    needed |= {r.column for r in rest if r.show_values and r.column in table.column_names}
    frame = pl.from_arrow(table.select(sorted(needed)), rechunk=False) if needed else pl.DataFrame(height=table.num_rows)
    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    if extra:
        frame = frame.with_columns(pl.Series(k, v) for k, v in extra.items())
    found = iter(evaluate(rest, frame) if rest else [])
    return [nulls[i] if i in nulls else next(found) for i in range(len(todo))]


def _is_null_rule(rule: Rule) -> bool:
    """The rule is "``rule.column`` is null" (a required column's structural rule)."""
    return rule.check.meta.eq(pl.col(rule.column).is_null())


def _null_finding(rule: Rule, column: pa.ChunkedArray) -> Finding:
    """:func:`evaluate`'s finding for a null rule, from the column's validity (no conversion)."""
    n = column.null_count
    rows = _example_rows(pc.is_null(column).to_numpy(zero_copy_only=False), EXAMPLES) if n else []
    return Finding(rule, n, rows)


@functools.cache
def _code_rules(name: str, column: str) -> tuple[tuple[Rule, ...], bool]:
    """The rules of table ``name`` that read only the codes of ``column``, and whether another
    rule reads them beside other columns (so they are needed row by row: ``moves.origin``
    and ``moves.destination`` against the dwellings)."""
    code = f"_code_{column}"
    table_rules = rules(name)
    return (tuple(r for r in table_rules if set(r.needs) == {code}),
            any(code in r.needs and set(r.needs) != {code} for r in table_rules))


def _dictionary_findings(name: str, column: str, values: pa.ChunkedArray) -> dict[int, Finding] | None:
    """The findings of the rules of ``name`` that read only the codes of ``column``, answered
    from a dictionary-encoded column's dictionaries (a few values per chunk) and its null
    count, without a pass over the rows; keyed by ``id`` of the rule. None when the column is
    not dictionary-encoded, a dictionary holds anything but canonical codes (a Swedish
    spelling to rewrite, an unknown value, a null), or a rule breaks at a code a row can hold
    (the rows are then read as before: :func:`code_column`).

    The structural rules of a code column break at the null code only (non-nullable columns):
    their rows are the column's null rows.
    """
    if column not in CODE_LISTS or not pa.types.is_dictionary(values.type) or not (
            pa.types.is_string(values.type.value_type) or pa.types.is_large_string(values.type.value_type)):
        return None
    allowed = CODE_LISTS[column]
    present: set[int] = set()
    seen = None
    for chunk in values.chunks:
        if seen is not None and chunk.dictionary.equals(seen):
            continue
        seen = chunk.dictionary
        if seen.null_count:
            return None
        for v in seen.to_pylist():
            if v not in allowed:
                return None
            present.add(allowed.index(v))
    code = f"_code_{column}"
    own = _code_rules(name, column)[0]
    nulls = values.null_count
    frame = pl.DataFrame({code: np.array(sorted(present) + [NULL_CODE] * bool(nulls), np.int8)})
    out = {}
    for r in own:
        broken = frame.filter(r.check.fill_null(False))[code].to_list()
        if any(c != NULL_CODE for c in broken):
            return None
        rows = _example_rows(pc.is_null(values).to_numpy(zero_copy_only=False), EXAMPLES) if broken else []
        out[id(r)] = Finding(r, nulls if broken else 0, rows)
    return out


def conform(
    table: pa.Table,
    name: str,
    *,
    partial: bool = False,
    check_unique: bool = True,
) -> pa.Table:
    """Cast ``table`` to the canonical schema ``name`` and check it against the rule set.

    Columns are reordered to the schema, cast to their canonical types,
    categorical codes are normalised (Swedish names and SCB codes become the
    English code), and every rule of :data:`RULES` that concerns the table alone
    and has action ``"refuse"`` is checked (nulls in required columns, unknown
    codes, duplicate keys, ranges, dates of a date type and in 1900..2100,
    consistency of origin, destination and flags ...). Extra columns are kept,
    after the canonical ones.

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
    return conform_codes(table, name, partial=partial, check_unique=check_unique)[0]


def with_areas(dwellings: pl.DataFrame, areas: pl.DataFrame) -> pl.DataFrame:
    """Dwellings with the derived columns ``_area_known`` and ``_area_municipality`` (from the areas table)."""
    if "area_id" not in dwellings.columns or "area_id" not in areas.columns:
        return dwellings
    lookup = areas.select(pl.col("area_id").cast(pl.Int32), _area_known=pl.lit(True),
                          **({"_area_municipality": "municipality"} if "municipality" in areas.columns else {}))
    out = dwellings.with_columns(pl.col("area_id").cast(pl.Int32)).join(
        lookup.unique("area_id", keep="first"), on="area_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("_area_known").fill_null(False))


def check_areas(areas: pa.Table, dwellings: pa.Table) -> pa.Table:
    """Conform an areas table and refuse it unless it covers every dwelling's area_id, with the
    same municipality (an incomplete table, or one of another region, gives wrong area classes
    without a word). Returns the conformed areas.

    >>> check_areas(register.areas, register.dwellings)   # doctest: +SKIP
    """
    conformed = conform(areas, "areas", partial=True)
    cols = [c for c in ("area_id", "municipality") if c in dwellings.column_names]
    frame = with_areas(pl.from_arrow(dwellings.select(cols)), pl.from_arrow(conformed))
    refuse(evaluate(rules("dwellings", scope="register"), frame))
    return conformed


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
