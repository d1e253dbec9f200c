"""TransitionModel.evaluate (the figures the explorer shows) and the explorer file, without a browser.

The browser side (evaluate.js equal to this on generated programmes) is tests/test_browser_explorer.py,
which imports the fixtures and the programme generator from here.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import warnings

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.analysis.labels import LANGS, label
from flyttkedja.scenario import estimate, load_model, load_scenario
from flyttkedja.scenario import evaluation
from flyttkedja.io import write_parquet
from flyttkedja.scenario.compare import ADJUSTED, COMPARISON_SCHEMA, GROSS, NET, RATIO, ROUNDS_MEASURE, expectation_rows, \
    programme_kinds, transition_rows
from flyttkedja.scenario.config import TARGET_GROUP_NAMES
from flyttkedja.scenario.evaluation import as_programme
from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, LANDLORDS, TENURES

EXAMPLE = "examples/tiny_senior_youth.toml"
NAMES = ("small flats", "50% rental", "Kustvik's seniors", 'the "big" one', "Åby ängar", "back\\slash", "x")


@pytest.fixture(scope="session")
def explorer_model(small_register):
    """A model of the tiny register with every count kept (threshold 1: synthetic data need no
    suppression, and a tiny register suppressed at 5 keeps almost nothing), cross-validated."""
    import flyttkedja

    r = small_register
    cs = flyttkedja.trace(r.moves, r.dwellings, window=r.window, max_gap_days=r.max_gap_days)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs, threshold=1, areas=r.areas)
    model.meta["cross_validation"] = {k: v for k, v in model.cross_validate(min_chains=5).items()
                                      if k != "by_municipality"}
    model.meta["displacement"] = DISPLACEMENT
    return model


#: displacement ratios as a scenario run saves them (compare.run; made up: the model only applies them)
DISPLACEMENT = [
    {"tenure": "owner", "rooms": "4", "municipality": None, "target_group": None, "ratio": 0.6, "lower": 0.4,
     "upper": 0.8, "se": 0.08, "replications": 5, "programme": "owner houses"},
    {"tenure": "rental", "rooms": "2", "municipality": "9980", "target_group": None, "ratio": 1.25, "lower": 1.1,
     "upper": 1.4, "se": 0.06, "replications": 5, "programme": "public rental"},
    {"tenure": "rental", "rooms": "2", "municipality": "9980", "target_group": "seniors", "ratio": 0.8, "lower": 0.5,
     "upper": 1.1, "se": 0.15, "replications": 5, "programme": "senior housing"},
    # not resolved: its interval includes 0, so gross × ratio is withheld (evaluation.ratio_resolved)
    {"tenure": "owner", "rooms": "2", "municipality": None, "target_group": None, "ratio": 0.3, "lower": -0.25,
     "upper": 0.85, "se": 0.13, "replications": 3, "programme": "owner flats"},
    # saved by a run before allocation was part of a kind: no target_group, read as not allocated
    {"tenure": "rental", "rooms": "1", "municipality": "9981", "ratio": 1.1, "lower": 0.9, "upper": 1.3,
     "se": 0.08, "replications": 5, "programme": "small flats"},
]


@pytest.fixture(scope="session")
def explorer_dirs(explorer_model, tmp_path_factory):
    """(saved model directory, scenario output directory with scenario.json) of :func:`explorer_model`."""
    base = tmp_path_factory.mktemp("explorer")
    saved = base / "model"
    explorer_model.save(store.scenario_file(saved, "model"))
    scen = base / "scenario"
    explorer_model.save(store.scenario_file(scen, "model"))
    store.write_scenario_manifest(scen, store.ScenarioManifest(scenario=load_scenario(EXAMPLE).to_dict()))
    write_parquet(pa.Table.from_pylist(RUN_ROWS, schema=COMPARISON_SCHEMA), store.scenario_file(scen, "comparison"))
    return saved, scen


#: the microsimulation's rows of a scenario run of EXAMPLE (the figures are made up: the page only shows them)
RUN_ROWS = [{"programme": p, "line": None, "area": "region", "method": "microsimulation", "measure": m,
             "group": None, "estimate": e, "lower": e * 0.8, "upper": e * 1.2, "n": 3, "suppressed": False}
            for p, m, e in [("senior housing", GROSS, 210.0), ("senior housing", NET, 61.0),
                            ("senior housing", RATIO, 0.29), ("youth flats", GROSS, 140.0),
                            ("youth flats", NET, 151.0), ("youth flats", RATIO, 1.08)]]


def municipalities(model) -> list[str]:
    pos = model.keys.index("municipality")
    return sorted({s.split("|")[pos] for s in model.strata} - {"-"})


def generate_programmes(model, n: int, seed: int) -> list[dict]:
    """``n`` random programmes in the scenario TOML's structure: 1–4 lines, every optional field
    sometimes given, municipalities the model has and one it has not, allocation, price levels."""
    rnd = random.Random(seed)
    munis = municipalities(model) + ["9999"]
    out = []
    for i in range(n):
        lines = []
        for _ in range(rnd.randint(1, 4)):
            tenure = rnd.choice(TENURES)
            line = {"count": rnd.choice([1, 7, 40, 100, 360, rnd.randint(1, 5000)]), "tenure": tenure,
                    "rooms": rnd.randint(1, 5)}
            if tenure == "rental" and rnd.random() < 0.6:
                line["landlord"] = rnd.choice(LANDLORDS)
            if rnd.random() < 0.3:
                line["building_type"] = rnd.choice(BUILDING_TYPES)
            if rnd.random() < 0.7:
                line["municipality"] = rnd.choice(munis)
            if rnd.random() < 0.3:
                line["area_type"] = rnd.choice(AREA_TYPES)
            if rnd.random() < 0.3:
                line["target_group"] = rnd.choice(TARGET_GROUP_NAMES)
            if rnd.random() < 0.1:
                line["level"] = rnd.choice([0.9, 1.0, 1.25])
            lines.append(line)
        out.append({"name": f"{rnd.choice(NAMES)} {i}", "line": lines})
    return out


def assert_same(a: dict, b: dict, tol: float = 1e-9) -> None:
    """Two evaluations equal: the same rows and warnings, numbers within ``tol`` (relative beyond 1)."""
    assert a["warnings"] == b["warnings"]
    assert (a["programme"], a["dwellings"], a["municipalities"]) == (b["programme"], b["dwellings"], b["municipalities"])
    assert a["model_error"] == pytest.approx(b["model_error"], rel=1e-12)
    assert [(r["line"], r["area"], r["measure"], r["group"]) for r in a["rows"]] == \
        [(r["line"], r["area"], r["measure"], r["group"]) for r in b["rows"]]
    for x, y in zip(a["rows"], b["rows"]):
        assert (x["method"], x["n"], x["suppressed"]) == (y["method"], y["n"], y["suppressed"])
        for k in ("estimate", "lower", "upper"):
            if y[k] is None:
                assert x[k] is None, (y, k)
            else:
                assert abs(x[k] - y[k]) <= tol * max(1.0, abs(y[k])), (x, y, k)


def test_evaluate_gives_the_runs_transition_model_rows(explorer_model):
    """evaluate's rows are the scenario run's transition-model rows (no bootstrap) with the delta-method
    intervals, followed by the exact distributions and net; the Monte Carlo rows are the run's only."""
    prog = load_scenario(EXAMPLE).programmes[0]
    result = explorer_model.evaluate(prog)
    sigma = explorer_model.meta["cross_validation"]["sigma"]
    assert sigma > 0
    run = [r for r in transition_rows(explorer_model, prog, bootstrap=0, reps=2, seed=1, model_error=sigma)
           if not r["measure"].startswith(("chain_length_share", f"{GROSS}_simulated"))]
    interval = ("lower", "upper")
    assert [{k: v for k, v in r.items() if k not in interval} for r in result["rows"][:len(run)]] == \
        [{k: v for k, v in r.items() if k not in interval} for r in run]
    assert run == expectation_rows(explorer_model, prog, bootstrap=0, seed=0, model_error=sigma)
    assert all(r["lower"] is not None and r["lower"] <= r["estimate"] <= r["upper"] for r in result["rows"])
    extra = {r["measure"] for r in result["rows"][len(run):] if r["method"] == evaluation.METHOD}
    assert extra == {"chain_length_share", ROUNDS_MEASURE} | {f"vacancies_area_{a}_share_by_round" for a in AREA_TYPES}
    gross = next(r for r in result["rows"] if r["measure"] == GROSS and r["area"] == "region" and r["line"] is None)
    se = evaluation.standard_errors(explorer_model, explorer_model.probabilities(), *programme_kinds(explorer_model, prog)[:2],
                                    ["9980"])[0, 0] * 100
    assert gross["upper"] - gross["estimate"] == pytest.approx(1.959963984540054 * np.hypot(se, sigma * gross["estimate"]))
    assert json.loads(json.dumps(result)) == result  # plain JSON


def test_delta_method_agrees_with_the_parametric_bootstrap(explorer_dirs):
    """The intervals' standard errors (no random draws) against the spread of the model's own parametric
    bootstrap (each count row redrawn multinomially, shrunk again): within 25% for every figure."""
    from flyttkedja.scenario.compare import _model_values, programme_municipalities

    model = load_model(explorer_dirs[0])  # counts only: the bootstrap is parametric
    for raw in ({"name": "a", "line": [{"count": 40, "tenure": "rental", "rooms": 2, "municipality": "9980"},
                                      {"count": 60, "tenure": "owner", "rooms": 4}]},
                {"name": "b", "line": [{"count": 10, "tenure": "cooperative", "rooms": 3}]}):
        prog = as_programme(raw)
        kinds, counts, _ = programme_kinds(model, prog)
        munis = programme_municipalities(prog)
        se = evaluation.standard_errors(model, model.probabilities(), kinds, counts, munis)
        boot = model.bootstrap(lambda p: _model_values(model, kinds, counts, munis, p), 300, 1)
        sd = boot.std(axis=0)
        ok = np.isfinite(se) & (sd > 1e-3 * np.nanmax(sd))
        assert ok.sum() > 20
        assert np.all(np.abs(se[ok] / sd[ok] - 1) < 0.25), np.round(se[ok] / sd[ok], 2)


def test_vacated_income_counts_the_tables_rounds(small_register, explorer_model):
    """Summed over strata, the model's vacated dwellings in below-median-income areas and all vacated
    dwellings are the tables' rounds (all seeds, every step): one definition."""
    import flyttkedja
    import polars as pl
    from flyttkedja.analysis import rounds

    r = small_register
    cs = flyttkedja.trace(r.moves, r.dwellings, window=r.window, max_gap_days=r.max_gap_days)
    assert int(cs.chains["length"].max()) <= 50
    t = rounds(cs, areas=r.areas, ci=False, disclosure=None, rounds=50).filter(
        (pl.col("statistic") == "share") & (pl.col("area_class") == "below_median") & (pl.col("tenure") == "all"))
    below, other = explorer_model.vacated_income.sum(axis=0)
    assert (below, below + other) == (t["n"].sum(), t["n_base"].sum()) and below > 0


def test_rounds_into_below_median_areas(explorer_model, explorer_dirs, tmp_path):
    """Round k's share is the vacated dwellings' below-median share, stratum by stratum; saved and loaded
    the counts stay; a model estimated without areas says it has no rounds."""
    prog = {"name": "r", "line": [{"count": 50, "tenure": "rental", "rooms": 2}]}
    rows = [r for r in explorer_model.evaluate(prog)["rows"] if r["measure"] == ROUNDS_MEASURE]
    assert [r["group"] for r in rows] == [str(k) for k in range(1, evaluation.ROUNDS + 1)]
    pr = explorer_model.probabilities()
    kinds, _, _ = programme_kinds(explorer_model, as_programme(prog))
    vac = evaluation.round_vacancies(explorer_model, pr, *kinds[0])
    assert [r["estimate"] for r in rows] == pytest.approx(list(vac @ pr.B / vac.sum(axis=1)), rel=1e-12)
    assert all(0 <= r["lower"] <= r["estimate"] <= r["upper"] <= 1 for r in rows)
    loaded = load_model(explorer_dirs[0])
    assert np.array_equal(loaded.vacated_income, explorer_model.vacated_income)
    assert np.array_equal(explorer_model.vacated_income.sum(axis=1), explorer_model.later.sum(axis=1))
    threshold = 3  # the tiny register keeps few rows whole: at 5 it may keep none, and the check below says nothing
    explorer_model.threshold = threshold
    try:
        disclosed = explorer_model.disclosed()
    finally:
        explorer_model.threshold = 1
    vi = disclosed.vacated_income
    kept = vi.sum(axis=1) > 0
    assert kept.any() and not np.any((vi[kept] > 0) & (vi[kept] < threshold))  # a row is kept whole or not at all
    # counted over the later cells disclosure control keeps: no margin of a withheld cell is published
    assert np.array_equal(vi.sum(axis=1)[kept], disclosed.published("later").sum(axis=1)[kept])
    assert (disclosed.later.sum(axis=1) < explorer_model.later.sum(axis=1)).any()
    without = dataclasses.replace(explorer_model, vacated_income=None)
    res = without.evaluate(prog)
    assert not any(r["measure"] == ROUNDS_MEASURE for r in res["rows"])
    assert "no rounds into below-median-income areas" in res["warnings"][-1]


def test_net_for_lines_of_a_kind_the_model_carries(explorer_model):
    """net = gross × the saved displacement ratio, per line of a kind the run measured, and per programme
    only when every line has one; the other lines say plainly that they have no net."""
    both = {"name": "n", "line": [{"count": 30, "tenure": "owner", "rooms": 4},
                                  {"count": 10, "tenure": "rental", "rooms": 2, "municipality": "9980"}]}
    res = explorer_model.evaluate(both)
    net = {r["line"]: r for r in res["rows"] if r["measure"] == ADJUSTED}
    gross = {r["line"]: r for r in res["rows"] if r["measure"] == GROSS and r["area"] == "region"}
    assert set(net) == {None, "1", "2"} and all(r["method"] == evaluation.NET_METHOD for r in net.values())
    assert net["1"]["estimate"] == pytest.approx(gross["1"]["estimate"] * 0.6)
    assert net["2"]["estimate"] == pytest.approx(gross["2"]["estimate"] * 1.25)
    assert net[None]["estimate"] == pytest.approx(0.75 * net["1"]["estimate"] + 0.25 * net["2"]["estimate"])
    assert net["1"]["lower"] < net["1"]["estimate"] < net["1"]["upper"]
    assert not any("displacement" in w for w in res["warnings"])
    for lang in LANGS:  # the run's net and this estimate of it: two names that do not even begin alike
        assert label(NET, lang).split()[0] != label(ADJUSTED, lang).split()[0]
    mixed = {"name": "m", "line": [*both["line"], {"count": 5, "tenure": "cooperative", "rooms": 3}]}
    res = explorer_model.evaluate(mixed)
    assert {r["line"] for r in res["rows"] if r["measure"] == ADJUSTED} == {"1", "2"}  # no programme net
    assert res["warnings"][-1] == ("programme 'm' line 3: the model carries no displacement ratio for cooperative, "
                                   "3 rooms, no municipality, not allocated: its displacement-adjusted gross is not shown")
    unresolved = {"name": "u", "line": [*both["line"], {"count": 5, "tenure": "owner", "rooms": 2}]}
    res = explorer_model.evaluate(unresolved)  # the ratio row is kept, gross × ratio withheld, and why is said
    assert {r["line"] for r in res["rows"] if r["measure"] == ADJUSTED} == {"1", "2"}
    assert [r["lower"] for r in res["rows"] if r["measure"] == RATIO and r["line"] == "3"] == [-0.25]
    assert res["warnings"][-1] == ("programme 'u' line 3: the displacement ratio of its kind is not resolved (its "
                                   "95% interval includes 0 after 3 replications): its displacement-adjusted gross "
                                   "is not shown")
    no_ratios = dataclasses.replace(explorer_model, meta={k: v for k, v in explorer_model.meta.items()
                                                          if k != "displacement"})
    res = no_ratios.evaluate(both)
    assert not any(r["measure"] == ADJUSTED for r in res["rows"])
    assert sum("no displacement ratios" in w for w in res["warnings"]) == 1


def test_the_run_saves_displacement_by_line_kind():
    from flyttkedja.scenario.compare import _row

    progs = [as_programme({"name": n, "line": lines}) for n, lines in [
        ("a", [{"count": 10, "tenure": "owner", "rooms": 4}, {"count": 5, "tenure": "owner", "rooms": 4}]),
        ("b", [{"count": 10, "tenure": "owner", "rooms": 4}, {"count": 5, "tenure": "rental", "rooms": 2}]),
        ("c", [{"count": 10, "tenure": "rental", "rooms": 5, "municipality": "9981"}])]]
    rows = [_row(p, "microsimulation", RATIO, None, e, e - 0.2, e + 0.2, n=5) for p, e in (("a", 0.5), ("b", 0.9), ("c", 1.2))]
    saved = evaluation.displacement_by_kind(progs, rows)
    assert [(d["tenure"], d["rooms"], d["municipality"], d["target_group"], d["ratio"], d["programme"])
            for d in saved] == [("owner", "4", None, None, 0.5, "a"), ("rental", "5+", "9981", None, 1.2, "c")]  # b: a mix
    assert saved[0]["se"] == pytest.approx(0.2 / 2.776)


def test_saved_model_and_scenario_output_load_alike(explorer_model, explorer_dirs, tmp_path):
    saved, scen = explorer_dirs
    prog = {"name": "a", "line": [{"count": 40, "tenure": "rental", "rooms": 2, "municipality": "9980"}]}
    fresh = explorer_model.evaluate(prog)
    assert_same(load_model(saved).evaluate(prog), fresh, 1e-12)
    assert_same(load_model(scen).evaluate(prog), fresh, 1e-12)
    assert_same(load_model(store.scenario_file(saved, "model")).evaluate(prog), fresh, 1e-12)
    with pytest.raises(FileNotFoundError, match=store.MODEL_FILE):
        load_model(tmp_path)


def test_distributions_are_exact(explorer_model, monkeypatch):
    """The length distribution sums to 1 and (with enough bins) has the expected length as its mean;
    each round's area-type shares sum to 1."""
    monkeypatch.setattr(evaluation, "LENGTH_BINS", 400)
    for prog in generate_programmes(explorer_model, 10, seed=5):
        rows = explorer_model.evaluate(prog)["rows"]
        mean = next(r["estimate"] for r in rows if r["measure"] == "chain_length_mean")
        hist = [r["estimate"] for r in rows if r["measure"] == "chain_length_share"]
        assert sum(hist) == pytest.approx(1.0, abs=1e-12)
        assert sum(k * h for k, h in enumerate(hist)) == pytest.approx(mean, rel=1e-9)
        for k in range(1, evaluation.ROUNDS + 1):
            shares = [r["estimate"] for r in rows if r["measure"].startswith("vacancies_area_")
                      and r["measure"].endswith("_share_by_round") and r["group"] == str(k)]
            assert len(shares) == len(AREA_TYPES) and sum(shares) == pytest.approx(1.0, abs=1e-12)


def test_length_distribution_agrees_with_monte_carlo(explorer_model):
    """The exact shares against the model's own Monte Carlo chains (20 000 of them)."""
    prog = as_programme({"name": "a", "line": [{"count": 100, "tenure": "owner", "rooms": 4}]})
    from flyttkedja.scenario.compare import programme_kinds

    kinds, counts, _ = programme_kinds(explorer_model, prog)
    sim = explorer_model.simulate(kinds, counts, 200, 3)
    mc = sim["hist"].sum(axis=0) / sim["hist"].sum()
    exact = [r["estimate"] for r in explorer_model.evaluate(prog)["rows"] if r["measure"] == "chain_length_share"]
    se = np.sqrt(np.maximum(np.array(exact) * (1 - np.array(exact)), 1e-6) / 20_000)
    assert np.all(np.abs(mc - exact) < 5 * se)


def test_warnings_name_what_the_model_cannot_use(explorer_model):
    prog = {"name": "w", "line": [{"count": 10, "tenure": "owner", "rooms": 4, "building_type": "small_house",
                                   "level": 1.2, "municipality": "9999"}]}
    text = " | ".join(explorer_model.evaluate(prog)["warnings"])
    assert "ignores building_type, level" in text
    assert "no observed stratum with its municipality" in text


def test_bad_programme_names_the_field(explorer_model):
    from flyttkedja.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"programme\[0\]\.line\[0\]\.tenure: 'hyresrätt' is not one of"):
        explorer_model.evaluate({"name": "a", "line": [{"count": 1, "tenure": "hyresrätt", "rooms": 2}]})


def test_explorer_file_is_self_contained_and_reproducible(explorer_dirs, tmp_path):
    from flyttkedja.cli import main
    from flyttkedja.explorer import explorer_data, explorer_html

    saved, scen = explorer_dirs
    a, b = explorer_html(scen), explorer_html(scen)
    assert a == b
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", a)
    data = explorer_data(scen)
    assert [p["name"] for p in data["programmes"]] == [p.name for p in load_scenario(EXAMPLE).programmes]
    assert data["programmes"][0]["line"][0] == {"count": 40, "tenure": "rental", "landlord": "public", "rooms": 2,
                                                "municipality": "9980", "target_group": "seniors"}
    assert data["model"] == json.loads(store.scenario_file(scen, "model").read_text())
    runs = [{r["measure"]: r["estimate"] for r in run} for run in data["runs"]]
    assert runs == [{GROSS: 210.0, NET: 61.0, RATIO: 0.29}, {GROSS: 140.0, NET: 151.0, RATIO: 1.08}]
    out = tmp_path / "explorer.html"
    runner = CliRunner()
    res = runner.invoke(main, ["explore", str(saved), "--out", str(out), "--lang", "sv"])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith('<!DOCTYPE html>\n<html lang="sv">')
    res = runner.invoke(main, ["explore", str(saved), "--out", str(out)])
    assert res.exit_code != 0 and "--overwrite" in res.output
    assert runner.invoke(main, ["explore", str(saved), "--out", str(out), "--overwrite"]).exit_code == 0


def test_a_suppressed_model_says_how_much_it_kept(explorer_model, tmp_path):
    """Saved at the default threshold, the tiny register's fine model keeps few records; evaluate says so."""
    explorer_model.threshold = 5
    try:
        explorer_model.save(store.scenario_file(tmp_path, "model"))
    finally:
        explorer_model.threshold = 1
    model = load_model(tmp_path)
    first = model.evaluate({"name": "a", "line": [{"count": 10, "tenure": "rental", "rooms": 2}]})["warnings"][0]
    kept = model.vacancy_records()
    assert first.startswith(f"disclosure control withheld {model.suppressed_cells} cells")
    assert f"keeps {kept} vacancy records" in first and "records" not in model.meta  # the total is not published
    assert model.suppressed_cells > 0 and kept < explorer_model.meta["records"]
