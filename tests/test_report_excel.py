"""report.xlsx read back: one sheet per table, values equal the tables, withheld cells "..", undefined ratios "."."""

from __future__ import annotations

import math

import openpyxl
import polars as pl
import pytest
from test_report_html import build_report, scenario_fixture

from flyttkedja.analysis.excel import UNDEFINED_MARK
from flyttkedja.analysis.labels import SUPPRESSED_MARK, label


@pytest.fixture(scope="module")
def report(small_register):
    return build_report(small_register)


def test_workbook_sheets_values_and_marks(report, tmp_path):
    path = report.write_excel(tmp_path / "r.xlsx", scenario=scenario_fixture())
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == [*report.tables, "scenario", "notes"]
    for name, frame in [*report.tables.items(), ("scenario", scenario_fixture())]:
        rows = list(wb[name].iter_rows(values_only=True))
        cols = [c for c in frame.columns if c != "suppressed"]
        assert list(rows[0]) == [label(c) for c in cols]
        assert len(rows) == frame.height + 1, name
        for row, rec in zip(rows[1:], frame.iter_rows(named=True), strict=True):
            for got, c in zip(row, cols, strict=True):
                want = rec[c]
                if isinstance(want, str):
                    assert got == label(want)
                elif rec.get("suppressed") and (want is None or isinstance(want, float)):
                    assert got == SUPPRESSED_MARK, (name, c, rec)
                elif want is None:  # an undefined ratio (0/0) or no interval: not the withheld mark
                    assert got == UNDEFINED_MARK != SUPPRESSED_MARK, (name, c, rec)
                else:
                    assert math.isclose(got, want), (name, c, got, want)
    assert report["reach"]["suppressed"].any()
    notes = [r[0] for r in wb["notes"].iter_rows(values_only=True) if r[0]]
    assert any(n.startswith('".."') for n in notes) and any("White" in n for n in notes)


def test_workbook_swedish_and_reproducible(report, small_register, tmp_path):
    a = report.write_excel(tmp_path / "a.xlsx", lang="sv")
    b = build_report(small_register).write_excel(tmp_path / "b.xlsx", lang="sv")
    assert a.read_bytes() == b.read_bytes()
    first = pl.read_excel(a, sheet_name="length_summary", engine="openpyxl")
    assert "upplåtelseform" in first.columns and "hyresrätt" in first["upplåtelseform"].to_list()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left behind
