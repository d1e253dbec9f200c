"""Tests of flyttkedja.validate and the validate / ingest commands."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import flyttkedja
from flyttkedja import store
from flyttkedja.cli import main
from flyttkedja.ingest import from_snapshots
from tests.test_ingest import panel, write_years

D = dt.date


def dwellings(ids=(10, 11, 12, 13), tenure="rental") -> pl.DataFrame:
    return pl.DataFrame({"dwelling_id": list(ids), "tenure": [tenure] * len(ids),
                         "completed": [None, None, None, D(2020, 2, 1)][: len(ids)]})


def clean_register(tmp_path):
    write_years(panel(), tmp_path / "persons")
    dwellings().write_parquet(store.register_file(tmp_path, "dwellings"))
    from_snapshots(tmp_path / "persons", store.register_file(tmp_path, "dwellings"), out=store.register_file(tmp_path, "moves"))
    return tmp_path


def counts(report) -> dict:
    """"table.column: check" → rows, of the checks that found rows."""
    return {f"{c['table']}.{c['column']}: {c['check']}": c["rows"] for c in report.checks if c["rows"]}


def find(got: dict, *words: str) -> int:
    """Rows of the one check whose name holds every word."""
    hits = [n for k, n in got.items() if all(w in k for w in words)]
    assert len(hits) == 1, (words, got)
    return hits[0]


def test_clean_register_passes(tmp_path):
    report = flyttkedja.validate(clean_register(tmp_path))
    assert report.ok and report.exit_code == 0, report.to_text()
    assert len(report.checks) >= 12


def test_each_problem_is_counted_with_row_numbers():
    mv = pl.DataFrame({
        "household_id": [1, 1, 2, 3, 4],
        "move_date": [D(2020, 1, 1), D(2020, 1, 1), D(2020, 2, 1), D(2020, 3, 1), D(2020, 4, 1)],
        "from_dwelling": [10, None, 99, 11, None],
        "to_dwelling": [11, 12, 10, None, 11],
        "origin": ["dwelling", "dwelling", "dwelling", "dwelling", "in_migrant"],
        "destination": ["dwelling"] * 3 + ["out_migrant", "dwelling"],
        "vacates": [True, True, False, True, False],
        "fills": [True, True, True, False, False],
        "age_head": [30, 30, 200, 40, 50],
    })
    dw = dwellings(ids=(10, 11, 12, 11)).with_columns(tenure=pl.Series(["rental", None, "x", "owner"]))
    report = flyttkedja.validate(dwellings=dw, moves=mv)
    got = counts(report)
    assert find(got, "dwelling_id", "duplicate") == 2 and find(got, "tenure", "null") == 1
    assert find(got, "tenure", "unknown") == 1 and find(got, "from_dwelling", "not in dwellings") == 1
    assert find(got, "moves.origin") == 1
    assert find(got, "moves.vacates", "no from_dwelling") == 1
    assert find(got, "second move on one day") == 1
    assert find(got, "age of head") == 1
    # 10 is vacated on 1 Jan and filled on 1 Feb: fine. 11 is filled on 1 Jan, left on 1 Mar (empty),
    # then entered on 1 Apr without filling it: a non-filling move into an empty dwelling.
    assert find(got, "fills=False into an empty dwelling") == 1
    rows = {c["check"]: c["example_rows"] for c in report.checks}
    assert rows["fills=False into an empty dwelling"] == [4]
    values = {c["check"]: c["example_values"] for c in report.checks if c["column"] == "tenure"}
    assert any(v == ["x"] for v in values.values())  # the unknown spelling itself, not an id
    assert report.exit_code == 1


def test_fills_into_occupied_and_persons_checks(tmp_path):
    mv = pl.DataFrame({
        "household_id": [1, 2], "move_date": [D(2020, 1, 1), D(2020, 2, 1)],
        "from_dwelling": [None, None], "to_dwelling": [11, 11],
        "origin": ["in_migrant", "in_migrant"], "destination": ["dwelling", "dwelling"],
        "vacates": [False, False], "fills": [True, True],
    })
    people = pl.concat([
        panel(),
        pl.DataFrame({"person_id": [1], "year": [2020], "dwelling_id": [12], "birth_year": [1970],
                      "born_abroad": [False], "income": [1]}),
        pl.DataFrame({"person_id": [99], "year": [2020], "dwelling_id": [55], "birth_year": [2030],
                      "born_abroad": [False], "income": [1]}),
    ])
    report = flyttkedja.validate(dwellings=dwellings(), moves=mv, persons=people)
    got = counts(report)
    assert find(got, "fills=True into an occupied dwelling") == 1
    assert find(got, "duplicate person id") == 2
    assert find(got, "impossible age (year - birth_year outside 0..120)") == 1
    assert find(got, "year 2020", "dwelling not in the dwellings table") == 1
    text = report.to_text()
    assert "99" not in text.replace("rows [", "")  # no person ids in the report (rows only)


def test_unknown_family_position_is_counted_with_rows():
    people = panel().with_columns(family_position=pl.Series(["head", "barn", "kusin"] * (panel().height // 3)
                                                            + ["head"] * (panel().height % 3)))
    report = flyttkedja.validate(persons=people)  # one line per snapshot year
    lines = [c for c in report.checks if c["column"] == "family_position" and "unknown" in c["check"]]
    assert sum(c["rows"] for c in lines) == panel().height // 3 and lines[0]["example_rows"][0] == 2


def test_validate_cli_exit_status(tmp_path):
    runner = CliRunner()
    register = clean_register(tmp_path / "reg")
    result = runner.invoke(main, ["validate", str(register)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad"
    bad.mkdir()
    dwellings(tenure=None).write_parquet(store.register_file(bad, "dwellings"))
    result = runner.invoke(main, ["validate", str(bad), "--json"])
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert any(c["column"] == "tenure" and c["check"] == "null value(s)" and c["rows"] == 4 for c in lines)
    store.register_file(bad, "moves").write_bytes(b"garbage")
    assert runner.invoke(main, ["validate", str(bad)]).exit_code == 2
    assert runner.invoke(main, ["validate", str(tmp_path / "nowhere")]).exit_code == 2


def test_ingest_cli_writes_a_traceable_directory(tmp_path):
    register = clean_register(tmp_path / "reg")
    runner = CliRunner()
    out = tmp_path / "annual"
    result = runner.invoke(main, ["ingest", "snapshots", str(register / "persons"),
                                  "--dwellings", str(store.register_file(register, "dwellings")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([store.REGISTER_FILES["dwellings"], store.INGEST_MANIFEST,
                                                             store.REGISTER_FILES["moves"], store.REGISTER_MANIFEST])
    meta = store.read_register_manifest(out)
    assert (meta.window, meta.max_gap_days) == ((dt.date(2020, 1, 1), dt.date(2020, 12, 31)), 730)
    assert pq.read_table(store.register_file(out, "moves")).equals(pq.read_table(store.register_file(register, "moves")))
    assert store.read_ingest_manifest(out).rows["moves"] == 5
    # a failing run leaves nothing behind and exits 2
    (register / "persons" / "persons_2020.parquet").write_bytes(b"broken")
    result = runner.invoke(main, ["ingest", "snapshots", str(register / "persons"),
                                  "--dwellings", str(store.register_file(register, "dwellings")), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "persons_2020.parquet" in result.output
    assert not (tmp_path / "x").exists()


def test_ingest_events_cli(tmp_path):
    from tests.test_ingest import events_df

    register = clean_register(tmp_path / "reg")
    events_df().write_parquet(tmp_path / "events.parquet")
    result = CliRunner().invoke(main, [
        "ingest", "events", str(tmp_path / "events.parquet"), "--persons", str(register / "persons"),
        "--dwellings", str(store.register_file(register, "dwellings")), "--out", str(tmp_path / "daily")])
    assert result.exit_code == 0, result.output
    assert pq.read_table(store.register_file(tmp_path / "daily", "moves")).num_rows == 5


@pytest.mark.parametrize("preset", ["scb"])
def test_columns_preset_loads(preset):
    from flyttkedja.cli.ingest import load_columns

    assert load_columns(preset)["LopNr"] == "person_id"


def test_synthetic_register_and_its_ingested_moves_validate_clean(small_register, tmp_path):
    from flyttkedja.ingest import from_person_moves

    reg = small_register
    reg.write(tmp_path / "reg")
    report = flyttkedja.validate(tmp_path / "reg")
    assert report.ok, report.to_text()
    annual = from_snapshots(tmp_path / "reg" / "persons", reg.dwellings, absent_origin="in_migrant",
                            absent_destination="out_migrant")
    daily = from_person_moves(reg.person_events, reg.persons, reg.dwellings)
    for moves in (annual, daily):
        report = flyttkedja.validate(dwellings=reg.dwellings, moves=moves)
        assert report.ok, report.to_text()
