"""What the planner reads: the three quantities per programme in plain sentences (English, Swedish).

:func:`summary_text` turns a comparison table (and the resolved pairwise
differences) into ``summary.txt``; :func:`summary_paragraphs` gives the same
sentences for the report's scenario section; :func:`headline` keeps the rows
the report charts (whole programme, whole region).

Example
-------
>>> print(summary_text(read_comparison("out/kustvik"), lang="sv"))   # doctest: +SKIP
"""

from __future__ import annotations

import polars as pl

from flyttkedja.analysis.labels import SUPPRESSED_MARK
from flyttkedja.scenario.compare import GROSS, NET, RATIO  # the measure names comparison.parquet uses

TEXT = {
    "en": {
        "title": "What the programmes do (per 100 new dwellings; 95% intervals in brackets)",
        "gross_model": "the transition model expects the chains its dwellings start to hold {v} moves",
        "gross_traced": "traced inside the market runs, those chains hold {v} moves",
        "net": "the market as a whole gains {v} moves",
        "ratio": "net / gross (displacement ratio) {v}",
        "municipality": "In the programme's municipality: gross {g}, net {n}; in the rest of the region: gross {gr}, net {nr}.",
        "why": ("Why they differ: gross counts every move in the chains as if each were additional. Net is the "
                "paired change in all moves of the market: many households who take the new dwellings, and "
                "those who follow them, would otherwise have filled other vacancies, so part of the gross "
                "chain displaces moves that would have happened anyway (the lower the ratio, the more). "
                "Model and traced gross differ by the model's error (strata, first-order chains) and by local "
                "saturation of the market."),
        "displaced": "Of every 100 moves in its chains, about {d} displace a move that would have happened anyway.",
        "beyond": ("Net is not below gross here: beyond its own chains the programme changes other moves of the "
                   "market, or the replications are too few to tell (see the interval)."),
        "resolved": "{a} against {b}: difference in net moves {v} — {verdict}.",
        "yes": "resolved (the 95% interval excludes zero)",
        "no": "not resolved",
        "after": "after {n} replications",
        "interval": "95% interval",
        "na": "n/a",
    },
    "sv": {
        "title": "Vad programmen gör (per 100 nya bostäder; 95-procentsintervall inom parentes)",
        "gross_model": "övergångsmodellen väntar sig att kedjorna som bostäderna startar rymmer {v} flyttningar",
        "gross_traced": "spårade i marknadskörningarna rymmer kedjorna {v} flyttningar",
        "net": "marknaden som helhet får {v} fler flyttningar",
        "ratio": "netto / brutto (undanträngningskvot) {v}",
        "municipality": "I programmets kommun: brutto {g}, netto {n}; i resten av regionen: brutto {gr}, netto {nr}.",
        "why": ("Varför de skiljer sig: brutto räknar varje flyttning i kedjorna som om den vore tillkommande. "
                "Netto är den parade förändringen av alla flyttningar på marknaden: många hushåll som flyttar "
                "in i de nya bostäderna, och de som följer efter dem, hade annars fyllt andra vakanser, så en "
                "del av bruttokedjan tränger undan flyttningar som ändå hade skett (ju lägre kvot, desto mer). "
                "Modellens och det spårade bruttot skiljer sig genom modellens fel (strata, kedjor av första "
                "ordningen) och genom lokal mättnad på marknaden."),
        "displaced": "Av varje 100 flyttningar i dess kedjor tränger ungefär {d} undan en flyttning som ändå hade skett.",
        "beyond": ("Nettot är inte lägre än bruttot här: utöver sina egna kedjor ändrar programmet andra flyttningar "
                   "på marknaden, eller så är replikeringarna för få för att avgöra det (se intervallet)."),
        "resolved": "{a} mot {b}: skillnad i nettoflyttningar {v} — {verdict}.",
        "yes": "avgjord (95-procentsintervallet utesluter noll)",
        "no": "inte avgjord",
        "after": "efter {n} replikeringar",
        "interval": "95-procentsintervall",
        "na": "saknas",
    },
}


def _has(table: pl.DataFrame, col: str) -> bool:
    return col in table.columns


def headline(table: pl.DataFrame) -> pl.DataFrame:
    """Rows for whole programmes over the whole region (all rows of tables without those columns)."""
    out = table
    if _has(out, "line"):
        out = out.filter(pl.col("line").is_null())
    if _has(out, "area"):
        out = out.filter(pl.col("area") == "region")
    return out


def _fmt(v, digits: int = 0, lang: str = "en") -> str:
    s = f"{abs(v):,.{digits}f}"
    s = s.replace(",", "\u00a0").replace(".", ",") if lang == "sv" else s
    return ("\u2212" + s) if v < 0 and s.strip("0,. \u00a0") else s


def _interval(lo, hi, digits: int, lang: str) -> str:
    return f" ({_fmt(lo, digits, lang)} {'till' if lang == 'sv' else 'to'} {_fmt(hi, digits, lang)})"


def _estimate(table, programme, method, measure, area="region") -> float | None:
    d = table.filter((pl.col("programme") == programme) & (pl.col("method") == method) & (pl.col("measure") == measure))
    if _has(d, "line"):
        d = d.filter(pl.col("line").is_null())
    if _has(d, "area"):
        d = d.filter(pl.col("area") == area)
    return d["estimate"][0] if d.height and not d["suppressed"][0] else None  # never a withheld estimate


def _value(table, programme, method, measure, area="region", lang="en", digits=0) -> str | None:
    d = table.filter((pl.col("programme") == programme) & (pl.col("method") == method) & (pl.col("measure") == measure))
    if _has(d, "line"):
        d = d.filter(pl.col("line").is_null())
    if _has(d, "area"):
        d = d.filter(pl.col("area") == area)
    if d.height == 0 or d["estimate"][0] is None:
        return None
    r = d.row(0, named=True)
    if r.get("suppressed"):  # withheld by disclosure control: the mark, never the estimate
        return SUPPRESSED_MARK
    txt = _fmt(r["estimate"], digits, lang)
    if r["lower"] is not None and r["upper"] is not None:
        txt += _interval(r["lower"], r["upper"], digits, lang)
    return txt


def summary_paragraphs(table: pl.DataFrame, differences: list[dict] | None = None, lang: str = "en") -> list[str]:
    """One paragraph per programme (the three quantities and why they differ), then the differences."""
    T = TEXT["sv" if lang == "sv" else "en"]
    out = []
    for prog in table["programme"].unique(maintain_order=True).to_list():
        parts = []
        for key, method, measure, digits in (("gross_model", "transition_model", GROSS, 0),
                                             ("gross_traced", "microsimulation", GROSS, 0),
                                             ("net", "microsimulation", NET, 0),
                                             ("ratio", "microsimulation", RATIO, 2)):
            v = _value(table, prog, method, measure, lang=lang, digits=digits)
            if v is not None:
                parts.append(T[key].format(v=v))
        if not parts:
            continue
        text = f"{prog}: " + "; ".join(parts) + "."
        g, n = (_value(table, prog, "microsimulation", m, "municipality", lang) for m in (GROSS, NET))
        gr, nr = (_value(table, prog, "microsimulation", m, "rest", lang) for m in (GROSS, NET))
        if g is not None and n is not None:
            text += " " + T["municipality"].format(g=g, n=n, gr=gr or T["na"], nr=nr or T["na"])
        ratio = _estimate(table, prog, "microsimulation", RATIO)
        if ratio is not None:
            text += " " + (T["displaced"].format(d=_fmt(100 * (1 - ratio), 0, lang)) if ratio < 1 else T["beyond"])
        out.append(text)
    if out:
        out.append(T["why"])
    for d in differences or []:
        v = f"{_fmt(d['difference'], 0, lang)}"
        if d["lower"] is not None and d["lower"] == d["lower"]:
            v += _interval(d["lower"], d["upper"], 0, lang)
        verdict = (T["yes"] if d["resolved"] else T["no"]) + ", " + T["after"].format(n=d["replications"])
        out.append(T["resolved"].format(a=d["a"], b=d["b"], v=v, verdict=verdict))
    return out


def summary_text(table: pl.DataFrame, differences: list[dict] | None = None, lang: str = "en") -> str:
    """``summary.txt``'s section in ``lang`` ("en" or "sv"): a title and :func:`summary_paragraphs`."""
    T = TEXT["sv" if lang == "sv" else "en"]
    return T["title"] + "\n" + "=" * len(T["title"]) + "\n\n" + "\n\n".join(summary_paragraphs(table, differences, lang))
