"""Scenario files, the synth hook, run() and the CLI."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.scenario import COMPARISON_COLUMNS, ScenarioError, load_scenario, parse_scenario, read_comparison, run
from flyttkedja.scenario.config import Line, Programme
from flyttkedja.scenario.microsim import programme_hook
from flyttkedja.synth import _kernels as SK
from flyttkedja.synth.config import load_config
from flyttkedja.synth.simulate import simulate

BASE = {"name": "t", "source": {"preset": "tiny", "years": 2, "seed": 11}, "replications": 2,
        "chain_replications": 20, "model": {"bootstrap": 10},
        "programme": [{"name": "a", "line": [{"count": 20, "tenure": "rental", "rooms": 2, "municipality": "9980"}]}]}


def _with(path: str, value):
    import copy

    raw = copy.deepcopy(BASE)
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    node[parts[-1]] = value
    return raw


@pytest.mark.parametrize("path, value, message", [
    ("programme.0.line.0.tenure", "hyresrätt", r"programme\[0\]\.line\[0\]\.tenure: 'hyresrätt' is not one of"),
    ("programme.0.line.0.count", 0, r"programme\[0\]\.line\[0\]\.count: 0 is outside"),
    ("programme.0.line.0.rooms", 2.5, r"rooms: must be a whole number"),
    ("programme.0.line.0.target_group", "pensioners", r"target_group: 'pensioners' is not one of"),
    ("programme.0.line.0.municipality", "123", r"municipality: must be a four-digit string"),
    ("programme.0.line.0.colour", "red", r"line\[0\]\.colour: unknown field"),
    ("replications", -1, r"replications: -1 is outside"),
    ("model.strata", ["tenure", "storey"], r"model\.strata\[1\]: 'storey' is not one of"),
    ("programme", [], r"programme: need at least one"),
    ("source.scale", "big", r"source\.scale: must be a number"),
])
def test_scenario_errors_name_the_field(path, value, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(_with(path, value))


def test_landlord_only_for_rental():
    raw = _with("programme.0.line.0.tenure", "owner")
    raw["programme"][0]["line"][0]["landlord"] = "public"
    with pytest.raises(ScenarioError, match="landlord: only rental"):
        parse_scenario(raw)


def test_examples_load():
    from pathlib import Path

    for path in sorted(Path(__file__).parent.parent.joinpath("examples").glob("*.toml")):
        sc = load_scenario(path)
        assert sc.programmes


def test_rental_share_example_has_the_three_shares():
    from pathlib import Path

    sc = load_scenario(Path(__file__).parent.parent / "examples" / "kustvik_rental_share.toml")
    shares = [sum(l.count for l in p.lines if l.tenure == "rental") / p.dwellings for p in sc.programmes]
    assert shares == [0.0, 0.3, 0.5]


def test_programme_keeps_the_common_streams():
    """Regular new builds, arrivals and the first moves are the same with and without a programme,
    and an empty programme changes nothing at all."""
    cfg = load_config("tiny", years=2)
    base = simulate(cfg, 5)
    prog = Programme("p", (Line(count=30, tenure="rental", rooms=1, landlord="public", municipality="9981",
                                area_type="mixed", level=0.9),))
    empty = simulate(cfg, 5, programme=programme_hook(cfg, prog, years=0))
    np.testing.assert_array_equal(base.moves, empty.moves)
    np.testing.assert_array_equal(base.d, empty.d)
    run = simulate(cfg, 5, programme=programme_hook(cfg, prog, years=2))
    assert len(run.d) == len(base.d) + 30
    # the programme's dwellings follow each year's regular builds: 15 after year 1's, 15 at the end
    is_prog = np.zeros(len(run.d), bool)
    n0 = len(base.region.d)
    year1 = int(((base.d[n0:, SK.D_COMPLETED] >= 0) & (base.d[n0:, SK.D_COMPLETED] < base.window[0] + 366)).sum())
    is_prog[n0 + year1: n0 + year1 + 15] = True
    is_prog[-15:] = True
    np.testing.assert_array_equal(run.d[~is_prog][:, [SK.D_TENURE, SK.D_ROOMS, SK.D_AREA]],
                                  base.d[:, [SK.D_TENURE, SK.D_ROOMS, SK.D_AREA]])
    p = run.d[is_prog]
    assert (p[:, SK.D_TENURE] == 0).all() and (p[:, SK.D_ROOMS] == 1).all() and (p[:, SK.D_LANDLORD] == 0).all()
    assert (p[:, SK.D_ATYPE] == 2).all() and (p[:, SK.D_MUNI] == 1).all()
    first_day = p[:, SK.D_COMPLETED].min()
    before = base.moves[:, SK.M_DAY] < first_day
    np.testing.assert_array_equal(run.moves[: before.sum()], base.moves[before])


def test_run_writes_the_contract(tmp_path):
    sc = parse_scenario(BASE)
    table = run(sc, tmp_path / "out")
    got = read_comparison(tmp_path / "out")
    assert got.columns == list(COMPARISON_COLUMNS)
    assert got.equals(table)
    assert set(got["method"]) == {"transition_model", "microsimulation"}
    moves = got.filter(pl.col("measure") == "moves_per_100_new")
    assert moves.height == 2 and (moves["estimate"] > 0).all()
    assert (tmp_path / "out" / store.SCENARIO_MANIFEST).exists() and (tmp_path / "out" / store.MODEL_FILE).exists()
    again = run(sc, tmp_path / "again")
    assert (tmp_path / "out" / store.COMPARISON_FILE).read_bytes() == (tmp_path / "again" / store.COMPARISON_FILE).read_bytes()
    assert again.equals(table)


def test_cli_one_line_errors(tmp_path):
    from flyttkedja.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[programme]]\nname = "a"\n[[programme.line]]\ncount = 5\ntenure = "villa"\nrooms = 2\n')
    result = CliRunner().invoke(main, ["scenario", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: programme[0].line[0].tenure")
    help_text = CliRunner().invoke(main, ["scenario", "run", "--help"]).output
    assert "examples/" in help_text


def test_register_source_uses_the_disclosed_model(small_register, tmp_path):
    small_register.write(tmp_path / "register")
    raw = {**BASE, "source": {"register": str(tmp_path / "register")}}
    table = run(parse_scenario(raw), tmp_path / "out")
    assert set(table["method"]) == {"transition_model"}
    record = store.read_scenario_manifest(tmp_path / "out")
    assert any("microsimulation skipped" in w for w in record.warnings)
    assert any("disclosure-controlled" in w for w in record.warnings)


def test_sparse_programme_lines_warn(tmp_path):
    raw = _with("model", {"bootstrap": 0, "min_observations": 10**6})
    run(parse_scenario(raw), tmp_path / "out")
    warnings_ = store.read_scenario_manifest(tmp_path / "out").warnings
    assert any("programme 'a' line 0" in w for w in warnings_)
