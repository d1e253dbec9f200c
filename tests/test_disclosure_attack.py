"""Attack published releases with linear programming: no withheld count may be pinned down.

The attacker sees every table of a release (and of earlier releases of the
same register, through the ledger), knows the identities that tie the tables
together, and solves min / max of each withheld count over every non-negative
cell vector consistent with all of it (scipy's HiGHS). A count is disclosed
when max − min ≤ 2 (known exactly or to within ±1).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import sparse

from flyttkedja import store
from flyttkedja.analysis import Report
from flyttkedja.analysis.disclosure import Model, Rules, attack, protect
from flyttkedja.analysis.release import MOVE_ENDS
from naive_analysis import random_chainset

import flyttkedja

BY = [("tenure",), ("rooms",), ("tenure", "rooms"), (), ("municipality",), ("tenure", "municipality")]


def attacker_widths(report: Report) -> tuple[np.ndarray, np.ndarray]:
    """Integer widths of the attacker's intervals for every withheld count (and the true counts)."""
    st_ = report.state
    published = st_.published()
    nonempty = np.diff(st_.model.A.indptr) > 0  # a count of no cell at all is a structural zero
    targets = np.flatnonzero(~published & nonempty)
    low, high = attack(st_.model, ~published, targets, enough=3)  # width ≥ 3 is all we ask
    width = np.floor(high[targets] + 1e-6) - np.ceil(low[targets] - 1e-6)
    return width, np.rint(st_.model.values[targets])


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(6, 14), by=st.sampled_from(BY))
def test_attack_on_one_release_recovers_nothing(seed, n, by):
    cs, areas = random_chainset(seed, n_chains=n, max_length=3)
    report = Report(cs, areas=areas, by=by, ci=False)
    assert report.checking["identities_not_holding"] == []
    width, truth = attacker_widths(report)
    assert (width >= 3).all(), f"{int((width < 3).sum())} withheld counts pinned down (true {truth[width < 3]})"


# one example per run: the sequence of test_attack_on_both_conventions_and_a_later_release_recovers_nothing
# below is a second one (both conventions, then tenure × rooms)
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(6, 14),
       sequence=st.permutations(BY[:3]).map(lambda s: s[:2]))
def test_attack_on_a_sequence_of_releases_recovers_nothing(tmp_path_factory, seed, n, sequence):
    cs, areas = random_chainset(seed, n_chains=n, max_length=3)
    ledger = store.ledger_file(tmp_path_factory.mktemp("ledger") / "report")
    for i, by in enumerate(sequence):
        report = Report(cs, areas=areas, by=by, ci=False, ledger=ledger)
        report.record(f"release{i}")
    assert report.checking["earlier_releases"] == len(sequence) - 1
    assert report.checking["unprotectable"] == 0
    width, truth = attacker_widths(report)
    assert (width >= 3).all(), f"{int((width < 3).sum())} withheld counts pinned down (true {truth[width < 3]})"


def couples_register(seed: int, n_chains: int, *, tables: bool = False):
    """Paths and trees of one small register where some fillers' partners move in with them the same
    day, leaving a dwelling of their own (so the conventions differ): ((paths, trees), areas); with
    ``tables``, the register itself: (moves, dwellings, areas) as Arrow tables."""
    cs, areas = random_chainset(seed, n_chains=n_chains, max_length=3)
    rng = np.random.default_rng(seed)
    mv, dw = pl.from_arrow(cs._moves), pl.from_arrow(cs._dwellings)
    hosts = mv.filter(pl.col("fills") & pl.col("from_dwelling").is_not_null())
    hosts = hosts[np.flatnonzero(rng.random(hosts.height) < 0.4)]
    new_ids = np.arange(hosts.height) + int(dw["dwelling_id"].max()) + 1
    left = dw.filter(pl.col("completed").is_null()).sample(hosts.height, with_replacement=True, seed=seed)
    dw = pl.concat([dw, left.with_columns(dwelling_id=pl.Series(new_ids, dtype=dw.schema["dwelling_id"]),
                                          building_id=pl.Series(new_ids + 50_000, dtype=dw.schema["building_id"]))])
    ids = lambda n, start: pl.Series(np.arange(n) + start, dtype=mv.schema["household_id"])  # noqa: E731
    partners = hosts.with_columns(household_id=ids(hosts.height, 900_000),
                                  from_dwelling=pl.Series(new_ids, dtype=mv.schema["from_dwelling"]),
                                  vacates=pl.lit(True), fills=pl.lit(False))
    again = rng.random(hosts.height) < 0.5  # some partners' dwellings are filled again, by a new household
    refills = hosts.filter(pl.Series(again)).with_columns(
        household_id=ids(int(again.sum()), 950_000), move_date=pl.col("move_date") + pl.duration(days=10),
        from_dwelling=pl.lit(None, mv.schema["from_dwelling"]), origin=pl.lit("new_household"),
        to_dwelling=pl.Series(new_ids[again], dtype=mv.schema["to_dwelling"]), vacates=pl.lit(False),
        fills=pl.lit(True))
    mv = pl.concat([mv, partners, refills]).sort("move_date")
    if tables:
        return mv.to_arrow(), dw.to_arrow(), areas
    return [flyttkedja.trace(mv.to_arrow(), dw.to_arrow(), window=("2020-01-01", "2022-12-31"), convention=c)
            for c in ("path", "tree")], areas


# one example per run (a release of both conventions and a later one: the slowest attack here)
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(6, 8), primary=st.sampled_from(["path", "tree"]),
       by=st.sampled_from(BY[:2]))
def test_attack_on_both_conventions_and_a_later_release_recovers_nothing(tmp_path_factory, seed, n, primary, by):
    """One release shows both conventions' tables (differences between them included); a later report
    of the same register (one convention only, by tenure × rooms) is protected against it through the ledger."""
    later = ("tenure", "rooms")
    (paths, trees), areas = couples_register(seed, n)
    cs = paths if primary == "path" else trees
    ledger = store.ledger_file(tmp_path_factory.mktemp("ledger") / "report")
    both = Report(cs, areas=areas, by=by, ci=False, both_conventions=True, ledger=ledger)
    assert both.alongside.convention != primary and set(both.alongside.tables) <= set(both.tables)
    assert both.checking["identities_not_holding"] == [] and both.checking["unprotectable"] == 0
    assert set(both.checking["tables"]) == {*both.tables, *(f"{both.alongside.convention}_{t}"
                                                           for t in both.alongside.tables)}
    width, truth = attacker_widths(both)
    assert (width >= 3).all(), f"{int((width < 3).sum())} withheld counts pinned down (true {truth[width < 3]})"
    both.record("both")
    # the later report is of the other convention: one ledger serves both (the fingerprint is the seeds'),
    # and the earlier release's own tables are read as its convention's (it retraces that one)
    again = Report(trees if primary == "path" else paths, areas=areas, by=later, ci=False, ledger=ledger)
    assert again.checking["earlier_releases"] == 1 and again.checking["unprotectable"] == 0
    width, truth = attacker_widths(again)
    assert (width >= 3).all(), f"{int((width < 3).sum())} withheld counts pinned down (true {truth[width < 3]})"


def test_one_ledger_serves_both_conventions_and_old_ledgers_are_read(tmp_path):
    from flyttkedja.analysis.release import Ledger, legacy_fingerprint, register_fingerprint

    (paths, trees), areas = couples_register(0, 6)
    assert not paths.chains["length"].equals(trees.chains["length"])  # the conventions differ here
    assert register_fingerprint(paths) == register_fingerprint(trees)
    ledger = store.ledger_file(tmp_path / "report")
    Report(paths, areas=areas, by="tenure", ci=False, ledger=ledger).record("paths")
    # a tree report reads the path release's unprefixed tables as the path's (it retraces them): read as
    # its own convention's, their recorded counts would not be the recomputed ones (117 flows rows, not 126)
    later = Report(trees, areas=areas, by="tenure", ci=False, ledger=ledger)
    assert later.checking["earlier_releases"] == 1 and later.checking["unprotectable"] == 0
    assert later.state.model.fixed.sum() > 0  # the path release's published counts are in the model
    old = Ledger(ledger, legacy_fingerprint(paths))  # written by an earlier version, for paths
    old.check_register(register_fingerprint(paths), legacy_fingerprint(paths))
    with pytest.raises(ValueError, match="earlier flyttkedja serves only the chain convention that wrote it"):
        old.check_register(register_fingerprint(trees), legacy_fingerprint(trees))


def test_same_count_is_treated_the_same_in_every_table():
    cs, areas = random_chainset(11, n_chains=30, max_length=3)
    r = Report(cs, areas=areas, by=("tenure",), ci=False)
    # chains per seed group: n_base of every table; withheld in one, withheld in all
    bases = {}
    for name in ("length_summary", "length_distribution", "end_reasons", "flows"):
        for row in r[name].select(*r.by, "n_base").unique().iter_rows():
            bases.setdefault(row[:-1], set()).add(row[-1])
    assert all(len(v) == 1 for v in bases.values()), bases
    ends = r["end_reasons"].filter(pl.col("tenure") == "all")
    dist = r["length_distribution"].filter(pl.col("tenure") == "all")
    assert ends["n_base"][0] == dist["n_base"][0]


def test_single_withheld_count_among_zeros_is_not_left_alone():
    # group of 3 chains, all ending the same way: "..", 0, 0, 0 would tell every chain's end
    model = Model(sparse.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1.0]])), np.array([3, 0, 0.0]))
    p = protect(model, Rules())
    assert p.suppressed[:3].all() and p.zeros[1:3].all()


def test_issue_hand_attack_censored_from_chains_unfilled_and_no_dwelling():
    """censored = chains − unfilled − cycle − no_dwelling origins follows from the model (the issue's case)."""
    cs, areas = random_chainset(5, n_chains=40, max_length=3)
    r = Report(cs, areas=areas, by=("tenure",), ci=False)
    m, st_ = r.state.model, r.state
    rows = {}
    for name, f in r.tables.items():
        sl = slice(*[sum(g.height for g in list(r.tables.values())[:k]) for k in
                     (list(r.tables).index(name), list(r.tables).index(name) + 1)])
        rows[name] = (f, st_.num[sl], st_.den[sl])
    f, num, den = rows["end_reasons"]
    i = f.with_row_index().filter(pl.col("tenure") == "rental")
    item = {e: num[k] for k, e in zip(i["index"], i["end_reason"])}
    f, num, _ = rows["segregation"]
    j = f.with_row_index().filter((pl.col("tenure") == "rental") & (pl.col("origin") == "no_dwelling")
                                  & (pl.col("destination") == "all") & (pl.col("statistic") == "per_100"))
    A = m.A.toarray()
    combo = A[den[i["index"][0]]] - A[num[j["index"][0]]] - sum(A[item[e]] for e in item if e not in
                                                                ("censored", *MOVE_ENDS))
    target = A[item["censored"]] if "censored" in item else np.zeros(A.shape[1])
    # equal modulo the identities E: the residual lies in E's row space
    E = m.E.toarray()
    coef, *_ = np.linalg.lstsq(E.T, combo - target, rcond=None)
    assert np.allclose(E.T @ coef, combo - target, atol=1e-8)


@pytest.mark.parametrize("by", ["seed_dwelling", "chain_id", "building_id", "area_id"])
def test_identifying_by_refused(by):
    cs, areas = random_chainset(2, n_chains=12)
    with pytest.raises(ValueError, match=f"by={by}: an identifier"):
        Report(cs, areas=areas, by=[by], ci=False)


def test_near_unique_by_refused():
    cs, areas = random_chainset(2, n_chains=20)
    cs = dataclasses.replace(cs, chains=cs.chains.with_columns(code=pl.col("chain_id").cast(pl.String) + "x"))
    with pytest.raises(ValueError, match="near unique"):
        Report(cs, areas=areas, by=["code"], ci=False)


def test_threshold_below_five_needs_unsafe():
    cs, areas = random_chainset(2, n_chains=12)
    with pytest.raises(ValueError, match="below SCB's 5"):
        Report(cs, areas=areas, threshold=1, ci=False)
    r = Report(cs, areas=areas, threshold=1, unsafe=True, ci=False)
    assert r.checking["rules"]["unsafe"] is True


def test_sacro_rules_threshold_ten():
    cs, areas = random_chainset(4, n_chains=40)
    r = Report(cs, areas=areas, rules="sacro", ci=False)
    assert r.checking["rules"]["threshold"] == 10
    for f in r.tables.values():
        n = pl.concat([f["n"], f["n_base"]]).drop_nulls()
        assert not ((n > 0) & (n < 10)).any()


def test_cell_key_secret_never_recorded(tmp_path, monkeypatch):
    cs, areas = random_chainset(2, n_chains=12)
    monkeypatch.setenv("FLYTTKEDJA_CELL_KEY", "correct horse battery staple")
    a = Report(cs, areas=areas, disclosure="cell_key", ci=False)
    b = Report(cs, areas=areas, disclosure="cell_key", ci=False, cell_key="another secret")
    a.write(tmp_path / "a")
    text = (tmp_path / "a" / store.REPORT_MANIFEST).read_text()
    assert "correct horse" not in text and "secret (not recorded)" in text
    assert not all(a[t].equals(b[t]) for t in a.tables)  # the key matters
    monkeypatch.delenv("FLYTTKEDJA_CELL_KEY")
    with pytest.warns(UserWarning, match="without a secret key"):
        Report(cs, areas=areas, disclosure="cell_key", ci=False)


def test_output_check_written_with_every_report(tmp_path):
    cs, areas = random_chainset(3, n_chains=25)
    r = Report(cs, areas=areas, ci=False)
    r.write(tmp_path / "rep")
    import json

    check = json.loads(store.report_file(tmp_path / "rep", "check_json").read_text())
    assert set(check["tables"]) == set(r.tables)
    for name, t in check["tables"].items():
        assert {"rows", "primary", "secondary", "smallest_published_count", "items"} <= set(t)
        assert t["smallest_published_count"] is None or t["smallest_published_count"] >= 5
    text = store.report_file(tmp_path / "rep", "check_text").read_text()
    assert "Rule set scb" in text and "identities" in text.lower()


def test_model_threshold_below_five_needs_unsafe():
    from flyttkedja.scenario.config import ScenarioError, _model

    with pytest.raises(ScenarioError, match="below SCB's 5"):
        _model({"threshold": 1})
    assert _model({"threshold": 1, "unsafe_threshold": True}).threshold == 1


def test_cli_report_refuses_ids_and_low_thresholds(tmp_path):
    from click.testing import CliRunner

    from flyttkedja.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["report", str(tmp_path), "--out", str(tmp_path / "r"), "--threshold", "1"])
    assert out.exit_code != 0 and "below SCB's 5" in out.output
    out = runner.invoke(main, ["report", str(tmp_path), "--out", str(tmp_path / "r"), "--by", "seed_dwelling"])
    assert out.exit_code != 0 and "--by seed_dwelling: an identifier" in out.output


def test_model_publishes_no_margin_or_complement_that_pins_a_withheld_count():
    """model.json: fills less the kept cells would give a withheld 2; first less first_group would tell
    that 2 first fillers of a cell are outside the group. Both are withheld."""
    from flyttkedja.scenario.model import TransitionModel

    S, W = 3, 3 + 8  # strata, then the end reasons
    first, later = np.zeros((S, W), np.int64), np.zeros((S, W), np.int64)
    first[0, :3] = [10, 2, 6]  # stratum 0: a cell of 2 withheld, so fills − kept = 2
    first[1, :3] = [10, 6, 7]  # stratum 1: nothing withheld
    later[1, :3] = [3, 3, 5]   # withheld 3 + 3 = 6 ≥ 3 over many zero cells: fills kept
    fills = (first + later)[:, :3].sum(axis=1)
    group_fills = np.c_[fills // 2]
    first_group = np.zeros((1, S, W), np.int64)
    first_group[0, 1, :3] = [8, 6, 0]  # 10 − 8 = 2 first fillers outside the group
    m = TransitionModel(("tenure",), ("a", "b", "c"), ("g",), first, later, fills, group_fills, first_group)
    d = m.disclosed()
    assert d.fills.tolist() == [0, fills[1], 0] and d.group_fills[0, 0] == 0
    assert d.published("first_group")[0, 1, 0] == 0 and d.published("first_group")[0, 1, 1] == 6  # as saved


def test_free_check_finds_a_deviation_exactly_when_the_full_lps_optimum_is_zero():
    """The pre-check of a global LP (:class:`_FreeCheck`, one model re-solved from its last basis) against
    the full LP, item after item over a protected release's withheld set: a deviation that moves no
    published item, found exactly when the cheapest deviation costs nothing."""
    from flyttkedja.analysis.disclosure import _deviation, _FreeCheck

    cs, areas = random_chainset(5, n_chains=12, max_length=3)
    state = Report(cs, areas=areas, by=("tenure",), ci=False).state
    m, suppressed = state.model, state.protection.suppressed
    cost = m.values + 1.0
    published = ~suppressed & (np.diff(m.A.indptr) > 0)
    check, found = _FreeCheck(m), 0
    for p in np.flatnonzero(suppressed & (np.diff(m.A.indptr) > 0))[:24]:
        full = _deviation(m, p, 3.0, suppressed, cost)
        free = check.deviation(p, 3.0, suppressed)
        optimum = None if full is None else float((cost * np.abs(m.A @ full))[published].sum())
        assert (free is not None) == (optimum is not None and optimum < 1e-6), (p, optimum)
        if free is not None:
            found += 1
            assert abs((m.A @ free)[p] - 3) < 1e-7 and np.abs(m.A @ free)[published].max(initial=0) < 1e-7
            assert (m.x + free >= -1e-9).all() and np.abs(m.E @ free).max(initial=0) < 1e-7
            assert (m.G @ (m.x + free) <= 1e-7).all()
    assert found > 0


def joint_attack_model(state, cs, raw, written) -> Model:
    """The attacker who holds a report and the scenario run's model.json of the same register, written
    independently of :func:`~flyttkedja.analysis.release.add_scenario_ties`: one unknown per chain cell c
    and stratum s (a new build of c's group can lie in s), and one per cell of ``first``; each of those
    is published, or written as 0 (0 to threshold − 1), and every pool of model.json sums its cells.
    ``raw``: the model before disclosure control (the true counts); ``written``: as model.json holds it."""
    from flyttkedja.scenario.model import POOL_FIELDS, stratum_expr

    n_items, n0, n_e, n_g = state.untied
    strata, keys, reasons, top = list(raw.strata), list(raw.keys), list(raw.reasons), raw.threshold - 1.0
    S = len(strata)
    fine = np.asarray(written.published("first"))
    index = {s: i for i, s in enumerate(strata)}
    labels = [index[s] for s in cs.chains.select(stratum_expr(keys)).to_series().to_list()]
    dims = list(state.chain_cell_dims.select("_cell", "_group", "length", "end_reason").iter_rows())
    groups = state.groups.to_dicts()

    def compatible(g: int, s: int) -> bool:
        for i, k in enumerate(keys):
            v = groups[g].get(k)
            if v is None or v == "missing":
                continue
            want = ("5+" if int(v) >= 5 else str(max(int(v), 1))) if k == "rooms" else v
            if strata[s].split("|")[i] != want:
                return False
        return True

    def column(length, reason):  # the first vacancy's column class: its end reason, or None (a stratum)
        return reason if length == 0 or (length == 1 and reason in MOVE_ENDS) else None

    truth = {}
    for cell, s in zip(state.chain_cells.tolist(), labels):
        truth[(cell, s)] = truth.get((cell, s), 0) + 1
    x, A_rows, E_rows, G_rows = [], [], [], []  # new unknowns' true values; rows as {column: coefficient}
    z = {}
    for c, g, _, _ in dims:
        row = {c: 1.0}
        for s in range(S):
            if compatible(g, s):
                z[(c, s)] = n0 + len(x)
                row[z[(c, s)]] = -1.0
                x.append(truth.get((c, s), 0))
        E_rows.append(row)  # a chain cell = its new builds by stratum (these registers have no other seeds)
    w = {}
    for s in range(S):
        for j in range(fine.shape[1]):
            w[(s, j)] = n0 + len(x)
            x.append(raw.first[s, j])
    unit = n0 + len(x)
    x.append(1.0)
    A_rows.append({unit: 1.0})
    for s in range(S):
        for r, reason in enumerate(reasons):
            E_rows.append({**{z[(c, s)]: 1.0 for c, g, length, rr in dims
                              if (c, s) in z and column(length, rr) == reason}, w[(s, S + r)]: -1.0})
        E_rows.append({**{z[(c, s)]: 1.0 for c, g, length, rr in dims if (c, s) in z and column(length, rr) is None},
                       **{w[(s, j)]: -1.0 for j in range(S)}})
    for (s, j), col in w.items():
        (A_rows if fine[s, j] > 0 else G_rows).append({col: 1.0} if fine[s, j] > 0 else {col: 1.0, unit: -top})
    levels, covered = written.levels(), set()
    for a, r, b, c, v in zip(*(written.pooled["first"][k].tolist() for k in POOL_FIELDS)):
        cells = [(s, j) for s in range(S) if levels[a][s] == r
                 for j in ([c] if b == 0 else [j for j in range(S) if levels[b][j] == c])
                 if fine[s, j] == 0 and (s, j) not in covered]
        covered |= set(cells)
        A_rows.append({w[cell]: 1.0 for cell in cells})  # a pool: the sum of its cells written as 0
    n = unit + 1

    def matrix(rows):
        data = [(i, c, v) for i, row in enumerate(rows) for c, v in row.items()]
        r, c, v = zip(*data) if data else ((), (), ())
        return sparse.csr_matrix((v, (r, c)), shape=(len(rows), n))

    def widen(M):
        return sparse.hstack([M[:, :n0], sparse.csr_matrix((M.shape[0], n - n0))]).tocsr()

    base = state.model
    return Model(sparse.vstack([widen(base.A[:n_items]), matrix(A_rows)]), np.r_[base.x[:n0], x],
                 sparse.vstack([widen(base.E[:n_e]), matrix(E_rows)]),
                 sparse.vstack([widen(base.G[:n_g]), matrix(G_rows)]),
                 fixed=np.r_[base.fixed[:n_items], np.ones(len(A_rows), bool)])


# the example: without the ties, 16 withheld counts of that report are known to within ±1 from model.json
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(30, 50), by=st.sampled_from([("tenure",), ("rooms",), ()]),
       keys=st.sampled_from([("tenure",), ("rooms",), ("tenure", "rooms")]))
@example(seed=0, n=40, by=("tenure",), keys=("tenure",))
def test_attack_on_a_scenario_run_and_a_later_report_recovers_nothing(tmp_path_factory, seed, n, by, keys):
    """A report after a scenario run of the same register (declared in the ledger): the attacker holds
    both, model.json's first-vacancy counts tied to the report's chains cell by cell."""
    import warnings

    from flyttkedja.analysis.release import Ledger, declare_scenario_run, model_checking, register_fingerprint
    from flyttkedja.scenario.model import estimate, load_model

    tmp_path = tmp_path_factory.mktemp("run")
    cs, areas = random_chainset(seed, n_chains=n, max_length=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sparse strata
        model = estimate(cs, keys=keys)
    model_file = model.save(tmp_path / "run" / store.MODEL_FILE)
    ledger = tmp_path / store.LEDGER_FILE
    assert declare_scenario_run(ledger, register_fingerprint(cs), "run", model_file, model_checking(model)) is None
    assert declare_scenario_run(ledger, "another register", "x", model_file,
                                model_checking(model)).endswith("not declared there")
    assert [r["name"] for r in Ledger.open(ledger).scenario_runs] == ["run"] and Ledger.open(ledger).reports == []
    r = Report(cs, areas=areas, by=by, ci=False, ledger=ledger)
    tie = r.checking["scenario_runs"]["run"]
    assert isinstance(tie, dict) and r.checking["unprotectable"] == 0, tie
    assert "Declared in the ledger: scenario run(s) run" in r.output_check() and "run: tied" in r.output_check()
    st_ = r.state
    joint = joint_attack_model(st_, cs, model, load_model(model_file))
    n_items = st_.untied[0]
    withheld = ~st_.published()[:n_items] & (np.diff(st_.model.A.indptr)[:n_items] > 0)
    suppressed = np.r_[withheld, np.zeros(joint.A.shape[0] - n_items, bool)]
    targets = np.flatnonzero(suppressed)
    low, high = attack(joint, suppressed, targets, enough=3)
    width = np.floor(high[targets] + 1e-6) - np.ceil(low[targets] - 1e-6)
    assert (width >= 3).all(), f"{int((width < 3).sum())} pinned down (true {joint.values[targets][width < 3]})"


def test_scenario_run_writes_an_output_check(small_register, tmp_path):
    """A scenario run from a register says what model.json withholds, like a report's output check, and
    is declared in the ledger beside it (one an earlier flyttkedja wrote, with the legacy hash, included)."""
    import json

    from flyttkedja.analysis.release import LEDGER_FORMAT, legacy_fingerprint, register_fingerprint
    from flyttkedja.core import trace_register
    from flyttkedja.io import write_json
    from flyttkedja.scenario import parse_scenario, run

    small_register.write(tmp_path / "register")
    chains = trace_register(tmp_path / "register", "new_builds")  # the chains the run traces
    assert legacy_fingerprint(chains) != register_fingerprint(chains)
    write_json({"format": LEDGER_FORMAT, "register": legacy_fingerprint(chains), "releases": []},
               store.ledger_file(tmp_path / "out"))
    raw = {"name": "t", "source": {"register": str(tmp_path / "register")}, "replications": 2,
           "chain_replications": 20, "model": {"bootstrap": 0}, "run": {"workers": 0},
           "programme": [{"name": "a", "line": [{"count": 20, "tenure": "rental", "rooms": 2}]}]}
    run(parse_scenario(raw), tmp_path / "out")
    check = json.loads(store.scenario_file(tmp_path / "out", "check_json").read_text())
    model = json.loads(store.scenario_file(tmp_path / "out", "model").read_text())
    assert check["withheld_counts"] + check["recounted_counts"] == model["suppressed_cells"] > 0
    for name, t in check["tables"].items():
        published = model[name.removeprefix("model.")]["value"]
        assert t["published_counts"] == len(published)
        assert t["smallest_published_count"] is None or t["smallest_published_count"] == min(published) >= 5
    assert check["comparison"]["source"].startswith("register")
    text = store.scenario_file(tmp_path / "out", "check_text").read_text()
    assert "Rule set scb" in text and "Not covered" in text and "Complements and margins" in text
    ledger = json.loads(store.ledger_file(tmp_path / "out").read_text())
    run_entry = ledger["releases"][-1]  # declared beside it, the old ledger rewritten with the current hash
    assert run_entry["kind"] == "scenario" and run_entry["name"] == "out" and check["ledger"].startswith("declared")
    assert ledger["register"] == register_fingerprint(chains)
    margins = run_entry["first_margins"]  # what a later report ties to its chains: model.json's own counts
    assert margins["strata"] == model["strata"] and margins["classes"][-1] == "vacated"
    assert sum(map(sum, margins["published"])) == sum(v for i, v in zip(model["first"]["index"], model["first"]["value"]))
