"""Screenshots and figures of the planners' walkthrough (docs/explorer.md, docs/explorer.sv.md).

Builds what ``flyttkedja scenario run examples/kustvik_rental_share.toml`` saves as its model
(the metro preset at the example's scale, years and seed; default strata; threshold 5;
cross-validated by municipality; with the region's areas, for rounds into below-median-income
areas). The example's programmes mix kinds, so their displacement ratios belong to the mixes; the
script runs the paired microsimulation instead for one programme of 600 dwellings of each line
kind the example uses (``--replications`` paired runs) and saves those ratios, as a scenario run
of such programmes would. It writes the explorer of the model, opens it in headless Chromium (as the browser test does) and saves
screenshots under docs/img/explorer_*.png. The figures quoted in the walkthroughs are
:meth:`TransitionModel.evaluate` of the example's programmes, written between the
``<!-- figures -->`` markers of both files (the page shows the same numbers).

    python scripts/explorer_screenshots.py              # metro scale 1: about 10 minutes
    python scripts/explorer_screenshots.py --scale 0.3  # quicker, other figures
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

from report_screenshots import OUT, _browser, _save
from flyttkedja.analysis.labels import LANGS
from flyttkedja.explorer.page import WORDS as PAGE_WORDS
from flyttkedja.scenario.compare import ADJUSTED, RATIO
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kustvik_rental_share.toml"
DOCS = {"en": ROOT / "docs" / "explorer.md", "sv": ROOT / "docs" / "explorer.sv.md"}


def single_kinds(scenario) -> list:
    """One programme of 600 dwellings for each line kind of the scenario's programmes (its first line
    of that kind), in order of appearance."""
    from dataclasses import replace

    from flyttkedja.scenario.config import Programme
    from flyttkedja.scenario.evaluation import KIND_KEYS, line_kind

    seen = {}
    for prog in scenario.programmes:
        for line in prog.lines:
            key = tuple(str(line_kind(line)[k]) for k in KIND_KEYS)
            if key not in seen:
                name = f"600 {line.tenure} {line.rooms} rooms"
                seen[key] = Programme(name, (replace(line, count=600),))
    return list(seen.values())


def displacement(scenario, replications: int, workers: int) -> list[dict]:
    """The displacement ratios of :func:`single_kinds`' programmes, from ``replications`` paired
    market runs of the example's region (what ``scenario run`` saves for such programmes)."""
    from functools import partial

    import numpy as np

    from flyttkedja.scenario.compare import microsim_rows
    from flyttkedja.scenario.evaluation import displacement_by_kind
    from flyttkedja.scenario.executor import map_replications
    from flyttkedja.scenario.microsim import replicate
    from flyttkedja.synth.config import load_config

    src = scenario.source
    progs = single_kinds(scenario)
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    munis = [m["code"] for m in cfg.section("municipality")]
    seeds = [int(s % 2**31) for s in np.random.SeedSequence(scenario.seed).generate_state(replications)]
    results = map_replications(partial(replicate, cfg, progs, src.years), seeds, workers=workers)
    rows = [r for i, p in enumerate(progs) for r in microsim_rows(p, i, results, munis)]
    return displacement_by_kind(progs, rows)


def build_model(directory: Path, scale: float, replications: int = 3, workers: int = 2):
    """The example's model, saved as its scenario run saves it (with displacement ratios of single-kind
    programmes), with the example's scenario.json."""
    from dataclasses import replace

    from flyttkedja import store
    from flyttkedja.core import trace
    from flyttkedja.scenario import estimate, load_scenario
    from flyttkedja.synth import generate

    sc = load_scenario(EXAMPLE)
    sc = replace(sc, source=replace(sc.source, scale=scale))
    src, ms = sc.source, sc.model
    reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs, ms.strata, threshold=ms.threshold, min_observations=ms.min_observations,
                         shrinkage=ms.shrinkage, areas=reg.areas)
    del reg, cs
    model.meta["cross_validation"] = model.cross_validate()
    model.records = None  # free the chain records before the market runs
    model.meta["displacement"] = displacement(sc, replications, workers)
    model.save(store.scenario_file(directory, "model"))
    store.write_scenario_manifest(directory, store.ScenarioManifest(scenario=sc.to_dict()))
    return sc, model


WORDS = {
    "en": {"head": "| programme | gross moves per 100 new (95%) | in Kustvik | rest of the region | "
                   "chains of one move | round 3 in below-median-income areas (95%) | displacement-adjusted gross (gross × ratio) | "
                   "gross, model before disclosure control |",
           "note": "Computed by `python scripts/explorer_screenshots.py --scale {scale}` (metro preset, scale "
                   "{scale}, 5 years, seed 7; the model keeps {kept} of its {records} vacancy records after "
                   "disclosure control; out-of-sample error {sigma}%; displacement ratios of 600 dwellings of each "
                   "line kind from {reps} paired market runs: {ratios})."},
    "sv": {"head": "| program | bruttoflyttningar per 100 nya (95 %) | i Kustvik | resten av regionen | "
                   "kedjor med en flyttning | omgång 3 i områden under medianinkomsten (95 %) | "
                   "undanträngningsjusterat brutto (brutto × kvot) | brutto, modellen före röjandeskydd |",
           "note": "Beräknat med `python scripts/explorer_screenshots.py --scale {scale}` (metro, skala {scale}, "
                   "5 år, frö 7; modellen behåller {kept} av sina {records} vakansposter efter röjandeskyddet; "
                   "fel utanför urvalet {sigma}\u00a0%; undanträngningskvoter för 600 bostäder av varje radslag "
                   "från {reps} parade marknadskörningar: {ratios})."},
}


def figures_table(model, full, scenario, lang: str, scale: float) -> str:
    """The walkthrough's figures of the example's programmes, as a Markdown table (``model``: as saved;
    ``full``: before disclosure control, as the scenario run's comparison uses it for a synthetic source)."""
    def fmt(x, d=0):
        text = f"{x:,.{d}f}".replace(",", "\u00a0")
        return text.replace(".", ",") if lang == "sv" else text

    pct = "\u00a0%" if lang == "sv" else "%"
    rows = [WORDS[lang]["head"], "|---|---|---|---|---|---|---|---|"]
    for prog in scenario.programmes:
        res = model.evaluate(prog)
        get = {(r["measure"], r["area"], r["group"], r["line"]): r for r in res["rows"]}
        g = get[("moves_gross_per_100_new", "region", None, None)]
        one = get[("chain_length_share", "region", "1", None)]["estimate"]
        r3 = get[("below_median_share_by_round", "region", "3", None)]
        net = get.get((ADJUSTED, "region", None, None))  # gross × the run's ratio
        if net is None:  # what the page prints instead (explorer.js, the programme's adjusted cell)
            withheld = any(r["measure"] == RATIO and r["line"] is not None
                           and (ADJUSTED, "region", None, r["line"]) not in get
                           for r in res["rows"])
            none = PAGE_WORDS["unresolved_some" if withheld else "no_ratio_some"][LANGS.index(lang)]
        rows.append(f"| {prog.name} | {fmt(g['estimate'])} ({fmt(g['lower'])}–{fmt(g['upper'])}) | "
                    f"{fmt(get[('moves_gross_per_100_new', 'municipality', None, None)]['estimate'])} | "
                    f"{fmt(get[('moves_gross_per_100_new', 'rest', None, None)]['estimate'])} | "
                    f"{fmt(100 * one)}{pct} | {fmt(100 * r3['estimate'])}{pct} "
                    f"({fmt(100 * r3['lower'])}–{fmt(100 * r3['upper'])}) | "
                    f"{none if net is None else fmt(net['estimate'])} | {fmt(gross(full, prog))} |")
    kept = model.vacancy_records()
    ratios = "; ".join(f"{d['tenure']} {d['rooms']} {fmt(d['ratio'], 2)} ({fmt(d['lower'], 2)}–{fmt(d['upper'], 2)})"
                       for d in model.meta["displacement"])
    reps = model.meta["displacement"][0]["replications"] if model.meta["displacement"] else 0
    note = WORDS[lang]["note"].format(scale=scale, kept=fmt(kept), records=fmt(full.meta["records"]),
                                      sigma=fmt(100 * model.meta["cross_validation"]["sigma"], 1), reps=reps,
                                      ratios=ratios)
    return "\n".join(rows) + "\n\n" + note


def gross(model, prog) -> float:
    return next(r["estimate"] for r in model.evaluate(prog)["rows"]
                if r["measure"] == "moves_gross_per_100_new" and r["area"] == "region" and r["line"] is None)


def write_figures(text: str, path: Path) -> None:
    doc = path.read_text(encoding="utf-8")
    if "<!-- figures -->\n" not in doc or "<!-- /figures -->" not in doc:
        sys.exit(f"{path}: no <!-- figures --> ... <!-- /figures --> markers")
    new = re.sub(r"<!-- figures -->\n.*?<!-- /figures -->", lambda m: f"<!-- figures -->\n{text}\n<!-- /figures -->",
                 doc, flags=re.S)
    path.write_text(new, encoding="utf-8")
    print("wrote", path)


def _wait(driver):
    deadline = time.monotonic() + 120
    while not driver.execute_script("return document.documentElement.dataset.explorer"):
        if time.monotonic() > deadline:
            sys.exit("explorer not drawn")
        time.sleep(0.1)
    if driver.execute_script("return document.documentElement.dataset.explorer") != "ready":
        sys.exit("explorer failed")
    driver.execute_async_script("window.flyttkedja.ready.then(() => arguments[0]())")


def _drawn(driver):
    driver.execute_async_script("const done = arguments[0]; window.flyttkedja.update().then(() => done())")
    time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--replications", type=int, default=3, help="paired market runs for displacement ratios")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from flyttkedja.explorer import write_explorer
    from flyttkedja.scenario import load_model

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scen = Path(tmp) / "kustvik"
        scenario, full = build_model(scen, args.scale, args.replications, args.workers)
        model = load_model(scen)
        for lang, path in DOCS.items():
            write_figures(figures_table(model, full, scenario, lang, args.scale), path)
        page = write_explorer(scen, Path(tmp) / "explorer.html")
        driver = _browser()
        driver.set_window_size(1300, 1000)
        try:
            driver.get(page.as_uri())
            _wait(driver)
            _save(driver.find_element(By.ID, "programmes"), "explorer_programmes")
            _save(driver.find_element(By.ID, "figures"), "explorer_figures")
            driver.execute_script("document.getElementById('by-line').open = true")
            _save(driver.find_element(By.ID, "by-line"), "explorer_lines")
            for name in ("gross", "length", "rounds", "reached"):
                chart = driver.find_element(By.ID, f"xchart-{name}")
                driver.execute_script("arguments[0].scrollIntoView()", chart)
                _save(chart, f"explorer_{name}")
            # a fourth programme: the 50% one with its 2-room rentals allocated to young adults
            driver.find_element(By.ID, "add-programme").click()
            _drawn(driver)
            name = driver.find_element(By.ID, "p3-name")
            driver.execute_script("arguments[0].select()", name)
            name.send_keys("50% rental, youth", Keys.TAB)
            Select(driver.find_element(By.ID, "p3-l0-target_group")).select_by_value("young_adults")
            _drawn(driver)
            card = driver.find_elements(By.CSS_SELECTOR, "#programmes .card")[3]
            driver.execute_script("arguments[0].scrollIntoView()", card)
            _save(card, "explorer_allocation")
            driver.find_element(By.ID, "lang-sv").click()
            _drawn(driver)
            _save(driver.find_element(By.ID, "figures"), "explorer_figures_sv")
            _save(driver.find_element(By.ID, "warnings"), "explorer_warnings_sv")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
