import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flyttkedja import store
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


# ------------------------------------------------------------ outputs never destroy inputs
def test_check_output_refuses_inputs_dots_and_files(tmp_path, monkeypatch):
    from flyttkedja.io import OutputError, check_output

    reg = tmp_path / "run" / "register"
    reg.mkdir(parents=True)
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.chdir(reg)
    for out, match in [(reg, "is an input"), (reg / "chains", "inside the input"), (tmp_path / "run", "contains"),
                       (".", "'.' or '..'"), ("..", "'.' or '..'"), (reg / "x" / "..", "'.' or '..'"),
                       (tmp_path / "file.txt", "existing file")]:
        with pytest.raises(OutputError, match=match):
            check_output(out, [reg], overwrite=True)
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_output(tmp_path / "run", [])
    assert check_output(tmp_path / "run" / "chains", [reg]) == (tmp_path / "run" / "chains").resolve()


def test_stale_temporaries_of_killed_runs_are_removed_by_the_next_run(tmp_path, capsys):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid whose process is gone
    stale = [tmp_path / f".out.{dead}.k3j_9x2a.tmp", tmp_path / f".out.{dead}.old"]
    for d in stale:
        (d / "persons").mkdir(parents=True)
        (d / "persons" / "part.parquet").write_bytes(b"partial microdata")
    live = tmp_path / f".out.{1}.abcdefgh.tmp"  # pid 1 is alive: another run's, kept
    live.mkdir()
    other = tmp_path / f".other.{dead}.abcdefgh.tmp"  # another output's: not ours to judge
    other.mkdir()
    with atomic_directory(tmp_path / "out") as d:
        (d / "v").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", live.name, other.name])
    assert "interrupted run" in capsys.readouterr().err
    (tmp_path / f".out.{dead}.old").mkdir()  # a stale .old no longer blocks --overwrite
    with atomic_directory(tmp_path / "out", overwrite=True) as d:
        (d / "v").write_text("2")
    assert (tmp_path / "out" / "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", live.name, other.name])


def test_parquet_pages_carry_checksums(tmp_path):
    table = pa.table({"a": list(range(10_000))})
    path = write_parquet(table, tmp_path / "x.parquet")
    data = bytearray(path.read_bytes())
    assert pq.read_table(path, page_checksum_verification=True).equals(table)
    data[200] ^= 0xFF  # flip bits inside the first data page
    (tmp_path / "bad.parquet").write_bytes(bytes(data))
    with pytest.raises(OSError, match="(?i)crc|checksum|corrupt"):
        pq.read_table(tmp_path / "bad.parquet", page_checksum_verification=True)


def test_cli_refuses_outputs_over_inputs_before_any_work(tmp_path, small_register):
    from click.testing import CliRunner

    from flyttkedja.cli import main

    small_register.write(tmp_path / "reg")
    before = sorted(p.name for p in (tmp_path / "reg").iterdir())
    runner = CliRunner()
    for args, match in [(["trace", str(tmp_path / "reg"), "--out", str(tmp_path / "reg"), "--overwrite"], "is an input"),
                        (["trace", str(tmp_path / "reg"), "--out", str(tmp_path / "reg" / "c")], "inside the input"),
                        (["trace", str(tmp_path / "reg"), "--out", str(tmp_path), "--overwrite"], "contains the input"),
                        (["trace", str(tmp_path / "reg"), "--out", "."], "'.' or '..'")]:
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and match in result.output and len(result.output.strip().splitlines()) == 1, \
            result.output
    assert sorted(p.name for p in (tmp_path / "reg").iterdir()) == before
    assert runner.invoke(main, ["trace", str(tmp_path / "reg"), "--out", str(tmp_path / "c")]).exit_code == 0
    result = runner.invoke(main, ["report", str(tmp_path / "c"), "--out", str(tmp_path / "c"), "--overwrite"])
    assert result.exit_code == 2 and "is an input" in result.output
    result = runner.invoke(main, ["report", str(tmp_path / "c"), "--out", str(tmp_path / "reg" / "r")])
    assert result.exit_code == 2 and "inside the input" in result.output  # the register the chains came from
    (tmp_path / "c" / store.TRACE_MANIFEST).write_text("{")
    result = runner.invoke(main, ["report", str(tmp_path / "c"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and store.TRACE_MANIFEST in result.output and "not valid JSON" in result.output
