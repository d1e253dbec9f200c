"""The README's main command, on the tiny preset: every step's directory and the pointer to the report."""

from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.cli import main


def test_demo_runs_the_whole_path(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--preset", "tiny", "--scale", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = [store.register_file(out / "register", "moves"), *(store.chains_file(out / "chains", t) for t in
                                                                ("chains", "links")),
             out / "report" / store.REPORT_MANIFEST, *(store.report_file(out / "report", k)
                                                        for k in ("summary", "html", "xlsx"))]
    for path in files:
        assert path.is_file(), path
    assert f"open {store.report_file(out / 'report', 'html')}" in result.output


def test_demo_refuses_to_clobber_with_one_line(tmp_path):
    (tmp_path / "demo" / "register").mkdir(parents=True)
    result = CliRunner().invoke(main, ["demo", "--preset", "tiny", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "exists" in result.output
    assert len(result.output.strip().splitlines()) == 1
