"""Both chain conventions in one report (``flyttkedja report --both-conventions``), protected as one release.

The attack on such a release (and on a later release against it) is in
tests/test_disclosure_attack.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.cli import main

FIGURES = ("convention", "n", "n_base", "value", "ci_low", "ci_high", "suppressed")


def test_report_both_conventions(tmp_path: Path) -> None:
    """The CLI writes the trees' tables beside the paths', in the page, the workbook, the output check and
    the ledger; where both are published, a count differs between them by 0 or at least the threshold."""
    import openpyxl
    import pyarrow.parquet as pq
    from test_disclosure_attack import couples_register

    register = tmp_path / "register"
    register.mkdir()
    for table, name in zip(couples_register(4, 12, tables=True), ("moves", "dwellings", "areas")):
        pq.write_table(table, store.register_file(register, name))
    run = CliRunner().invoke
    assert run(main, ["trace", str(register), "--out", str(tmp_path / "chains")]).exit_code == 0
    result = run(main, ["report", str(tmp_path / "chains"), "--out", str(tmp_path / "report"), "--replicates", "0",
                        "--both-conventions"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    manifest = store.read_report_manifest(out)
    assert manifest["convention"] == "path" and manifest["alongside"]["convention"] == "tree"
    html = store.report_file(out, "html").read_text()
    assert 'class="panels"' in html  # some figures differ between the conventions, drawn side by side
    threshold = manifest["threshold"]
    tree_tables = [f"tree_{name}" for name in manifest["alongside"]["tables"]]
    for name in manifest["alongside"]["tables"]:
        path, tree = (pl.read_parquet(store.report_table_files(out, t)[0]) for t in (name, f"tree_{name}"))
        assert set(tree["convention"]) == {"tree"}
        keys = [c for c in tree.columns if c not in FIGURES]
        both = tree.join(path, on=keys, suffix="_p", nulls_equal=True).filter(
            ~pl.col("suppressed") & ~pl.col("suppressed_p"))
        for col in ("n", "n_base"):
            d = np.abs((both[col] - both[f"{col}_p"]).drop_nulls().to_numpy())
            assert ((d == 0) | (d >= threshold)).all(), name
    check = json.loads(store.report_file(out, "check_json").read_text())
    assert set(tree_tables) <= set(check["tables"]) and check["differences_between_conventions"] >= 0
    assert "Both chain conventions" in store.report_file(out, "check_text").read_text()
    ledger = json.loads(store.ledger_file(out).read_text())
    release = ledger["releases"][-1]
    assert release["convention"] == "path" and set(tree_tables) <= set(release["tables"]) <= set(
        release["published"])
    book = openpyxl.load_workbook(store.report_file(out, "xlsx"))
    assert set(tree_tables) <= set(book.sheetnames)
    sheet = pl.read_parquet(store.report_table_files(out, "tree_end_reasons")[0])
    marks = [[c.value for c in row] for row in book["tree_end_reasons"].iter_rows(min_row=2)]
    withheld = sheet["suppressed"].to_list()
    for row, hidden in zip(marks, withheld):  # ".." only for withheld rows; an undefined ratio is "."
        assert (".." in row) == hidden
