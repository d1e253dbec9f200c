"""The explorer in a real browser: headless Chromium (Debian's package) through selenium, network off.

Opens explorer.html from disk with the network emulated offline and every request logged:
no console errors, no request but the file, every chart drawn; ``window.flyttkedja.evaluate``
equal to :meth:`TransitionModel.evaluate` on 240 generated programmes (four page calls), every
figure with its interval, net and rounds into below-median-income areas included; a line
added through the page's controls changes the figure shown to Python's value; the TOML the
page saves is what ``flyttkedja scenario run`` reads. The model is the tiny preset's
(tests/test_explorer.py), so the whole module takes seconds.

Anyone who changes how the transition model evaluates a programme runs this test.
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import pytest
from test_browser_report import _not_blank, browser, requested, small_report  # noqa: F401  (the offline Chromium, one report)
from test_explorer import EXAMPLE, assert_same, explorer_dirs, explorer_model, generate_programmes  # noqa: F401

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from flyttkedja import store  # noqa: E402
from flyttkedja.explorer import explorer_data, write_explorer  # noqa: E402
from flyttkedja.scenario import evaluation, load_model, parse_scenario  # noqa: E402
from flyttkedja.scenario.compare import ADJUSTED, RATIO, ROUNDS_MEASURE, programme_kinds  # noqa: E402
from flyttkedja.scenario.evaluation import as_programme  # noqa: E402

CHARTS = ("gross", "vacancies", "reached", "length", "rounds", "rounds_area")


def _open(driver, path: Path) -> tuple[list[str], list[dict]]:
    """Load ``path``, wait until the explorer has drawn (or failed); the URLs requested and SEVERE console lines."""
    driver.get_log("performance"), driver.get_log("browser")
    driver.get(path.as_uri())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not driver.execute_script("return document.documentElement.dataset.explorer"):
        time.sleep(0.1)
    return requested(driver), [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def page(browser, explorer_dirs, tmp_path_factory):  # noqa: F811
    _, scen = explorer_dirs
    path = write_explorer(scen, tmp_path_factory.mktemp("explorer") / "explorer.html")
    urls, errors = _open(browser, path)
    return path, urls, errors


def _wait_drawn(driver):
    driver.execute_async_script("window.flyttkedja.ready.then(() => arguments[0]())")
    driver.execute_async_script("const done = arguments[0]; window.flyttkedja.render().then(() => done())")


def test_explorer_offline_in_chromium(browser, page):  # noqa: F811
    path, urls, errors = page
    assert browser.execute_script("return document.documentElement.dataset.explorer") == "ready"
    assert errors == []
    assert urls and set(urls) == {path.as_uri()}
    charts = browser.find_elements(By.CSS_SELECTOR, "div.xchart")
    assert [c.get_attribute("data-chart") for c in charts] == list(CHARTS)
    for chart in charts:
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        marks = chart.find_elements(By.CSS_SELECTOR, "g.point path, g.trace path.js-line")
        assert any(m.size["width"] > 0 and m.size["height"] > 0 for m in marks), chart.get_attribute("data-chart")
        assert _not_blank(chart.screenshot_as_png)
    heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#figures th")][1:]
    assert heads == ["senior housing", "youth flats"]  # the scenario's programmes start the page
    # the run's net figures, for the programmes as run
    assert browser.find_element(By.ID, "run-1-moves_net_per_100_new").text == "151 (121–181)"
    assert browser.find_element(By.ID, "run-0-displacement_ratio").text == "0.29 (0.23–0.35)"


def test_browser_evaluate_equals_python(browser, page, explorer_dirs):  # noqa: F811
    """240 generated programmes, evaluated in four page calls, equal to Python's evaluation to 1e-9."""
    _, scen = explorer_dirs
    model = load_model(scen)
    programmes = generate_programmes(model, 240, seed=16)
    js = []  # in four page calls: one call of all would meet selenium's script timeout on a loaded machine
    for part in range(0, len(programmes), 60):
        js += browser.execute_script("return window.flyttkedja.evaluateMany(arguments[0])", programmes[part:part + 60])
    assert len(js) == len(programmes)
    kinds, measures = set(), set()
    for prog, got in zip(programmes, js):
        want = model.evaluate(prog)
        assert_same(got, want)
        kinds |= {k for w in want["warnings"] for k in ("ignores", "no observed stratum", "fewer than",
                                                         "no displacement ratio for", "not resolved") if k in w}
        measures |= {(r["method"], r["measure"], r["line"] is None) for r in want["rows"]}
        assert all(r["lower"] is not None for r in want["rows"])  # every figure with its interval, compared
    assert kinds == {"ignores", "no observed stratum", "fewer than", "no displacement ratio for", "not resolved"}
    pools = {k[2] for prog in programmes for k in programme_kinds(model, as_programme(prog))[0]}
    assert len(pools - {1.0}) > 10  # lines with a new-household pool, compared
    # every new figure compared: rounds into below-median-income areas, net and ratio per line and programme
    assert {(evaluation.METHOD, ROUNDS_MEASURE, True), (evaluation.NET_METHOD, ADJUSTED, True),
            (evaluation.NET_METHOD, ADJUSTED, False), (evaluation.NET_METHOD, RATIO, False)} <= measures


def test_browser_evaluate_equals_python_on_a_suppressed_model(browser, page, explorer_model, tmp_path):  # noqa: F811
    """The same on the model saved at threshold 5: most rows fall back to coarser strata or to the pooled
    end distribution (model._close), and evaluate warns how much was withheld."""
    explorer_model.threshold = 5
    try:
        explorer_model.save(store.scenario_file(tmp_path, "model"))
    finally:
        explorer_model.threshold = 1
    record = json.loads(store.scenario_file(tmp_path, "model").read_text())
    model = load_model(tmp_path)
    programmes = generate_programmes(model, 60, seed=7)
    constants = explorer_data(tmp_path)["constants"]
    js = browser.execute_script("const m = new window.FlyttkedjaModel(arguments[0], arguments[1]);"
                                "return arguments[2].map((p) => m.evaluate(p));", record, constants, programmes)
    for prog, got in zip(programmes, js):
        want = model.evaluate(prog)
        assert want["warnings"][0].startswith("disclosure control withheld")
        assert_same(got, want)
    # a model.json saved before the new-household pool (no vacancy_flow): every line without it, alike
    del record["vacancy_flow"]
    old = tmp_path / "old"
    store.scenario_file(old, "model").parent.mkdir(parents=True, exist_ok=True)
    store.scenario_file(old, "model").write_text(json.dumps(record))
    old_model = load_model(old)
    js = browser.execute_script("const m = new window.FlyttkedjaModel(arguments[0], arguments[1]);"
                                "return arguments[2].map((p) => m.evaluate(p));", record, constants, programmes[:20])
    for prog, got in zip(programmes[:20], js):
        want = old_model.evaluate(prog)
        assert any("carries no vacancy flow by kind" in w for w in want["warnings"])
        assert_same(got, want)

def test_line_added_through_the_controls(browser, page, explorer_dirs):  # noqa: F811
    """Add a line to the first programme with the page's buttons and menus; the gross figure shown is
    Python's for the programme with that line."""
    _, scen = explorer_dirs
    _wait_drawn(browser)  # the page as it opened: the scenario's programmes (earlier tests change nothing)
    cell = lambda: browser.find_element(By.ID, "fig-0-moves_gross_per_100_new-region")  # noqa: E731
    before = float(cell().get_attribute("data-value"))
    browser.find_element(By.ID, "p0-add-line").click()
    count = browser.find_element(By.ID, "p0-l1-count")
    browser.execute_script("arguments[0].select()", count)  # as a double click would
    count.send_keys("60", Keys.TAB)  # typed, then leaving the field fires its change
    Select(browser.find_element(By.ID, "p0-l1-tenure")).select_by_value("owner")
    Select(browser.find_element(By.ID, "p0-l1-rooms")).select_by_value("4")
    Select(browser.find_element(By.ID, "p0-l1-target_group")).select_by_value("")
    _wait_drawn(browser)
    shown = float(cell().get_attribute("data-value"))
    expected_prog = {"name": "senior housing", "line": [
        {"count": 40, "tenure": "rental", "landlord": "public", "rooms": 2, "municipality": "9980",
         "target_group": "seniors"},
        {"count": 60, "tenure": "owner", "rooms": 4, "municipality": "9980"}]}
    rows = load_model(scen).evaluate(expected_prog)["rows"]
    gross = {r["line"]: r["estimate"] for r in rows if r["measure"] == "moves_gross_per_100_new" and r["area"] == "region"}
    want = gross[None]
    line = float(browser.find_element(By.ID, "line-0-1-gross").get_attribute("data-value"))
    assert line == pytest.approx(gross["2"], rel=1e-9)  # the new line's own chains
    assert shown == pytest.approx(want, rel=1e-9) and shown != pytest.approx(before, rel=1e-6)
    assert cell().text.startswith(f"{want:,.0f}")
    assert browser.find_element(By.ID, "run-0-moves_net_per_100_new").text == "changed since the run"
    # net: the first line's kind (rental, 2 rooms, 9980) has a displacement ratio, the new one has none
    net = {r["line"]: r for r in rows if r["measure"] == ADJUSTED}
    assert set(net) == {"1"}
    first = browser.find_element(By.ID, "line-0-0-net")
    assert float(first.get_attribute("data-value")) == pytest.approx(net["1"]["estimate"], rel=1e-9)
    assert first.get_attribute("textContent") == f"{net['1']['estimate']:,.0f} ({net['1']['lower']:,.0f}–{net['1']['upper']:,.0f})"
    assert browser.find_element(By.ID, "line-0-1-net").get_attribute("textContent") == "no ratio for this kind"
    assert browser.find_element(By.ID, "fig-0-moves_adjusted_per_100_new-region").text == "no ratio for a line's kind"
    drawn = browser.execute_script("return document.getElementById('xchart-gross').data[0].y[0]")
    assert drawn == pytest.approx(want, rel=1e-9)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_saved_toml_is_what_scenario_run_reads(browser, page):  # noqa: F811
    """The page's TOML parses (tomllib) into a valid scenario with the page's programmes; the page reads
    the example scenario file as tomllib does."""
    example = Path(EXAMPLE).read_text(encoding="utf-8")
    parsed = browser.execute_script("return window.flyttkedja.parseToml(arguments[0])", example)
    assert parsed == tomllib.loads(example)
    browser.execute_script("window.flyttkedja.state.programmes[0].name = arguments[0]; window.flyttkedja.render()",
                           'Åby "ängar" \\ 30%')
    text = browser.execute_script("return window.flyttkedja.toToml()")
    scenario = parse_scenario(tomllib.loads(text))
    state = browser.execute_script("return window.flyttkedja.state.programmes")
    assert [p.name for p in scenario.programmes] == [p["name"] for p in state]
    assert [[{k: v for k, v in vars(ln).items() if k in line} for ln, line in zip(p.lines, s["line"])]
            for p, s in zip(scenario.programmes, state)] == [s["line"] for s in state]


def test_swedish_page(browser, page):  # noqa: F811
    browser.find_element(By.ID, "lang-sv").click()
    _wait_drawn(browser)
    assert browser.execute_script("return document.documentElement.lang") == "sv"
    assert browser.find_element(By.ID, "p0-add-line").text == "+ rad"
    assert "," in browser.find_element(By.ID, "fig-0-chain_length_mean-region").text  # decimal comma
    browser.find_element(By.ID, "lang-en").click()
    _wait_drawn(browser)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_explorer_section_of_the_report(browser, small_report, explorer_dirs, tmp_path):  # noqa: F811
    """report.html with a scenario carries the explorer: both draw, offline, from one plotly.js; the
    section's evaluate is the same as Python's."""
    from test_report_html import scenario_fixture

    _, scen = explorer_dirs
    path = small_report.write_html(tmp_path / store.REPORT_HTML, scenario=scenario_fixture(), explorer=scen)
    urls, errors = _open(browser, path)
    assert browser.execute_script("return document.documentElement.dataset.explorer") == "ready"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not browser.execute_script("return document.documentElement.dataset.charts"):
        time.sleep(0.1)
    assert browser.execute_script("return document.documentElement.dataset.charts") == "ready"
    assert errors == [] and set(urls) == {path.as_uri()}
    assert path.read_text(encoding="utf-8").count('type="application/gzip;base64"') == 1  # one plotly.js
    section = browser.find_element(By.ID, "explorer")
    assert section.find_elements(By.CSS_SELECTOR, "div.xchart g.point path")
    model = load_model(scen)
    programmes = generate_programmes(model, 20, seed=3)
    for prog, got in zip(programmes, browser.execute_script("return window.flyttkedja.evaluateMany(arguments[0])",
                                                            programmes)):
        assert_same(got, model.evaluate(prog))

