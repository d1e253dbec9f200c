"""Scenario files, the synth hook, run() and the CLI."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flyttkedja import store
from flyttkedja.scenario import COMPARISON_COLUMNS, ScenarioError, load_scenario, parse_scenario, read_comparison, run
from flyttkedja.scenario.config import Line, Programme
from flyttkedja.scenario.microsim import programme_hook
from flyttkedja.synth import _kernels as SK
from flyttkedja.synth.config import load_config
from flyttkedja.synth.simulate import simulate

BASE = {"name": "t", "source": {"preset": "tiny", "years": 2, "seed": 11}, "replications": 2,
        "chain_replications": 20, "model": {"bootstrap": 10}, "run": {"workers": 0},
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
    ("max_replications", 1, r"max_replications: 1 is outside 2\.\."),
    ("run", {"workers": -1}, r"run\.workers: -1 is outside"),
    ("run", {"cluster": "x"}, r"run\.cluster: unknown field"),
    ("model.shrinkage", "much", r"model\.shrinkage: must be a number"),
    ("model.cross_validation", 1, r"model\.cross_validation: must be true or false"),
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
    whole = got.filter(pl.col("line").is_null() & (pl.col("area") == "region"))
    gross = whole.filter(pl.col("measure") == "moves_gross_per_100_new")
    assert sorted(gross["method"]) == ["microsimulation", "transition_model"] and (gross["estimate"] > 0).all()
    assert whole.filter(pl.col("measure").is_in(["moves_net_per_100_new", "displacement_ratio"]))["method"].to_list() \
        == ["microsimulation"] * 2
    assert "moves_per_100_new" not in set(got["measure"])
    # one chain-length measure, by both methods (the model's exact distribution, the traced chains')
    assert not {m for m in got["measure"] if m.startswith("chain_length_share_")}
    shares = {}
    for method in ("transition_model", "microsimulation"):
        h = whole.filter((pl.col("measure") == "chain_length_share") & (pl.col("method") == method))
        assert h["group"].to_list() == [str(k) for k in range(20)] + ["20+"]
        assert h["estimate"].sum() == pytest.approx(1.0, abs=1e-9)
        shares[method] = h["estimate"].to_numpy()
    traced_gross = gross.filter(pl.col("method") == "microsimulation")["estimate"][0]
    assert shares["microsimulation"][-1] == 0  # tiny preset: no chain of 20 moves, so the mean is exact
    assert 100 * (np.arange(21) * shares["microsimulation"]).sum() == pytest.approx(traced_gross, rel=1e-9)
    assert {"municipality", "rest"} <= set(got["area"]) and set(got["line"].drop_nulls()) == {"1"}
    by_round = got.filter(pl.col("measure") == "below_median_share_by_round")
    assert by_round["group"].to_list() == [str(k) for k in range(1, 7)]
    assert by_round["estimate"].drop_nulls().is_between(0, 1).all() and by_round["estimate"].null_count() < 6
    assert store.scenario_file(tmp_path / "out", "summary").read_text().count("displacement ratio") == 1
    assert "undanträngningskvot" in store.scenario_file(tmp_path / "out", "summary").read_text()
    from test_scenario import _assert_disjoint_reach

    _assert_disjoint_reach(got.filter(pl.col("method") == "microsimulation").to_dicts(), "moves_gross_per_100_new")
    _assert_disjoint_reach(got.filter(pl.col("method") == "transition_model").to_dicts(), "moves_gross_per_100_new")
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
    """Sparse lines warn; a line allocated to a group whose market rule is not its measured definition
    names both."""
    from flyttkedja.cli import main

    # BASE with a sparse, low-income line, through the CLI: the warnings are printed, not only saved
    toml = tmp_path / "sparse.toml"
    toml.write_text('name = "t"\nreplications = 2\nchain_replications = 20\n'
                    '[source]\npreset = "tiny"\nyears = 2\nseed = 11\n'
                    '[model]\nbootstrap = 0\nmin_observations = 1000000\n[run]\nworkers = 0\n'
                    '[[programme]]\nname = "a"\n[[programme.line]]\ncount = 20\ntenure = "rental"\nrooms = 2\n'
                    'municipality = "9980"\ntarget_group = "low_income"\n')
    result = CliRunner().invoke(main, ["scenario", "run", str(toml), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    record = store.read_scenario_manifest(tmp_path / "out")
    assert f"{len(record.warnings)} warnings (also in" in result.output
    assert all(f"- {w}" in " ".join(result.output.split()) for w in (" ".join(x.split()) for x in record.warnings))
    assert any("programme 'a' line 1: its strata hold" in w for w in record.warnings)
    note = [w for w in record.warnings if "line 1 is allocated to low_income" in w]
    assert len(note) == 1 and "below 60% of the median" in note[0] and "below 250,000 SEK a year" in note[0]
    assert any("families: measured as children under 18" in n for n in record.notes)


def test_unused_line_attributes_are_named(tmp_path):
    raw = _with("programme.0.line.0.level", 1.2)
    raw["programme"][0]["line"][0]["building_type"] = "small_house"
    raw["model"] = {"bootstrap": 0, "strata": ["tenure", "size_band"], "cross_validation": False}
    raw["max_replications"] = 2
    sc = parse_scenario(raw)
    with pytest.warns(UserWarning, match="ignores building_type, municipality, level"):
        run(sc, tmp_path / "out")
    warnings_ = store.read_scenario_manifest(tmp_path / "out").warnings
    assert any("line 1: the transition model ignores building_type, municipality, level" in w for w in warnings_)


def _fake_results(effects, reps, seed=0):
    """Replication results of programmes whose net moves differ from the baseline by ``effects`` (+ noise)."""
    from flyttkedja.scenario.microsim import COUNTS

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        base = rng.poisson(1000, (len(COUNTS), 3)).astype(float)
        total = [base + e + rng.normal(0, 5, base.shape) for e in effects]
        out.append({"base": base, "total": total, "gross": [np.zeros((1, len(COUNTS), 3)) for _ in effects]})
    return out


def test_replications_stop_when_the_differences_are_resolved():
    from flyttkedja.scenario.compare import replications_until_resolved

    progs = [Programme(n, (Line(count=100, tenure="rental", rooms=2),)) for n in ("a", "b")]
    pool = _fake_results([0.0, 30.0], 40)
    calls = []

    def batch(seeds):
        calls.append(len(seeds))
        return pool[sum(calls) - len(seeds): sum(calls)]

    results, diffs = replications_until_resolved(None, list(range(40)), 2, programmes=progs, run_batch=batch)
    assert diffs[0]["resolved"] and len(results) < 40 and diffs[0]["replications"] == len(results)
    # indistinguishable programmes: the budget is spent and the difference stays unresolved
    pool = _fake_results([0.0, 0.0], 10, seed=3)
    calls.clear()
    results, diffs = replications_until_resolved(None, list(range(10)), 2, programmes=progs, run_batch=batch)
    assert len(results) == 10 and not diffs[0]["resolved"]


SMALL = {"name": "exec", "source": {"preset": "tiny", "years": 1, "seed": 11}, "replications": 2,
         "chain_replications": 5, "model": {"bootstrap": 0, "cross_validation": False},
         "programme": [{"name": "a", "line": [{"count": 10, "tenure": "rental", "rooms": 1, "municipality": "9980"}]}]}


def test_dask_cluster_gives_the_local_executors_bytes(tmp_path):
    """Replications through a local process and through a dask.distributed LocalCluster: same bytes; a pool
    of local processes returns results in seed order. (The scenario's replications go through one spawned
    process, not two: each pays the package's import and kernel loading, some 12 s.)"""
    from functools import partial

    from flyttkedja.scenario.executor import map_replications

    distributed = pytest.importorskip("distributed")
    assert map_replications(partial(pow, 2), list(range(8)), workers=2) == [2 ** k for k in range(8)]
    sc = parse_scenario(SMALL)
    run(sc, tmp_path / "local", workers=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        run(sc, tmp_path / "dask", scheduler=cl.scheduler_address)
    for name in ("comparison", "summary"):
        assert store.scenario_file(tmp_path / "local", name).read_bytes() == \
            store.scenario_file(tmp_path / "dask", name).read_bytes()


def test_gross_chains_are_the_programmes_completions():
    """Tracing the programme's dwellings seeds every vacancy at them; the gross chains are the ones their
    completions start: one per programme dwelling, each with its line."""
    from flyttkedja.core import trace
    from flyttkedja.scenario.microsim import completions_only, market_run

    cfg = load_config("tiny", years=2)
    prog = Programme("p", (Line(count=12, tenure="rental", rooms=2, landlord="public", municipality="9980"),
                           Line(count=6, tenure="owner", rooms=4, municipality="9981")))
    run = market_run(cfg, 5, prog, 2)
    assert len(run.programme_dwellings) == 18 and np.bincount(run.programme_line).tolist() == [12, 6]
    dw = pl.from_arrow(run.dwellings).filter(pl.col("dwelling_id").is_in(run.programme_dwellings.tolist()))
    assert sorted(dw["municipality"].cast(str).to_list()) == ["9980"] * 12 + ["9981"] * 6
    cs = trace(run.moves, run.dwellings, run.programme_dwellings, window=run.window, max_gap_days=run.max_gap_days)
    gross = completions_only(cs)
    assert gross.chains.height == 18 and (gross.chains["seed_kind"] == "new_build").all()
    assert gross.chains["chain_id"].to_list() == list(range(18))
    assert gross.links.height == gross.chains["length"].sum()


def test_market_runs_skip_the_truth_only():
    """``build_register(truth=False)``: the same canonical tables, the truth tables empty with their schemas."""
    from flyttkedja.synth.register import build_register

    raw = simulate(load_config("tiny", years=1), 4)
    full, market = build_register(raw, {}), build_register(raw, {}, truth=False)
    for name in ("moves", "dwellings", "areas", "households", "person_events"):
        assert getattr(market, name).equals(getattr(full, name)), name
    assert full.truth_chains.num_rows > 0
    for name in ("truth_chains", "truth_links", "truth_moves"):
        assert getattr(market, name).num_rows == 0 and getattr(market, name).schema == getattr(full, name).schema


@settings(max_examples=6, deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from(["rental", "cooperative", "owner"]), st.integers(1, 5),
                                st.sampled_from(["9980", "9981", "9982"]),
                                st.sampled_from([None, "young_adults", "seniors", "families"]),
                                st.integers(5, 40)), min_size=1, max_size=3),
       seed=st.integers(0, 2**20))
def test_market_allocation_on_generated_programmes(lines, seed):
    """In the market a line's target group is the dwellings' allocation rule: every first filler of a
    young-adult or senior line is in its group, and reached_young_adults + reached_seniors ≤ moves_gross for every line
    and municipality (the groups are disjoint)."""
    from flyttkedja.analysis.groups import TARGET_GROUPS, household_frame, income_reference, target_flags
    from flyttkedja.core import trace
    from flyttkedja.scenario.microsim import COUNTS, chain_counts, completions_only, market_run

    cfg = load_config("tiny", years=1)
    prog = Programme("p", tuple(Line(count=c, tenure=t, rooms=r, municipality=m, target_group=g,
                                     landlord="public" if t == "rental" else None) for t, r, m, g, c in lines))
    run_ = market_run(cfg, seed, prog, 1)
    reference = income_reference(run_.moves)
    gross, _, _ = chain_counts(run_, reference, ["9980", "9981", "9982"], len(prog.lines))
    moves, young, old = (gross[:, COUNTS.index(c)] for c in ("moves", "reached_young_adults", "reached_seniors"))
    assert (young + old <= moves).all()
    cs = completions_only(trace(run_.moves, run_.dwellings, run_.programme_dwellings, window=run_.window,
                                max_gap_days=run_.max_gap_days))
    first = cs.link_attributes(["age_head", "income", "size", "adults", "household_type", "born_abroad"]).filter(
        pl.col("step") == 1).join(cs.chains.select("chain_id", "seed_dwelling"), on="chain_id")
    first = first.join(pl.DataFrame({"seed_dwelling": run_.programme_dwellings, "line": run_.programme_line}),
                       on="seed_dwelling")
    flags = target_flags(household_frame(first, reference), TARGET_GROUPS)
    for i, line in enumerate(prog.lines):
        # the market's families rule counts any member beside head and partner (adult children too); the
        # analysis counts children under 18, so only the age rules are checked against the analysis flags
        if line.target_group in ("young_adults", "seniors"):
            assert flags.filter(first["line"] == i)[line.target_group].all(), (i, line)
