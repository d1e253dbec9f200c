"""The HTML report in a real browser: headless Chromium (Debian's package) through selenium, network off.

Opens report.html from disk with the network emulated offline and every request
logged; waits until the page has unpacked its inlined plotly.js and drawn every
chart, then asserts no console errors, no request but the file itself, every
chart drawn (non-zero box, marks, non-blank screenshot), the Sankey's bands, its
step slider and values on hover. A control page with an external image checks
that the request and console checks do fire.

Skipped when Chromium is missing, unless FLYTTKEDJA_REQUIRE_BROWSER is set (CI
sets it, so CI fails instead).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from test_report_html import CHARTS, build_report, chart_specs, scenario_fixture

CHROMIUM = os.environ.get("FLYTTKEDJA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FLYTTKEDJA_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1100,1400")

_missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
if _missing:
    if os.environ.get("FLYTTKEDJA_REQUIRE_BROWSER"):
        raise RuntimeError(f"FLYTTKEDJA_REQUIRE_BROWSER is set but {', '.join(_missing)} is missing "
                           "(apt-get install -y chromium chromium-driver)")
    pytest.skip(f"no browser: {', '.join(_missing)} missing", allow_module_level=True)

if os.environ.get("FLYTTKEDJA_REQUIRE_BROWSER"):
    from selenium import webdriver
else:
    webdriver = pytest.importorskip("selenium.webdriver")
from PIL import Image  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from flyttkedja import store  # noqa: E402
from flyttkedja.analysis.labels import label  # noqa: E402


@pytest.fixture(scope="session")
def browser(tmp_path_factory):  # one Chromium for every browser test module (starting one takes seconds)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    yield driver
    driver.quit()


def _open(driver, path: Path, wait_for_charts: bool = True) -> tuple[list[str], list[dict]]:
    """Load ``path`` (and wait until its charts are drawn or failed); return the URLs it requested and its
    console messages of level SEVERE."""
    driver.get_log("performance"), driver.get_log("browser")  # drop what came before
    driver.get(path.as_uri())
    deadline = time.monotonic() + 60
    while wait_for_charts and time.monotonic() < deadline:
        if driver.execute_script("return document.documentElement.dataset.charts"):
            break
        time.sleep(0.1)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return requested(driver), errors


#: URL schemes whose requests never reach a network or a file outside the page
IN_BROWSER = ("chrome://", "data:", "blob:")


def requested(driver) -> list[str]:
    """The URLs the page requested since the last call (Chrome DevTools' performance log), without
    those that never leave the browser: its own ``chrome://`` resources (Debian's Chromium 150 draws
    some native controls with icons it loads as ``chrome://resources/images/...``) and ``data:`` and
    ``blob:`` URLs, whose content is in the URL or in the page (a CI run on a fresh machine logged
    the 1x1 transparent GIF ``data:image/gif;base64,R0lGODlhAQAB...``, which no script of the page
    holds)."""
    return [url for url in (m["params"]["request"]["url"] for m in
                            (json.loads(e["message"])["message"] for e in driver.get_log("performance"))
                            if m["method"] == "Network.requestWillBeSent")
            if not url.startswith(IN_BROWSER)]



def _not_blank(png: bytes) -> bool:
    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20)
    return colours is None or len(colours) > 1


@pytest.fixture(scope="session")
def small_report(small_register):
    """The tiny register's report, built once for the browser tests (the explorer's section reuses it)."""
    return build_report(small_register)


@pytest.fixture(scope="module")
def opened(browser, small_report, tmp_path_factory):
    report = small_report
    page = report.write_html(tmp_path_factory.mktemp("report") / store.REPORT_HTML, scenario=scenario_fixture())
    urls, errors = _open(browser, page)
    return report, page, urls, errors


def test_report_offline_in_chromium(browser, opened):
    report, page, urls, errors = opened
    assert browser.execute_script("return document.documentElement.dataset.charts") == "ready"
    assert errors == []
    assert urls and set(urls) == {page.as_uri()}
    charts = browser.find_elements(By.CSS_SELECTOR, "div.chart")
    names = [c.get_attribute("data-chart") for c in charts]
    assert names == [*CHARTS, "scenario"]
    width = browser.execute_script("return document.querySelector('section').getBoundingClientRect().width")
    for chart, name in zip(charts, names, strict=True):
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]",
                                     chart)
        assert box[0] >= 0.95 * width and box[1] > 100, name  # full width of the page's text
        marks = chart.find_elements(By.CSS_SELECTOR, "g.point path, path.sankey-link, g.trace path.js-line")
        # a chart whose every value the release withholds (the tiny register's length distribution) shows ".."
        withheld = [m for m in chart.find_elements(By.CSS_SELECTOR, "text.bartext, g.textpoint text") if m.text == ".."]
        assert any(m.size["width"] > 0 and m.size["height"] > 0 for m in marks + withheld), name
        assert _not_blank(chart.screenshot_as_png), name
    assert not browser.find_element(By.ID, "no-charts").is_displayed()
    shot = page.with_suffix(".png")
    browser.save_screenshot(str(shot))
    assert _not_blank(shot.read_bytes())


def test_sankey_slider_moves_through_the_steps(browser, opened):
    """Clicking the slider's second stop redraws the Sankey with the step-2 bands of the page's own spec."""
    report, page, _, _ = opened
    sankey = browser.find_element(By.ID, "chart-flows")
    browser.execute_script("arguments[0].scrollIntoView()", sankey)
    spec = chart_specs(page.read_text(encoding="utf-8"))["flows"]
    steps = spec["layout"]["sliders"][0]["steps"]
    active = spec["layout"]["sliders"][0]["active"]  # the first step with bands (a small register's may be withheld)
    drawn = lambda: browser.execute_script("return arguments[0].data[0].link.value", sankey)  # noqa: E731
    assert drawn() == steps[active]["args"][0]["link.value"][0]
    assert len(sankey.find_elements(By.CSS_SELECTOR, "path.sankey-link")) == len(drawn())
    # another stop with bands, different from the first (so the click has something to show)
    k = next(i for i in range(len(steps)) if i != active and steps[i]["args"][0]["link.value"][0]
             and steps[i]["args"][0] != steps[active]["args"][0])
    rail = sankey.find_element(By.CSS_SELECTOR, "rect.slider-rail-rect")
    w = rail.size["width"]
    ActionChains(browser).move_to_element_with_offset(rail, int(-w / 2 + w * k / (len(steps) - 1)), 0).click().perform()
    deadline = time.monotonic() + 5
    while drawn() != steps[k]["args"][0]["link.value"][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert drawn() == steps[k]["args"][0]["link.value"][0]
    assert browser.execute_script("return arguments[0].layout.title.text", sankey) == steps[k]["args"][1]["title.text"]
    paths = lambda: len(sankey.find_elements(By.CSS_SELECTOR, "path.sankey-link"))  # noqa: E731
    while paths() != len(drawn()) and time.monotonic() < deadline + 5:  # the redraw may lag the data
        time.sleep(0.1)
    assert paths() == len(drawn())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def _first_published_bar(browser, chart, value: int):
    """(trace index, bar index) of the first published bar (``value``: 2 = y, 1 = x holds the value), or None."""
    traces = browser.execute_script("return arguments[0].data.map(t => [t.name, t.x, t.y, t.text])", chart)
    return traces, next(((j, i) for j, t in enumerate(traces) for i, (v, text) in enumerate(zip(t[value], t[3]))
                         if v > 0 and text == ""), None)


def test_values_on_hover(browser, opened):
    """The mouse over a published bar shows its group and value: the length distribution's (group, length,
    share), or, when the release withholds every one of those (the tiny register), reach's (group, per 100)."""
    report, _, _, _ = opened
    chart = browser.find_element(By.ID, "chart-length_distribution")
    traces, hit = _first_published_bar(browser, chart, 2)
    if hit is None:
        chart = browser.find_element(By.ID, "chart-reach")
        traces, hit = _first_published_bar(browser, chart, 1)
    browser.execute_script("arguments[0].scrollIntoView()", chart)
    j, k = hit
    first = traces[j]
    bar = chart.find_elements(By.CSS_SELECTOR, "g.trace.bars")[j].find_elements(By.CSS_SELECTOR, "g.point path")[k]
    ActionChains(browser).move_to_element(bar).perform()
    deadline = time.monotonic() + 5
    while not chart.find_elements(By.CSS_SELECTOR, "g.hovertext") and time.monotonic() < deadline:
        time.sleep(0.1)
    text = " ".join(e.text for e in chart.find_elements(By.CSS_SELECTOR, "g.hovertext"))
    if chart.get_attribute("id") == "chart-length_distribution":
        assert first[0] in text and f"{label('length')} {first[1][k]}:" in text and f"{first[2][k]:.1%}" in text
    else:
        assert first[0] in text and f"{first[2][k]}: {first[1][k]:.1f}" in text


def test_checks_detect_an_external_resource(browser, tmp_path):
    """Control: a page that loads a remote image is caught by the request log and the console."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>')
    urls, errors = _open(browser, page, wait_for_charts=False)
    assert "http://example.invalid/x.png" in urls
    assert errors, "the offline network should make the image fail with a console error"
