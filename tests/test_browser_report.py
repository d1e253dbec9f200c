"""The HTML report in a real browser: headless Chromium (Debian's package) through selenium, network off.

Opens report.html from disk with the network emulated offline and every request
logged; asserts no console errors, no request but the file itself, every chart
drawn (non-zero box, non-blank screenshot) and the Sankey present. A control
page with an external image checks that the request and console checks do fire.

Skipped when Chromium is missing, unless FLYTTKEDJA_REQUIRE_BROWSER is set (CI
sets it, so CI fails instead).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from test_report_html import build_report, scenario_fixture

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
from selenium.webdriver.common.by import By  # noqa: E402

from flyttkedja import store


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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


def _open(driver, path: Path) -> tuple[list[str], list[dict]]:
    """Load ``path``; return the URLs it requested and its console messages of level SEVERE."""
    driver.get_log("performance"), driver.get_log("browser")  # drop what came before
    driver.get(path.as_uri())
    driver.execute_script("return document.readyState")
    urls = [m["params"]["request"]["url"] for m in
            (json.loads(e["message"])["message"] for e in driver.get_log("performance"))
            if m["method"] == "Network.requestWillBeSent"]
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return urls, errors


def _not_blank(png: bytes) -> bool:
    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20)
    return colours is None or len(colours) > 1


def test_report_offline_in_chromium(browser, small_register, tmp_path):
    page = build_report(small_register).write_html(tmp_path / store.REPORT_HTML, scenario=scenario_fixture())
    urls, errors = _open(browser, page)
    assert errors == []
    assert urls and set(urls) == {page.as_uri()}
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    names = [c.get_attribute("data-chart") for c in charts]
    for name in ("length_distribution", "sankey_step_1", "reach", "rounds", "end_reasons",
                 "scenario_chain_length_mean"):
        assert name in names, name
    for chart, name in zip(charts, names, strict=True):
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]",
                                     chart)
        assert box[0] > 0 and box[1] > 0, name
        marks = chart.find_elements(By.CSS_SELECTOR, "rect, path, circle")
        assert any(m.size["width"] > 0 and m.size["height"] > 0 for m in marks), name
        assert _not_blank(chart.screenshot_as_png), name
    bands = browser.find_elements(By.CSS_SELECTOR, "svg.sankey path.band")
    assert bands and all(b.size["height"] > 0 for b in bands)
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert _not_blank(shot.read_bytes())


def test_checks_detect_an_external_resource(browser, tmp_path):
    """Control: a page that loads a remote image is caught by the request log and the console."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>')
    urls, errors = _open(browser, page)
    assert "http://example.invalid/x.png" in urls
    assert errors, "the offline network should make the image fail with a console error"
