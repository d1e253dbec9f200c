"""Every file a register environment delivers gives the chains the Parquet register gives.

One small synthetic register is written as SAS XPORT, Stata, SPSS (pyreadstat) and
CSV (polars), under SCB's variable names; ingesting and tracing each must give
moves and chains identical to those of the Parquet register.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet  # noqa: F401 - pa.parquet
import pytest
from click.testing import CliRunner

import flyttkedja
from flyttkedja import io, store
from flyttkedja.cli import main
from flyttkedja.ingest import SCB_COLUMNS, from_snapshots, load_columns
from flyttkedja.synth import generate

pyreadstat = pytest.importorskip("pyreadstat")

# canonical -> the SCB name written into the files (the first register name of each canonical column)
TO_SCB = {canonical: name for name, canonical in reversed(list(SCB_COLUMNS.items()))}
WRITERS = {
    "xpt": lambda df, path: pyreadstat.write_xport(df, path),
    "dta": lambda df, path: pyreadstat.write_dta(df, path),
    "sav": lambda df, path: pyreadstat.write_sav(df, path),
    "csv": lambda df, path: df.write_csv(path),
    "csv.gz": None,  # written below through gzip
}


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    root = tmp_path_factory.mktemp("reg")
    reg = generate("tiny", seed=3)
    reg.write(root / "parquet")
    return reg, root


def _frame(table: pa.Table, scb: bool = True) -> pl.DataFrame:
    """What a statistics package holds: bools as 0/1, SCB names (``scb``)."""
    frame = pl.from_arrow(table)
    frame = frame.with_columns(pl.col(c).cast(pl.Int8) for c, t in frame.schema.items() if t == pl.Boolean)
    return frame.rename({c: TO_SCB.get(c, c) for c in frame.columns}) if scb else frame


def _write(table: pa.Table, path: Path, kind: str, scb: bool = True) -> Path:
    df = _frame(table, scb)
    if kind == "csv.gz":
        import gzip

        with gzip.open(path, "wb") as f:
            df.write_csv(f)
    else:
        WRITERS[kind](df, str(path))
    return path


def _register_in(kind: str, reg, root: Path) -> Path:
    out = root / kind.replace(".", "_")
    if out.exists():
        return out
    (out / "persons").mkdir(parents=True)
    persons = reg.persons
    for year in sorted(set(persons["year"].to_pylist())):
        part = pl.from_arrow(persons).filter(pl.col("year") == year).to_arrow()
        _write(part, out / "persons" / f"lisa_{year}.{kind}", kind)
    _write(reg.dwellings, out / f"dwellings.{kind}", kind)
    return out


@pytest.mark.parametrize("kind", list(WRITERS))
def test_each_format_gives_the_parquet_chains(register, kind, tmp_path):
    reg, root = register
    parquet = root / "parquet"
    want_moves = from_snapshots(store.persons_dir(parquet), reg.dwellings, absent_origin="in_migrant",
                                absent_destination="out_migrant")
    want = flyttkedja.trace(want_moves, reg.dwellings, window=reg.window, max_gap_days=730)
    src = _register_in(kind, reg, root)
    dwellings = src / f"dwellings.{kind}"
    moves = from_snapshots(src / "persons", dwellings, columns=SCB_COLUMNS, absent_origin="in_migrant",
                           absent_destination="out_migrant")
    assert moves.equals(want_moves)
    got = flyttkedja.trace(moves, io.to_arrow(dwellings, "dwellings", SCB_COLUMNS), window=reg.window,
                           max_gap_days=730)
    assert got.chains.equals(want.chains) and got.links.equals(want.links)
    assert len(want.chains) > 10


def test_cli_reads_a_sas_register_end_to_end(register, tmp_path):
    """ingest (XPORT persons + dwellings, SCB names), validate and trace a directory of such files."""
    reg, root = register
    src = _register_in("xpt", reg, root)
    runner = CliRunner()
    out = tmp_path / "annual"
    result = runner.invoke(main, ["ingest", "snapshots", str(src / "persons"), "--dwellings",
                                  str(src / "dwellings.xpt"), "--columns", "scb", "--absent-origin", "in_migrant",
                                  "--absent-destination", "out_migrant", "--out", str(out)])
    assert result.exit_code == 0, result.output
    parquet_out = tmp_path / "annual_parquet"
    result = runner.invoke(main, ["ingest", "snapshots", str(store.persons_dir(root / "parquet")), "--dwellings",
                                  str(store.register_file(root / "parquet", "dwellings")), "--absent-origin",
                                  "in_migrant", "--absent-destination", "out_migrant", "--out", str(parquet_out)])
    assert result.exit_code == 0, result.output
    for d in (out, parquet_out):
        assert runner.invoke(main, ["trace", str(d), "--out", str(d.with_name(d.name + "_chains"))]).exit_code == 0
    a = pl.read_parquet(store.chains_file(tmp_path / "annual_chains", "chains"))
    b = pl.read_parquet(store.chains_file(tmp_path / "annual_parquet_chains", "chains"))
    assert a.equals(b)
    # a register directory delivered as SAS files, moves.xpt and dwellings.xpt: traced and validated as it is
    moves = pl.read_parquet(store.register_file(out, "moves")).to_arrow()
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    _write(moves, delivered / "moves.xpt", "xpt", scb=False)
    _write(reg.dwellings, delivered / "dwellings.xpt", "xpt", scb=False)
    result = runner.invoke(main, ["trace", str(delivered), "--out", str(tmp_path / "delivered_chains"),
                                  "--window", *(d.isoformat() for d in reg.window), "--max-gap-days", "730"])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(store.chains_file(tmp_path / "delivered_chains", "chains")).equals(a)
    # the same under SCB's names, validated through the user's own mapping file
    scb = tmp_path / "scb"
    scb.mkdir()
    _write(moves, scb / "moves.dta", "dta")
    _write(reg.dwellings, scb / "dwellings.dta", "dta")
    mapping = tmp_path / "mine.toml"
    mapping.write_text("[columns]\n" + "\n".join(f'{v} = "{k}"' for k, v in TO_SCB.items()))
    assert load_columns(mapping)["LopNr_LghNr"] == "dwelling_id"
    result = runner.invoke(main, ["validate", str(scb), "--columns", str(mapping), "--json"])
    assert result.exit_code in (0, 1), result.output  # read and checked (1: data-quality findings)
    checked = {json.loads(line)["table"] for line in result.output.splitlines() if line.startswith("{")}
    assert {"dwellings", "moves"} <= checked, result.output


def test_sas_dates_count_from_1960(tmp_path):
    table = pa.table({"d": pa.array([dt.date(1960, 1, 1), dt.date(2019, 12, 31), None, dt.date(1959, 12, 31)]),
                      "x": [1.0, 2.0, 3.0, 4.0]})
    path = tmp_path / "d.xpt"
    pyreadstat.write_xport(table.to_pandas(), str(path))
    raw, _ = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    assert raw["d"].tolist()[:2] == [0.0, (dt.date(2019, 12, 31) - dt.date(1960, 1, 1)).days]
    got = io.to_arrow(path)
    assert got.schema.field("d").type == pa.date32()
    assert got["d"].to_pylist() == table["d"].to_pylist()
    for kind, write in [("dta", pyreadstat.write_dta), ("sav", pyreadstat.write_sav)]:
        write(table.to_pandas(), str(tmp_path / f"d.{kind}"))
        assert io.to_arrow(tmp_path / f"d.{kind}")["d"].to_pylist() == table["d"].to_pylist(), kind


def test_value_labels_kept_off_the_codes(tmp_path):
    df = pd.DataFrame({"Kon": [1.0, 2.0, 2.0], "Upplatelseform": [1.0, 3.0, 2.0]})
    labels = {"Kon": {1.0: "Man", 2.0: "Kvinna"}, "Upplatelseform": {1.0: "Hyresrätt", 2.0: "Bostadsrätt",
                                                                      3.0: "Äganderätt"}}
    for kind, write in [("sav", pyreadstat.write_sav), ("dta", pyreadstat.write_dta)]:
        path = tmp_path / f"l.{kind}"
        write(df, str(path), variable_value_labels=labels)
        assert io.value_labels(path) == labels
        table = io.to_arrow(path, "dwellings", {"Upplatelseform": "tenure"})
        assert table["Kon"].to_pylist() == [1.0, 2.0, 2.0]
        assert flyttkedja.conform(table.select(["tenure"]), "dwellings", partial=True)["tenure"].to_pylist() == \
            ["rental", "owner", "cooperative"]


def test_chunks_stream_with_one_schema(tmp_path):
    """A column missing in the first chunk gets its type from the file, blanks are null, CSV types span the file."""
    df = pd.DataFrame({"a": [None, None, 1.0, 2.5, None], "s": ["", "x", " ", "y", "z"], "i": [1, 2, 3, 4, 5]})
    pyreadstat.write_dta(df, str(tmp_path / "c.dta"))
    chunks = list(io.iter_tables(tmp_path / "c.dta", chunk_rows=2))
    assert len(chunks) == 3 and len({c.schema for c in chunks}) == 1
    whole = pa.concat_tables(chunks)
    assert whole["a"].to_pylist() == [None, None, 1.0, 2.5, None]
    assert whole["s"].to_pylist() == [None, "x", None, "y", "z"]
    spooled = io.spool_parquet(tmp_path / "c.dta", "c", tmp_path)
    assert pa.parquet.read_table(spooled).equals(whole.combine_chunks())
    lines = ["id,kommun,when,flag,v"] + [f"{i},0{i % 9 + 1}80,2020-01-0{i % 9 + 1},true,{i}" for i in range(3000)]
    lines += ["3000,0180,,false,1.5"]  # a fraction on the last line only
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    table = io.to_arrow(tmp_path / "c.csv")
    assert [f.type for f in table.schema] == [pa.int64(), pa.string(), pa.date32(), pa.bool_(), pa.float64()]
    assert table["kommun"][0].as_py() == "0180" and table["v"][-1].as_py() == 1.5


FIXTURES = Path(__file__).parent / "data" / "pyreadstat"


@pytest.mark.parametrize("kind", ["sas7bdat", "xpt", "dta", "sav"])
def test_files_written_by_sas_stata_spss(kind):
    """pyreadstat's sample files (tests/data/pyreadstat/README.md), written by SAS itself
    (.sas7bdat, .xpt), Stata and SPSS, read as the CSV of the same values says."""
    want = io.to_arrow(FIXTURES / "sample.csv")
    got = io.to_arrow(FIXTURES / f"sample.{kind}", columns={c: c for c in want.column_names})  # XPORT: MYCHAR
    assert got.column_names == want.column_names
    assert got["mychar"].to_pylist() == want["mychar"].to_pylist()
    assert got["mynum"].to_pylist() == want["mynum"].to_pylist()
    assert got.schema.field("mydate").type == pa.date32()
    assert got["mydate"].to_pylist() == want["mydate"].to_pylist()  # 1880, 1960-01-01 and 1583 among them
    assert got["mylabl"].to_pylist() == want["mylabl"].to_pylist()  # codes stay codes
    if kind in ("dta", "sav"):
        assert io.value_labels(FIXTURES / f"sample.{kind}")["mylabl"] == {1: "Male", 2: "Female"}
    chunks = list(io.iter_tables(FIXTURES / f"sample.{kind}", chunk_rows=2))
    assert len(chunks) == 3 and pa.concat_tables(chunks).rename_columns(got.column_names).equals(got)


def test_a_corrupt_sas_file_fails_in_one_line(tmp_path):
    bad = tmp_path / "lisa_2019.sas7bdat"
    bad.write_bytes(b"not a SAS dataset")
    with pytest.raises(ValueError, match="lisa_2019.sas7bdat"):
        io.to_arrow(bad, "persons")
    assert io.kind_of(bad) == "sas7bdat"


def test_the_printed_scb_mapping_is_the_one_used(tmp_path):
    import tomllib

    result = CliRunner().invoke(main, ["ingest", "columns"])
    assert result.exit_code == 0 and tomllib.loads(result.output)["columns"] == SCB_COLUMNS
    (tmp_path / "bad.toml").write_text('[columns]\nLopNr = "personnummer"\n')
    with pytest.raises(ValueError, match="unknown canonical column"):
        load_columns(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match="two columns"):
        io.to_arrow(pa.table({"FodelseAr": [1950], "FodAr": [1950]}), columns=SCB_COLUMNS)
