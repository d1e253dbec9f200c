import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flyttkedja.io import atomic_directory, to_arrow, write_parquet


def test_to_arrow_accepts_every_input_kind(tmp_path):
    table = pa.table({"a": [1, 2, 3]})
    write_parquet(table, tmp_path / "t.parquet")
    pa.feather.write_feather(table, tmp_path / "t.arrow")
    for source in [table, pl.from_arrow(table), pd.DataFrame({"a": [1, 2, 3]}),
                   tmp_path / "t.parquet", str(tmp_path / "t.arrow")]:
        assert to_arrow(source)["a"].to_pylist() == [1, 2, 3]


def test_to_arrow_names_the_table_on_bad_input(tmp_path):
    with pytest.raises(TypeError, match="moves"):
        to_arrow([1, 2], "moves")
    with pytest.raises(FileNotFoundError, match="moves"):
        to_arrow(tmp_path / "none.parquet", "moves")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="moves: cannot read"):
        to_arrow(tmp_path / "bad.parquet", "moves")


def test_write_parquet_is_byte_identical_and_leaves_no_temp(tmp_path):
    table = pa.table({"a": list(range(1000))})
    write_parquet(table, tmp_path / "x.parquet")
    first = (tmp_path / "x.parquet").read_bytes()
    write_parquet(table, tmp_path / "x.parquet")
    assert (tmp_path / "x.parquet").read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
    assert pq.read_table(tmp_path / "x.parquet").equals(table)


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "out") as d:
            write_parquet(pa.table({"a": [1]}), d / "a.parquet")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_refuses_to_clobber_unless_asked(tmp_path):
    with atomic_directory(tmp_path / "out") as d:
        (d / "v").write_text("1")
    with pytest.raises(FileExistsError):
        with atomic_directory(tmp_path / "out"):
            pass
    with atomic_directory(tmp_path / "out", overwrite=True) as d:
        (d / "v").write_text("2")
    assert (tmp_path / "out" / "v").read_text() == "2"


def test_atomic_parquet_writer_appears_only_when_complete(tmp_path):
    from flyttkedja.io import atomic_parquet_writer

    schema = pa.schema([("a", pa.int64())])
    with atomic_parquet_writer(tmp_path / "p.parquet", schema) as writer:
        writer.write_table(pa.table({"a": [1, 2]}, schema=schema))
        assert not (tmp_path / "p.parquet").exists()
        writer.write_table(pa.table({"a": [3]}, schema=schema))
    assert pq.read_table(tmp_path / "p.parquet")["a"].to_pylist() == [1, 2, 3]
    with pytest.raises(RuntimeError):
        with atomic_parquet_writer(tmp_path / "q.parquet", schema) as writer:
            writer.write_table(pa.table({"a": [1]}, schema=schema))
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.parquet"]


def test_write_json_is_key_order_independent(tmp_path):
    from flyttkedja.io import write_json

    write_json({"b": 1, "a": [1, 2]}, tmp_path / "x.json")
    first = (tmp_path / "x.json").read_bytes()
    write_json({"a": [1, 2], "b": 1}, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_bytes() == first
