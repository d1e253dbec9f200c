"""flyttkedja.store: one owner of every on-disk layout; manifests with a format version; the register hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.cli import main
from flyttkedja.core import read_chainset, trace_register
from tests import naive_trace as naive
from tests.test_trace_naive import tables

ROOT = Path(__file__).resolve().parent.parent
# Every file name and every manifest key that is not also an ordinary word of the code.
SPELLED_ONCE = [
    store.REGISTER_MANIFEST, store.INGEST_MANIFEST, store.TRACE_MANIFEST, store.REPORT_MANIFEST,
    store.SCENARIO_MANIFEST, store.MODEL_FILE, store.COMPARISON_FILE, store.REPORT_HTML, store.REPORT_XLSX,
    store.REPORT_SUMMARY, store.REPORT_CHECK_JSON, store.REPORT_CHECK_TEXT, store.LEDGER_FILE, *store.REGISTER_FILES.values(), *store.CHAIN_FILES.values(),
    store.KEY_FORMAT, store.KEY_VERSION, store.KEY_WINDOW_START, store.KEY_WINDOW_END, store.KEY_REGISTER_HASH,
    store.KEY_SEEDS,
]


def test_each_file_name_and_manifest_key_is_spelled_in_store_only():
    """A quoted file name or manifest key anywhere else in the code is a second owner of the layout."""
    offenders = []
    for folder in ("src", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name in {"store.py", "test_store.py"}:
                continue
            # doctest examples show user paths (e.g. "mona/dwellings.parquet"): prose, not layout
            text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                              if not line.lstrip().startswith(">>>"))
            for name in SPELLED_ONCE:
                if re.search(rf"[\"'/]{re.escape(name)}[\"']", text):
                    offenders.append(f"{path.relative_to(ROOT)}: {name!r} (use flyttkedja.store)")
    assert not offenders, "\n".join(offenders)


def _register(tmp_path: Path, seed: int = 5) -> Path:
    moves, dwellings = naive.random_register(random.Random(seed), n_dwellings=30, n_days=50)
    mv, dw = tables(moves, dwellings)
    reg = tmp_path / "register"
    reg.mkdir(parents=True)
    pl.from_arrow(mv).write_parquet(store.register_file(reg, "moves"))
    pl.from_arrow(dw).write_parquet(store.register_file(reg, "dwellings"))
    return reg


def test_register_manifest_roundtrip_and_version(tmp_path):
    manifest = store.RegisterManifest(window=(dt.date(2020, 1, 1), dt.date(2021, 12, 31)), max_gap_days=730,
                                      rows={"moves": 3}, source="flyttkedja ingest snapshots",
                                      extra={"preset": "tiny"})
    store.write_register_manifest(tmp_path, manifest)
    from flyttkedja import __version__

    assert store.read_register_manifest(tmp_path) == dataclasses.replace(manifest, flyttkedja_version=__version__)
    record = json.loads((tmp_path / store.REGISTER_MANIFEST).read_text())
    assert record[store.KEY_FORMAT] == store.FORMAT_VERSION
    assert store.read_register_manifest(tmp_path / "none") is None
    with pytest.raises(FileNotFoundError, match="not a register directory"):
        store.require_register_manifest(tmp_path / "none")


def test_newer_format_and_garbage_are_refused(tmp_path):
    (tmp_path / store.TRACE_MANIFEST).write_text(json.dumps({store.KEY_FORMAT: store.FORMAT_VERSION + 1}))
    with pytest.raises(store.FormatError, match="newer than this flyttkedja reads"):
        store.read_trace_manifest(tmp_path)
    (tmp_path / store.REGISTER_MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        store.read_register_manifest(tmp_path)


def test_manifest_without_version_is_read(tmp_path):
    """Directories written before the format version (version 0) still load."""
    (tmp_path / store.REGISTER_MANIFEST).write_text(json.dumps({"max_gap_days": 20}))
    assert store.read_register_manifest(tmp_path).max_gap_days == 20


def test_every_manifest_roundtrips(tmp_path):
    ingest = store.IngestManifest("events", {"events": "/x"}, {"ordered": True}, {"moves": 5})
    store.write_ingest_manifest(tmp_path, ingest)
    assert store.read_ingest_manifest(tmp_path) == ingest
    scenario = store.ScenarioManifest({"seed": 1}, [3, 4], ["w"], {"strata": 2}, ["n"])
    store.write_scenario_manifest(tmp_path, scenario)
    assert store.read_scenario_manifest(tmp_path) == scenario
    store.write_report_manifest(tmp_path, {"by": ["tenure"]})
    assert store.read_report_manifest(tmp_path) == {"by": ["tenure"]}
    trace = store.TraceManifest({"register_dir": "/r"}, {"filled": 1}, {"chains": 2}, "ab", "0.1.0")
    store.write_trace_manifest(tmp_path, trace)
    assert store.read_trace_manifest(tmp_path) == trace and trace.register_dir == Path("/r")


def test_register_hash_ignores_chunking_and_sees_every_value():
    base = pa.table({"s": ["a", "bb", None, "dddd", "e", "ff", "g"], "i": [1, None, 3, 4, 5, 6, 7],
                     "b": [True, False, None, True, True, False, True],
                     "d": pa.array([0, 1, None, 3, 4, 5, 6], pa.int32()).cast(pa.date32()),
                     "f": [0.5, 1.0, 2.0, None, 4.0, 5.0, 6.0]})
    rechunked = pa.Table.from_batches(base.to_batches(max_chunksize=2))
    pieces = pa.concat_tables([base.slice(0, 1), base.slice(1, 5), base.slice(6)])
    assert store.register_hash({"t": base}) == store.register_hash({"t": rechunked}) \
        == store.register_hash({"t": pieces})
    dictionary = base.set_column(0, "s", base["s"].dictionary_encode())
    assert store.register_hash({"t": dictionary}) == store.register_hash({"t": base})
    for column, value in [("s", "x"), ("i", 9), ("b", False), ("f", 9.0)]:
        changed = base.set_column(base.column_names.index(column), column,
                                  pa.array([value] + base[column].to_pylist()[1:], base[column].type))
        assert store.register_hash({"t": changed}) != store.register_hash({"t": base}), column
    assert store.register_hash({"t": base}) != store.register_hash({"u": base})


def test_trace_records_the_register_hash_and_report_refuses_another(tmp_path):
    reg = _register(tmp_path)
    cs = trace_register(reg, "all")
    cs.write(tmp_path / "chains")
    manifest = store.read_trace_manifest(tmp_path / "chains")
    assert manifest.register_hash == store.register_hash({"moves": cs.moves, "dwellings": cs.dwellings})
    back = read_chainset(tmp_path / "chains")  # the register trace.json names: same content, accepted
    assert back.chains.equals(cs.chains)
    other = _register(tmp_path / "other", seed=6)
    with pytest.raises(store.RegisterMismatch, match="differs from the register these chains were traced from"):
        read_chainset(tmp_path / "chains", register=other)
    result = CliRunner().invoke(main, ["report", str(tmp_path / "chains"), "--out", str(tmp_path / "rep"),
                                       "--register", str(other), "--replicates", "0"])
    assert result.exit_code == 2 and "differs from the register" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "rep").exists()
    # the register the chains name, changed in place after tracing: refused too
    moves = pl.read_parquet(store.register_file(reg, "moves"))
    moves.with_columns(fills=~pl.col("fills") & pl.col("to_dwelling").is_not_null()).write_parquet(
        store.register_file(reg, "moves"))  # (a change the rule set accepts: fills only where a to_dwelling is)
    with pytest.raises(store.RegisterMismatch, match=str(reg)):
        read_chainset(tmp_path / "chains")
