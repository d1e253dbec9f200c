"""Every on-disk layout of flyttkedja: file names, directory layouts and manifests, in one place.

Four kinds of directory, each with a JSON manifest that carries
:data:`FORMAT_VERSION` (a reader refuses a newer version with one clear error;
a manifest without a version is version 0, read as version 1)::

    register/        dwellings.parquet moves.parquet [households.parquet areas.parquet
                     person_events.parquet persons/persons_YYYY.parquet truth/*.parquet]
                     register.json  (window_start, window_end, max_gap_days, rows, source, ...)
                     [ingest.json]  (what `flyttkedja ingest` read and how)
    chains/          chains.parquet links.parquet
                     trace.json     (params, quality, rows, register_hash, flyttkedja_version)
    report/          <table>.parquet <table>.csv summary.txt report.html report.xlsx
                     report.json    (the Report's parameters)
    scenario/        comparison.parquet model.json summary.txt
                     scenario.json  (resolved scenario, microsimulation seeds, warnings, differences, notes)

Every file name and manifest key is spelled here and nowhere else in the
package (tests import them too; ``tests/test_store.py`` checks it): the other
modules call the functions below. Outputs go through :mod:`flyttkedja.io`'s
atomic writers.

``register_hash`` in ``trace.json`` is :func:`register_hash` of the (conformed)
moves and dwellings tables that the tracer read, so that a report is never
built from chains of another register: :func:`check_register` raises
:class:`RegisterMismatch` when they differ.

Example
-------
>>> from flyttkedja import store
>>> store.register_file("run/register", "moves").name
'moves.parquet'
>>> store.persons_file("run/register", 2019).as_posix()
'run/register/persons/persons_2019.parquet'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flyttkedja.io import read_json, write_json

FORMAT_VERSION = 1

# ------------------------------------------------------------------ file names
REGISTER_MANIFEST = "register.json"
INGEST_MANIFEST = "ingest.json"
TRACE_MANIFEST = "trace.json"
REPORT_MANIFEST = "report.json"
SCENARIO_MANIFEST = "scenario.json"
MODEL_FILE = "model.json"
COMPARISON_FILE = "comparison.parquet"
SCENARIO_SUMMARY = "summary.txt"
REPORT_HTML = "report.html"
REPORT_XLSX = "report.xlsx"
REPORT_SUMMARY = "summary.txt"
REPORT_CHECK_JSON = "output_check.json"  # output-checking summary (analysis.release), for the output checker
REPORT_CHECK_TEXT = "output_check.txt"
LEDGER_FILE = "disclosure_ledger.json"  # what earlier releases of a register published (analysis.release.Ledger)
PERSONS_DIR = "persons"
PERSONS_PREFIX = "persons_"
# table name -> file in a register directory (truth/ only in synthetic registers)
REGISTER_FILES: dict[str, str] = {
    "dwellings": "dwellings.parquet",
    "households": "households.parquet",
    "moves": "moves.parquet",
    "areas": "areas.parquet",
    "person_events": "person_events.parquet",
    "truth_chains": "truth/chains.parquet",
    "truth_links": "truth/links.parquet",
    "truth_moves": "truth/moves.parquet",
}
# table name -> file in a chains directory
CHAIN_FILES: dict[str, str] = {"chains": "chains.parquet", "links": "links.parquet"}

# ------------------------------------------------------------------ manifest keys
KEY_FORMAT = "format_version"
KEY_VERSION = "flyttkedja_version"
KEY_WINDOW_START, KEY_WINDOW_END = "window_start", "window_end"
KEY_MAX_GAP = "max_gap_days"
KEY_ROWS = "rows"
KEY_SOURCE = "source"
KEY_KIND = "kind"
KEY_INPUTS = "inputs"
KEY_PARAMS = "params"
KEY_QUALITY = "quality"
KEY_REGISTER_HASH = "register_hash"
KEY_SCENARIO = "scenario"
KEY_SEEDS = "microsimulation_seeds"
KEY_WARNINGS = "warnings"
KEY_MODEL = "model"
KEY_NOTES = "notes"
KEY_DIFFERENCES = "differences"
KEY_AREAS = "programme_municipalities"
# the key of a ChainSet's params that names the register directory it was traced from
PARAM_REGISTER_DIR = "register_dir"


class FormatError(ValueError):
    """A manifest that this version of flyttkedja cannot read."""


class RegisterMismatch(ValueError):
    """The register given to a report is not the one the chains were traced from."""


# ------------------------------------------------------------------ paths
def register_file(directory: str | os.PathLike, table: str) -> Path:
    """Path of ``table`` (a key of :data:`REGISTER_FILES`) in a register directory.

    >>> register_file("reg", "truth_chains").as_posix()
    'reg/truth/chains.parquet'
    """
    return Path(directory) / REGISTER_FILES[table]


def register_input(directory: str | os.PathLike, table: str) -> Path:
    """The file holding ``table`` in a register directory to read: ``moves.parquet`` as
    flyttkedja writes it, else ``moves.<any kind io.to_arrow reads>`` (``moves.sas7bdat``,
    ``moves.csv.gz``, ...) as a register environment delivers it; the Parquet name when
    there is none (so that a message names what was expected).

    >>> register_input("reg", "dwellings").name
    'dwellings.parquet'
    """
    from flyttkedja.io import is_table_file

    written = register_file(directory, table)
    if written.is_file():
        return written
    stem = written.name.removesuffix(".parquet")
    found = sorted(p for p in written.parent.glob(f"{stem}.*")
                   if p.is_file() and is_table_file(p) and p.name.split(".", 1)[0] == stem)
    return found[0] if found else written


def persons_dir(directory: str | os.PathLike) -> Path:
    """The directory of yearly person snapshots in a register directory."""
    return Path(directory) / PERSONS_DIR


def persons_file(directory: str | os.PathLike, year: int | str) -> Path:
    """Where the snapshot of ``year`` goes in a register directory (``persons/persons_YYYY.parquet``)."""
    return persons_dir(directory) / f"{PERSONS_PREFIX}{year}.parquet"


def persons_files(directory: str | os.PathLike) -> list[Path]:
    """The yearly snapshot files written by :func:`persons_file`, in year order."""
    return sorted(persons_dir(directory).glob(f"{PERSONS_PREFIX}*.parquet"))


def chains_file(directory: str | os.PathLike, table: str) -> Path:
    """Path of ``chains`` or ``links`` in a chains directory."""
    return Path(directory) / CHAIN_FILES[table]


def report_table_files(directory: str | os.PathLike, table: str) -> tuple[Path, Path]:
    """``(<table>.parquet, <table>.csv)`` in a report directory."""
    return Path(directory) / f"{table}.parquet", Path(directory) / f"{table}.csv"


def report_file(directory: str | os.PathLike, name: str) -> Path:
    """``html``, ``xlsx``, ``summary``, ``check_json`` or ``check_text`` file of a report directory."""
    return Path(directory) / {"html": REPORT_HTML, "xlsx": REPORT_XLSX, "summary": REPORT_SUMMARY,
                              "check_json": REPORT_CHECK_JSON, "check_text": REPORT_CHECK_TEXT}[name]


def ledger_file(output: str | os.PathLike) -> Path:
    """The default disclosure ledger of an output directory: ``disclosure_ledger.json`` beside it (in its parent),
    so that every release written into one place is recorded in one ledger."""
    return Path(output).parent / LEDGER_FILE


def scenario_file(directory: str | os.PathLike, name: str) -> Path:
    """``comparison`` (Parquet), ``model`` (JSON), ``summary`` (text), ``check_json`` or ``check_text``
    (the output-checking summary, named as a report's) file of a scenario directory."""
    return Path(directory) / {"comparison": COMPARISON_FILE, "model": MODEL_FILE, "summary": SCENARIO_SUMMARY,
                              "check_json": REPORT_CHECK_JSON, "check_text": REPORT_CHECK_TEXT}[name]


def is_register(directory: str | os.PathLike) -> bool:
    """True when ``directory`` holds a moves table (what tracing needs), of any kind :func:`register_input` finds."""
    return register_input(directory, "moves").is_file()


# ------------------------------------------------------------------ manifests
def _write(directory: str | os.PathLike, name: str, record: Mapping[str, Any]) -> Path:
    return write_json({KEY_FORMAT: FORMAT_VERSION, **record}, Path(directory) / name)


def _read(directory: str | os.PathLike, name: str) -> dict | None:
    """The manifest as a dict (without the version key), None when absent; newer versions refused."""
    path = Path(directory) / name
    if not path.is_file():
        return None
    record = read_json(path, name)  # a corrupt one: one line naming the file
    version = record.pop(KEY_FORMAT, 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatError(f"{path}: format version {version!r} is newer than this flyttkedja reads "
                          f"({FORMAT_VERSION}); upgrade flyttkedja")
    return record


@dataclass(frozen=True)
class RegisterManifest:
    """``register.json``: the register's window, maximum gap, row counts and origin.

    ``extra`` holds further keys (e.g. a synthetic register's preset and seed);
    ``flyttkedja_version`` is the writer's version (this one's when written).
    """

    window: tuple[dt.date, dt.date] | None = None
    max_gap_days: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    flyttkedja_version: str | None = None


def write_register_manifest(directory: str | os.PathLike, manifest: RegisterManifest) -> Path:
    """Write ``register.json`` into ``directory`` (atomically)."""
    record: dict[str, Any] = {**manifest.extra, KEY_VERSION: manifest.flyttkedja_version or _version()}
    if manifest.window is not None:
        record[KEY_WINDOW_START] = _iso(manifest.window[0])
        record[KEY_WINDOW_END] = _iso(manifest.window[1])
    if manifest.max_gap_days is not None:
        record[KEY_MAX_GAP] = int(manifest.max_gap_days)
    if manifest.rows:
        record[KEY_ROWS] = {k: int(v) for k, v in manifest.rows.items()}
    if manifest.source is not None:
        record[KEY_SOURCE] = manifest.source
    return _write(directory, REGISTER_MANIFEST, record)


def read_register_manifest(directory: str | os.PathLike) -> RegisterManifest | None:
    """``register.json`` of a register directory, or None when it has none."""
    record = _read(directory, REGISTER_MANIFEST)
    if record is None:
        return None
    start, end = record.pop(KEY_WINDOW_START, None), record.pop(KEY_WINDOW_END, None)
    gap = record.pop(KEY_MAX_GAP, None)
    return RegisterManifest(
        window=(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) if start and end else None,
        max_gap_days=int(gap) if gap is not None else None,
        rows=record.pop(KEY_ROWS, {}) or {},
        source=record.pop(KEY_SOURCE, None),
        flyttkedja_version=record.pop(KEY_VERSION, None),
        extra=record,
    )


def require_register_manifest(directory: str | os.PathLike) -> RegisterManifest:
    """Like :func:`read_register_manifest`, but a directory without one is an error."""
    manifest = read_register_manifest(directory)
    if manifest is None:
        raise FileNotFoundError(f"{directory}: not a register directory (no {REGISTER_MANIFEST})")
    return manifest


@dataclass(frozen=True)
class IngestManifest:
    """``ingest.json``: which ingester ran (``kind``), on which inputs, with which parameters."""

    kind: str
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def write_ingest_manifest(directory: str | os.PathLike, manifest: IngestManifest) -> Path:
    """Write ``ingest.json`` into ``directory``."""
    return _write(directory, INGEST_MANIFEST, {KEY_KIND: manifest.kind, KEY_INPUTS: manifest.inputs,
                                               KEY_PARAMS: manifest.params, KEY_ROWS: manifest.rows})


def read_ingest_manifest(directory: str | os.PathLike) -> IngestManifest | None:
    """``ingest.json`` of an ingested register directory, or None."""
    record = _read(directory, INGEST_MANIFEST)
    if record is None:
        return None
    return IngestManifest(record.get(KEY_KIND, ""), record.get(KEY_INPUTS, {}), record.get(KEY_PARAMS, {}),
                          record.get(KEY_ROWS, {}))


@dataclass(frozen=True)
class TraceManifest:
    """``trace.json``: the ChainSet's parameters and data-quality counts, row counts, and the
    content hash of the register it was traced from (:func:`register_hash`; None when unknown)."""

    params: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    register_hash: str | None = None
    flyttkedja_version: str | None = None

    @property
    def register_dir(self) -> Path | None:
        """The register directory the chains were traced from, when recorded."""
        value = self.params.get(PARAM_REGISTER_DIR)
        return Path(value) if value else None


def write_trace_manifest(directory: str | os.PathLike, manifest: TraceManifest) -> Path:
    """Write ``trace.json`` into ``directory``."""
    return _write(directory, TRACE_MANIFEST, {
        KEY_VERSION: manifest.flyttkedja_version or _version(), KEY_PARAMS: manifest.params,
        KEY_QUALITY: manifest.quality, KEY_ROWS: manifest.rows, KEY_REGISTER_HASH: manifest.register_hash})


def read_trace_manifest(directory: str | os.PathLike) -> TraceManifest:
    """``trace.json`` of a chains directory; a directory without one is an error."""
    record = _read(directory, TRACE_MANIFEST)
    if record is None:
        raise FileNotFoundError(f"{directory}: no {TRACE_MANIFEST} (expected a directory written by 'flyttkedja trace')")
    return TraceManifest(record.get(KEY_PARAMS, {}) or {}, record.get(KEY_QUALITY, {}) or {},
                         record.get(KEY_ROWS, {}) or {}, record.get(KEY_REGISTER_HASH),
                         record.get(KEY_VERSION))


def write_report_manifest(directory: str | os.PathLike, parameters: Mapping[str, Any]) -> Path:
    """Write ``report.json`` (a Report's :meth:`~flyttkedja.analysis.Report.parameters`)."""
    return _write(directory, REPORT_MANIFEST, parameters)


def read_report_manifest(directory: str | os.PathLike) -> dict[str, Any] | None:
    """``report.json`` of a report directory (the Report's parameters), or None."""
    return _read(directory, REPORT_MANIFEST)


@dataclass(frozen=True)
class ScenarioManifest:
    """``scenario.json``: the resolved scenario, microsimulation seeds, warnings, a model summary, notes;
    the programmes' pairwise differences (resolved or not) and the municipalities of each programme."""

    scenario: dict[str, Any]
    microsimulation_seeds: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    programme_municipalities: dict[str, list[str]] = field(default_factory=dict)


def write_scenario_manifest(directory: str | os.PathLike, manifest: ScenarioManifest) -> Path:
    """Write ``scenario.json`` into a scenario directory."""
    return _write(directory, SCENARIO_MANIFEST, {
        KEY_SCENARIO: manifest.scenario, KEY_SEEDS: list(manifest.microsimulation_seeds),
        KEY_WARNINGS: list(manifest.warnings), KEY_MODEL: manifest.model, KEY_NOTES: list(manifest.notes),
        KEY_DIFFERENCES: list(manifest.differences), KEY_AREAS: dict(manifest.programme_municipalities)})


def read_scenario_manifest(directory: str | os.PathLike) -> ScenarioManifest | None:
    """``scenario.json`` of a scenario directory, or None."""
    record = _read(directory, SCENARIO_MANIFEST)
    if record is None:
        return None
    return ScenarioManifest(record.get(KEY_SCENARIO, {}), record.get(KEY_SEEDS, []), record.get(KEY_WARNINGS, []),
                            record.get(KEY_MODEL, {}), record.get(KEY_NOTES, []), record.get(KEY_DIFFERENCES, []),
                            record.get(KEY_AREAS, {}))


def _version() -> str:
    from flyttkedja import __version__

    return __version__


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# ------------------------------------------------------------------ register content hash
def register_hash(tables: Mapping[str, pa.Table]) -> str:
    """SHA-256 of the tables' content (names, column names, types and values), hex.

    Independent of how the tables are chunked or encoded on disk (Parquet or
    in memory give the same hash), so a register read back gives the hash it
    was traced with. Streams each column chunk by chunk: no copy of a table.

    >>> register_hash({"t": pa.table({"a": [1, None]})}) == register_hash({"t": pa.table({"a": [1, None]})})
    True
    """
    outer = hashlib.sha256()
    for name in sorted(tables):
        table = tables[name]
        outer.update(f"table {name} {table.num_rows}\n".encode())
        for column_name, column in zip(table.column_names, table.columns):
            outer.update(f"column {column_name} {_type_label(column.type)}\n".encode())
            outer.update(_column_digest(column))
    return outer.hexdigest()


def _type_label(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _type_label(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    return str(t)


def _column_digest(column: pa.ChunkedArray) -> bytes:
    """Digest of a column as three element-wise streams (validity, fixed values, string bytes),
    each hashed separately, so chunk boundaries do not change it."""
    valid, values, data = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        if chunk.null_count:
            valid.update(np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes())
        else:
            valid.update(np.ones(len(chunk), np.uint8).tobytes())
        t = chunk.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
                or pa.types.is_large_binary(t) or pa.types.is_string_view(t) or pa.types.is_binary_view(t):
            big = chunk.cast(pa.large_binary())
            lengths = pc.fill_null(pc.binary_length(big), 0).to_numpy(zero_copy_only=False).astype(np.int64)
            values.update(lengths.tobytes())
            offsets = np.frombuffer(big.buffers()[1], np.int64, len(big) + 1, big.offset * 8)
            buffer = big.buffers()[2]
            if buffer is not None and offsets[-1] > offsets[0]:
                data.update(memoryview(buffer)[int(offsets[0]):int(offsets[-1])])
        elif pa.types.is_boolean(t):
            values.update(np.asarray(pc.fill_null(chunk, False).to_numpy(zero_copy_only=False), np.uint8).tobytes())
        elif _fixed_width(t) in _INT_OF_WIDTH:
            ints = chunk.view(_INT_OF_WIDTH[_fixed_width(t)])
            values.update(np.ascontiguousarray(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False)).tobytes())
        else:  # nested or decimal: rare in a register; the Python values are canonical
            values.update(repr(chunk.to_pylist()).encode())
    return valid.digest() + values.digest() + data.digest()


_INT_OF_WIDTH = {8: pa.int8(), 16: pa.int16(), 32: pa.int32(), 64: pa.int64()}


def _fixed_width(t: pa.DataType) -> int | None:
    """Bit width of a flat fixed-width type (ints, floats, dates, times), else None."""
    if pa.types.is_nested(t) or pa.types.is_decimal(t) or pa.types.is_dictionary(t):
        return None
    try:
        return t.bit_width
    except ValueError:  # variable width (e.g. null, string view)
        return None


def check_register(manifest: TraceManifest, tables: Mapping[str, pa.Table], where: str | os.PathLike,
                   register: str | os.PathLike | None = None) -> None:
    """Raise :class:`RegisterMismatch` when ``tables`` are not the register the chains of
    ``where`` were traced from. A manifest without a hash (older flyttkedja) is not checked."""
    if manifest.register_hash is None:
        return
    found = register_hash(tables)
    if found != manifest.register_hash:
        given = f"the register {register}" if register is not None else "the moves and dwellings given"
        raise RegisterMismatch(
            f"{Path(where) / TRACE_MANIFEST}: {given} differs from the register these chains were traced "
            f"from (content hash {found[:12]}, recorded {manifest.register_hash[:12]}); trace it again, "
            f"or give the register the chains were traced from")
