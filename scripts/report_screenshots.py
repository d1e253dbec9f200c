"""Screenshots of the report's charts for docs/report.md (headless Chromium, as in the browser test).

Builds the report of the metro preset at scale 0.1 (seed 7, 200 bootstrap
replicates), opens it from disk and saves each chart as a small palette PNG
under docs/img/, plus the Swedish length distribution with a value on hover and
the Sankey at step 2.

    python scripts/report_screenshots.py            # about 2 minutes
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"


def _browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"),
                            options=options)


def _save(element, name: str) -> None:
    """The element's screenshot as a 64-colour PNG (a few tens of kB)."""
    image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(OUT / f"{name}.png", optimize=True)
    print(OUT / f"{name}.png", (OUT / f"{name}.png").stat().st_size)


def _open(driver, page: Path) -> None:
    driver.get(page.as_uri())
    deadline = time.monotonic() + 60
    while not driver.execute_script("return document.documentElement.dataset.charts"):
        if time.monotonic() > deadline:
            sys.exit("charts not drawn")
        time.sleep(0.1)


def main() -> None:
    from flyttkedja import store
    from flyttkedja.analysis import Report
    from flyttkedja.core import trace
    from flyttkedja.synth import generate

    reg = generate("metro", scale=0.1, seed=7)
    cs = trace(reg.moves, reg.dwellings, "new_builds", window=reg.window, max_gap_days=reg.max_gap_days)
    report = Report(cs, areas=reg.areas, replicates=200)
    OUT.mkdir(parents=True, exist_ok=True)
    driver = _browser()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "en").mkdir()
            (Path(tmp) / "sv").mkdir()
            en = report.write_html(Path(tmp) / "en" / store.REPORT_HTML, lang="en")
            sv = report.write_html(Path(tmp) / "sv" / store.REPORT_HTML, lang="sv")
            _open(driver, en)
            for chart in driver.find_elements(By.CSS_SELECTOR, "div.chart"):
                driver.execute_script("arguments[0].scrollIntoView()", chart)
                _save(chart, f"report_{chart.get_attribute('data-chart')}")
            _open(driver, sv)
            chart = driver.find_element(By.ID, "chart-length_distribution")
            driver.execute_script("arguments[0].scrollIntoView()", chart)
            bar = chart.find_elements(By.CSS_SELECTOR, "g.trace.bars")[2].find_elements(By.CSS_SELECTOR,
                                                                                       "g.point path")[2]
            ActionChains(driver).move_to_element(bar).perform()
            time.sleep(0.5)
            _save(chart, "report_length_distribution_sv_hover")
            sankey = driver.find_element(By.ID, "chart-flows")
            driver.execute_script("arguments[0].scrollIntoView()", sankey)
            rail = sankey.find_element(By.CSS_SELECTOR, "rect.slider-rail-rect")
            stops = len(driver.execute_script("return arguments[0].layout.sliders[0].steps", sankey))
            w = rail.size["width"]
            ActionChains(driver).move_to_element_with_offset(rail, int(-w / 2 + w / (stops - 1)), 0).click().perform()
            time.sleep(0.8)
            _save(sankey, "report_flows_sv_step2")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
