"""The explorer page: model.json's counts, the labels and two scripts in one offline HTML file.

:func:`explorer_html` builds the page from a scenario output directory (its
``model.json`` and ``scenario.json``: the programmes it compared start the
page) or a saved model (a directory holding ``model.json``, or the file).
The page evaluates programmes with ``evaluate.js`` — the browser's copy of
:meth:`flyttkedja.scenario.TransitionModel.evaluate` — and draws them with
the plotly.js that :func:`flyttkedja.analysis.charts.plotly_bundle` inlines.
Only the model's disclosure-controlled counts travel: no chain, no record.
Same inputs, same bytes.

Example
-------
>>> write_explorer("out/kustvik", "explorer.html", lang="sv")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.resources
import json
import os
from html import escape
from pathlib import Path

from flyttkedja import store
from flyttkedja.analysis import charts
from flyttkedja.analysis.labels import LANGS, label
from flyttkedja.io import atomic_file
from flyttkedja.scenario.compare import ADJUSTED, AREAS, GROSS, LINE_ATTRIBUTES, NET, RATIO, read_comparison
from flyttkedja.scenario.config import LINE_FIELDS, TARGET_GROUP_NAMES
from flyttkedja.scenario.model import FORMATS
from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, END_REASONS, LANDLORDS, TENURES

MAX_PROGRAMMES = 4

#: the explorer's own words (codes of the data take their labels from flyttkedja.analysis.labels)
WORDS: dict[str, tuple[str, str]] = {  # key: (en, sv)
    "explorer_title": ("Scenario explorer: vacancy chains of a new-build programme",
                       "Scenarioutforskaren: flyttkedjor från ett byggprogram"),
    "explorer_intro": ("Compose up to four programmes of new dwellings; the transition model estimated from the "
                       "register shows at once the chains they start. Everything is computed in this file, offline.",
                       "Sätt ihop upp till fyra program med nya bostäder; övergångsmodellen som skattats ur "
                       "registret visar direkt vilka kedjor de startar. Allt räknas i den här filen, utan nätverk."),
    "programmes": ("Programmes", "Program"),
    "editor_note": ("Each line is a number of alike dwellings. \u201c—\u201d: not given (the model uses every "
                    "stratum of the kind). Allocation: the first household is from that target group.",
                    "Varje rad är ett antal likadana bostäder. \u201d—\u201d: inte angivet (modellen använder alla "
                    "strata av slaget). Tilldelning: första hushållet kommer ur den målgruppen."),
    "count": ("dwellings", "bostäder"),
    "landlord": ("landlord", "hyresvärd"),
    "building_type": ("building type", "hustyp"),
    "municipality": ("municipality", "kommun"),
    "allocation": ("allocation", "tilldelning"),
    "add_line": ("+ line", "+ rad"),
    "remove_line": ("remove the line", "ta bort raden"),
    "add_programme": ("+ programme", "+ program"),
    "remove_programme": ("remove", "ta bort"),
    "programme_name": ("programme name", "programmets namn"),
    "programme": ("Programme", "Program"),
    "results": ("What the programmes start", "Vad programmen startar"),
    "measure": ("per 100 new dwellings", "per 100 nya bostäder"),
    "by_line": ("Each line, per 100 of its own dwellings: gross moves, and the displacement-adjusted gross "
                "where the model carries a displacement ratio for the line's kind",
                "Varje rad, per 100 av radens bostäder: bruttoflyttningar, och undanträngningsjusterat brutto "
                "där modellen har en undanträngningskvot för radens slag"),
    "net_line": ("adjusted (gross × ratio)", "justerat (brutto × kvot)"),
    "ratio_line": ("displacement ratio", "undanträngningskvot"),
    "no_ratio": ("no ratio for this kind", "ingen kvot för slaget"),
    "no_ratio_some": ("no ratio for a line's kind", "ingen kvot för en rads slag"),
    "unresolved": ("withheld: the ratio's interval includes 0", "utelämnat: kvotens intervall omfattar 0"),
    "unresolved_some": ("withheld: a line's ratio is not resolved", "utelämnat: en rads kvot är inte säkerställd"),
    "rounds_below_title": ("Of the dwellings vacated in each round, share in below-median-income areas",
                           "Av bostäderna som lämnas i varje omgång, andel i områden under medianinkomsten"),
    "line": ("line", "rad"),
    "from_run": ("From the scenario run's microsimulation, for the programme as it was run:",
                 "Från scenariokörningens mikrosimulering, för programmet som det kördes:"),
    "changed": ("changed since the run", "ändrat sedan körningen"),
    "run_moves_gross_per_100_new": ("gross moves per 100 new dwellings, traced in the market runs",
                                    "bruttoflyttningar per 100 nya bostäder, spårade i marknadskörningarna"),
    "run_displacement_ratio": ("displacement ratio (net / gross)", "undanträngningskvot (netto / brutto)"),
    "chain_length_mean": ("mean chain length (moves per new dwelling)", "medellängd (flyttningar per ny bostad)"),
    "area_region": ("region", "regionen"),
    "area_municipality": ("the programme's municipality", "programmets kommun"),
    "area_rest": ("rest of the region", "resten av regionen"),
    "vacancies": ("vacancies", "vakanser"),
    "reached": ("households reached", "hushåll som nås"),
    "vacancies_by_tenure": ("Vacancies in the existing stock by tenure, per 100 new dwellings",
                            "Vakanser i beståndet per upplåtelseform, per 100 nya bostäder"),
    "reached_by_group": ("Target groups reached (households moving), per 100 new dwellings",
                         "Målgrupper som nås (hushåll som flyttar), per 100 nya bostäder"),
    "rounds_title": ("Of the dwellings vacated in each round, share in area type",
                     "Av bostäderna som lämnas i varje omgång, andel i områdestyp"),
    "round": ("round", "omgång"),
    "save_toml": ("Save as scenario TOML", "Spara som scenario-TOML"),
    "load_toml": ("Open scenario TOML", "Öppna scenario-TOML"),
    "loaded": ("opened", "öppnade"),
    "not_loaded": ("could not open", "kunde inte öppna"),
    "no_programmes": ("the file has no [[programme]]", "filen har inget [[programme]]"),
    "no_warnings": ("The model has no warning for these programmes.", "Modellen har ingen varning för programmen."),
    "interval_model_error": ("Brackets and bars: 95% intervals. Every figure carries the model's sampling error "
                             "(delta method over its counts); gross moves also its out-of-sample error "
                             "(cross-validated by municipality: {s}% relative); the displacement-adjusted gross also "
                             "the run's error of the displacement ratio.",
                             "Parenteser och streck: 95-procentsintervall. Varje tal bär modellens urvalsfel "
                             "(deltametoden över dess räkningar); bruttoflyttningar även felet utanför urvalet "
                             "(korsvaliderat per kommun: {s} % relativt); undanträngningsjusterat brutto även "
                             "körningens fel i undanträngningskvoten."),
    "no_model_error": ("Brackets and bars: 95% intervals of the model's sampling error (delta method over its "
                       "counts). Its out-of-sample error was not measured, so they are too narrow for gross moves.",
                       "Parenteser och streck: 95-procentsintervall för modellens urvalsfel (deltametoden över "
                       "dess räkningar). Felet utanför urvalet har inte mätts, så de är för smala för "
                       "bruttoflyttningar."),
    "method_text": ("Gross moves are the moves in the chains the programme's dwellings start (an absorbing Markov "
                    "model of vacancy transitions, White 1970), not the net change in all moves of the market. "
                    "The displacement-adjusted gross is gross times the displacement ratio (net / gross) that the "
                    "scenario run's microsimulation measured for programmes of one kind (tenure, rooms, "
                    "municipality): the model's estimate of the net, not a net measured on the market; a line "
                    "of another kind has none, nor has a line whose ratio's 95% interval includes 0 (the run did "
                    "not resolve it). docs/explorer.md explains every figure.",
                    "Bruttoflyttningar är flyttningarna i kedjorna som programmets bostäder startar (en absorberande "
                    "Markovmodell för vakansövergångar, White 1970), inte nettoförändringen av alla flyttningar "
                    "på marknaden. Undanträngningsjusterat brutto är brutto gånger undanträngningskvoten (netto / "
                    "brutto) som scenariokörningens mikrosimulering mätte för program av ett slag (upplåtelseform, "
                    "rum, kommun): modellens skattning av nettot, inte ett netto mätt på marknaden; en rad av annat "
                    "slag har inget, inte heller en rad vars kvot har ett 95-procentsintervall som omfattar 0 "
                    "(körningen säkerställde den inte). docs/explorer.md förklarar varje tal."),
}

#: the explorer's own style, scoped to its element (the report carries it too)
EXPLORER_CSS = """#explorer .note{color:#555;font-size:.9em}#explorer .toolbar{display:flex;gap:.5em;align-items:center;
flex-wrap:wrap}#explorer button,#explorer .button{font:inherit;padding:.2em .7em;border:1px solid #999;
border-radius:3px;background:#f6f6f6;cursor:pointer}#explorer button:disabled{opacity:.5;cursor:default}
#explorer .cards{display:flex;flex-direction:column;gap:1em;margin-bottom:1em}
#explorer .card{border:1px solid #ccc;border-top:4px solid #999;padding:.5em .8em;border-radius:3px;overflow-x:auto}
#explorer .cardhead{display:flex;gap:.5em;margin-bottom:.4em}#explorer input.name{font:inherit;font-weight:600;flex:1}
#explorer table{border-collapse:collapse;font-size:.88em}#explorer td,#explorer th{border:1px solid #ddd;
padding:2px 6px;text-align:right}#explorer th{background:#f4f4f4}#explorer td.k{text-align:left}#explorer td.run{font-style:italic;background:#fafafa}
#explorer table.lines td{border:none;padding:1px 3px}#explorer table.lines input{width:5em}
#explorer select{font:inherit;font-size:.95em}#explorer button.x{padding:0 .4em}
#explorer #warnings li{color:#8a4b00}#explorer #warnings li.error{color:#b00}
#explorer .xcharts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1em}
#explorer div.xchart{width:100%;min-height:300px}"""

PAGE_CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1300px;
padding:1em 1.5em;color:#222;line-height:1.4}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:1.5em}"""


def _asset(name: str) -> str:
    return (importlib.resources.files("flyttkedja.explorer") / name).read_text(encoding="utf-8")


def model_path(source: str | os.PathLike) -> Path:
    """The model file of ``source``: a model JSON file, or a directory holding ``model.json``."""
    path = Path(source)
    if path.is_dir():
        path = store.scenario_file(path, "model")
    if not path.exists():
        raise FileNotFoundError(f"{source}: no {store.MODEL_FILE} (give a scenario output or a saved model)")
    return path


def _toml_programme(prog: dict) -> dict:
    """A resolved programme of ``scenario.json`` back in the TOML's structure (the fields the file gave)."""
    lines = []
    for line in prog["lines"]:
        written = line.get("written") or [k for k in LINE_FIELDS if line.get(k) is not None]
        lines.append({k: line[k] for k in LINE_FIELDS if k in written and line.get(k) is not None})
    return {"name": prog["name"], "line": lines}


def explorer_data(source: str | os.PathLike, lang: str = "en") -> dict:
    """What the page carries: the model's saved record, the starting programmes, labels and constants."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    path = model_path(source)
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("format") not in FORMATS:
        raise ValueError(f"{path}: not a flyttkedja transition model (format {record.get('format')!r})")
    manifest = store.read_scenario_manifest(path.parent) if (path.parent / store.SCENARIO_MANIFEST).exists() else None
    name, programmes, src = "explorer", [], None
    if manifest is not None:
        sc = manifest.scenario
        name = sc.get("name", name)
        programmes = [_toml_programme(p) for p in sc.get("programmes", [])][:MAX_PROGRAMMES]
        s = sc.get("source") or {}
        src = {k: s[k] for k in ("register", "preset", "scale", "years", "seed") if s.get(k) is not None}
    runs = _run_figures(path.parent, programmes)
    keys, strata = record["keys"], record["strata"]
    munis = sorted({s.split("|")[keys.index("municipality")] for s in strata} - {"-"}) if "municipality" in keys else []
    munis = sorted(set(munis) | {ln["municipality"] for p in programmes for ln in p["line"] if "municipality" in ln})
    if not programmes:
        line = {"count": 100, "tenure": "rental", "rooms": 2}
        if munis:
            line["municipality"] = munis[0]
        programmes = [{"name": label("programme", lang).capitalize() + " 1", "line": [line]}]
    codes = [*TENURES, *LANDLORDS, *BUILDING_TYPES, *AREA_TYPES, *TARGET_GROUP_NAMES, *END_REASONS, *record["groups"],
             "tenure", "rooms", "area_type", "target_group", "per_100", "length_moves", "length_distribution",
             GROSS, NET, ADJUSTED]
    labels = {lg: {**{c: label(c, lg) for c in codes}, **{k: v[LANGS.index(lg)] for k, v in WORDS.items()}}
              for lg in LANGS}
    constants = {"tenures": TENURES, "landlords": LANDLORDS, "building_types": BUILDING_TYPES, "area_types": AREA_TYPES,
                 "target_groups": TARGET_GROUP_NAMES, "line_attributes": LINE_ATTRIBUTES, "line_fields": LINE_FIELDS,
                 "areas": AREAS}
    return {"model": record, "programmes": programmes, "name": name, "source": src, "municipalities": munis,
            "lang": lang, "labels": labels, "constants": constants, "runs": runs}


#: what the page shows from the scenario run's microsimulation, for a programme as it was run
RUN_MEASURES = (NET, RATIO, GROSS)


def _run_figures(directory: Path, programmes: list[dict]) -> list[list[dict]]:
    """Per starting programme, the run's microsimulation rows (whole programme, region) of
    :data:`RUN_MEASURES`: net and displacement exist only there. Empty without comparison.parquet."""
    if not store.scenario_file(directory, "comparison").exists():
        return [[] for _ in programmes]
    table = read_comparison(directory)
    out = []
    for prog in programmes:
        rows = table.filter((table["programme"] == prog["name"]) & (table["method"] == "microsimulation")
                            & table["line"].is_null() & (table["area"] == "region")
                            & table["measure"].is_in(list(RUN_MEASURES)))
        out.append([{k: r[k] for k in ("measure", "estimate", "lower", "upper", "suppressed")}
                    for r in rows.sort("measure").iter_rows(named=True)])
    return out


def _json(data) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True)
    return text.replace("<", "\\u003c")  # valid JSON that can never close the script element


def explorer_body(source: str | os.PathLike, lang: str = "en", *, embedded: bool = False) -> str:
    """The explorer's element, its style, data and scripts. ``embedded``: a section of a page that
    carries plotly.js itself (the report) — no plotly.js of its own, no page title."""
    scripts = f'<script type="application/json" id="explorer-data">{_json(explorer_data(source, lang))}</script>'
    if not embedded:
        version, bundle = charts.plotly_bundle()
        scripts += (f'<script type="application/gzip;base64" id="plotly-js" data-version="{escape(version)}">'
                    f"{bundle}</script><script>{charts.plotly_loader()}</script>")
    js = (_asset("evaluate.js") + "\n" + _asset("explorer.js")).replace("</script", "<\\/script")
    return (f'<style>{EXPLORER_CSS}</style><div id="explorer" data-embedded="{int(embedded)}"></div>'
            f"{scripts}<script>{js}</script>")


def explorer_html(source: str | os.PathLike, lang: str = "en") -> str:
    """The explorer as one self-contained HTML document (a str)."""
    title = WORDS["explorer_title"][LANGS.index(lang)] if lang in LANGS else ""
    body = explorer_body(source, lang)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
            f'<noscript><p class="note">JavaScript is needed.</p></noscript>{body}</body></html>\n')


def write_explorer(source: str | os.PathLike, out: str | os.PathLike, lang: str = "en") -> Path:
    """Write :func:`explorer_html` to ``out`` atomically; returns the path."""
    out = Path(out)
    html = explorer_html(source, lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as part:
        Path(part).write_text(html, encoding="utf-8")
    return out
