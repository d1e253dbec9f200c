"""Both chain conventions in one report (``flyttkedja report --both-conventions``), protected as one release."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.analysis.conventions import FIGURES, margin_matrix, protect_table
from flyttkedja.analysis.disclosure import disclosed
from flyttkedja.cli import main


def frame(n: dict[str, int], convention: str) -> pl.DataFrame:
    groups = list(n)
    return pl.DataFrame({"convention": convention, "tenure": groups, "k": "1", "statistic": "count",
                         "n": [n[g] for g in groups], "n_base": [100] * len(groups), "value": [0.5] * len(groups),
                         "ci_low": None, "ci_high": None, "suppressed": False},
                        schema_overrides={"ci_low": pl.Float64, "ci_high": pl.Float64})


def test_small_difference_and_its_margin_are_withheld() -> None:
    """A difference of 2 in one group is withheld, and so is a partner that would give it back
    through the margin (all − the other group)."""
    path = frame({"rental": 10, "owner": 10, "all": 20}, "path")
    tree = frame({"rental": 12, "owner": 20, "all": 32}, "tree")
    out = protect_table(path, tree, ["tenure"], threshold=5)
    hidden = out["suppressed"].to_numpy()
    assert hidden[0] and hidden.sum() >= 2
    assert out.filter("suppressed")["n"].null_count() == int(hidden.sum())
    A = margin_matrix(tree.select("tenure", "k"), ["tenure"])
    assert not disclosed(A, hidden).any()  # no withheld difference follows from the published ones


def test_large_differences_stay_published() -> None:
    path = frame({"rental": 10, "owner": 10, "all": 20}, "path")
    tree = frame({"rental": 20, "owner": 10, "all": 30}, "tree")
    assert not protect_table(path, tree, ["tenure"], threshold=5)["suppressed"].any()


def test_report_both_conventions(tmp_path: Path, small_register) -> None:
    register = small_register.write(tmp_path / "register")
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
    for name in manifest["alongside"]["tables"]:
        path, tree = (pl.read_parquet(store.report_table_files(out, t)[0]) for t in (name, f"tree_{name}"))
        assert set(tree["convention"]) == {"tree"}
        keys = [c for c in tree.columns if c not in FIGURES]
        both = tree.join(path, on=keys, suffix="_p", nulls_equal=True).filter(~pl.col("suppressed"))
        assert both["n_p"].null_count() == 0  # published alongside only where published in the report itself
        for col in ("n", "n_base"):
            d = np.abs((both[col] - both[f"{col}_p"]).to_numpy())
            assert ((d == 0) | (d >= threshold)).all(), name


def test_paths_beside_trees_are_protected_against_the_depth_tables(small_register) -> None:
    """A path's length is its depth: paths shown beside a tree report differ from its depth table
    by 0 or at least the threshold wherever both are published."""
    import flyttkedja
    from flyttkedja.analysis import Report
    from flyttkedja.analysis.conventions import protect_alongside
    from flyttkedja.core import retrace

    reg = small_register
    trees = flyttkedja.trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days,
                             convention="tree")
    tree_report = Report(trees, ci=False)
    paths = protect_alongside(tree_report, Report(retrace(trees, "path"), ci=False))
    assert "depth_distribution" not in paths.tables
    depth = tree_report["depth_distribution"].rename({"depth": "length"})
    keys = ["tenure", "length", "statistic"]
    both = paths["length_distribution"].join(depth, on=keys, suffix="_t").filter(
        ~pl.col("suppressed") & ~pl.col("suppressed_t"))
    d = np.abs((both["n"] - both["n_t"]).to_numpy())
    assert ((d == 0) | (d >= tree_report.options["threshold"])).all()
