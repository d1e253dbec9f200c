"""The README's main command, on the tiny preset: every step's directory and the pointer to the report."""

from click.testing import CliRunner

from flyttkedja.cli import main


def test_demo_runs_the_whole_path(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--preset", "tiny", "--scale", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ["register/moves.parquet", "chains/chains.parquet", "chains/links.parquet",
                 "report/summary.txt", "report/report.json", "report/report.html", "report/report.xlsx"]:
        assert (out / name).is_file(), name
    assert f"open {out / 'report' / 'report.html'}" in result.output


def test_demo_refuses_to_clobber_with_one_line(tmp_path):
    (tmp_path / "demo" / "register").mkdir(parents=True)
    result = CliRunner().invoke(main, ["demo", "--preset", "tiny", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "exists" in result.output
    assert len(result.output.strip().splitlines()) == 1
