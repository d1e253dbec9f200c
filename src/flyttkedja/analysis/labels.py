"""Swedish and English labels for report codes, headings and column names.

One dictionary per language so the HTML report, the Excel export and the demo
show the same words. Unknown keys fall back to the key itself, so new codes
never break a report (they just appear untranslated).

Example
-------
>>> label("rental", "sv")
'hyresrätt'
>>> label("young_adults", "en")
'young adults (18–29)'
"""

from __future__ import annotations

LANGS: tuple[str, ...] = ("en", "sv")

#: Mark of a withheld (suppressed) cell, as in SCB's tables.
SUPPRESSED_MARK = ".."

_LABELS: dict[str, tuple[str, str]] = {  # key: (en, sv)
    # tenures (schema.TENURES)
    "rental": ("rental", "hyresrätt"),
    "cooperative": ("cooperative", "bostadsrätt"),
    "owner": ("owner-occupied", "äganderätt"),
    "all": ("all", "alla"),
    # landlords and building types (schema.LANDLORDS, schema.BUILDING_TYPES)
    "public": ("public", "allmännyttig"),
    "private": ("private", "privat"),
    "multi_dwelling": ("multi-dwelling", "flerbostadshus"),
    "small_house": ("small house", "småhus"),
    # end reasons (schema.END_REASONS)
    "new_household": ("new household", "nytt hushåll"),
    "in_migrant": ("in-migrant", "inflyttare (inrikes)"),
    "immigrant": ("immigrant", "invandrare"),
    "not_vacated": ("old dwelling kept", "gamla bostaden behölls"),
    "unfilled": ("vacancy not filled", "vakansen fylldes inte"),
    "censored": ("censored (window end)", "censurerad (periodens slut)"),
    "cycle": ("cycle", "cykel"),
    "max_length": ("maximum length", "maxlängd"),
    # target groups (analysis.groups.TARGET_GROUPS)
    "young_adults": ("young adults (18–29)", "unga vuxna (18–29)"),
    "seniors": ("seniors (65+)", "äldre (65+)"),
    "low_income": ("low income", "låg inkomst"),
    "lowest_quintile": ("lowest income quintile", "lägsta inkomstkvintilen"),
    "families": ("families with children", "barnfamiljer"),
    "born_abroad": ("born abroad", "utrikes födda"),
    # area types (schema.AREA_TYPES) and income classes
    "major_challenges": ("major challenges", "stora utmaningar"),
    "challenges": ("challenges", "utmaningar"),
    "mixed": ("mixed", "blandad"),
    "good": ("good conditions", "goda förutsättningar"),
    "very_good": ("very good conditions", "mycket goda förutsättningar"),
    "below_median": ("below-median-income areas", "områden under medianinkomst"),
    "bottom_quintile": ("bottom-quintile areas", "områden i lägsta kvintilen"),
    # statistics
    "share": ("share", "andel"),
    "per_100": ("per 100 new dwellings", "per 100 nya bostäder"),
    "mean": ("mean", "medel"),
    "median": ("median", "median"),
    "cumulative_per_100": ("cumulative per 100 new", "kumulativt per 100 nya"),
    "share_of_chains": ("share of chains", "andel av kedjorna"),
    "share_of_origin": ("share of origin", "andel av ursprung"),
    # columns
    "convention": ("convention", "konvention"),
    "path": ("path (one move per vacancy)", "kedja (en flytt per vakans)"),
    "tree": ("tree (everyone moving in together)", "träd (alla som flyttar in tillsammans)"),
    "depth": ("depth (rounds)", "djup (omgångar)"),
    "tenure": ("tenure", "upplåtelseform"),
    "length": ("length", "längd"),
    "step": ("step", "steg"),
    "statistic": ("statistic", "mått"),
    "n": ("n", "antal"),
    "n_base": ("base", "bas"),
    "value": ("value", "värde"),
    "ci_low": ("lower 95%", "nedre 95 %"),
    "ci_high": ("upper 95%", "övre 95 %"),
    "lower": ("lower 95%", "nedre 95 %"),
    "upper": ("upper 95%", "övre 95 %"),
    "estimate": ("estimate", "skattning"),
    "suppressed": ("suppressed", "undertryckt"),
    "dimension": ("dimension", "dimension"),
    "category": ("category", "kategori"),
    "target_group": ("target group", "målgrupp"),
    "area_class": ("area class", "områdesklass"),
    "end_reason": ("end reason", "slutorsak"),
    "origin": ("origin", "ursprung"),
    "destination": ("destination", "destination"),
    "programme": ("programme", "program"),
    "method": ("method", "metod"),
    "measure": ("measure", "mått"),
    "group": ("group", "grupp"),
    "rooms": ("rooms", "rum"),
    "size_band": ("size band", "storleksklass"),
    "area_type": ("area type", "områdestyp"),
    "seed_year": ("completion year", "färdigställandeår"),
    # tables
    "length_distribution": ("Chain length distribution", "Kedjelängdens fördelning"),
    "length_summary": ("Chain length summary", "Kedjelängd, sammanfattning"),
    "flows": ("Vacancy flows", "Vakansflöden"),
    "reach": ("Reach of target groups", "Målgrupper som nås"),
    "rounds": ("Rounds", "Omgångar"),
    "end_reasons": ("How chains end", "Hur kedjorna slutar"),
    "segregation": ("Moves between area types", "Flyttningar mellan områdestyper"),
    "scenario": ("Scenario comparison", "Scenariojämförelse"),
    "explorer": ("Scenario explorer", "Scenarioutforskare"),
    "notes": ("Notes", "Anmärkningar"),
    # headings and text
    "title": ("Vacancy chains of new dwellings", "Flyttkedjor från nyproduktion"),
    "chains": ("chains", "kedjor"),
    "new_builds": ("new dwellings", "nya bostäder"),
    "mean_length": ("mean chain length", "medellängd"),
    "moves_per_100": ("moves per 100 new dwellings", "flyttningar per 100 nya bostäder"),
    "sankey": ("Vacancy flows by step: new-build tenure → vacated tenure",
               "Vakansflöden per steg: nybyggets upplåtelseform → lämnad bostads upplåtelseform"),
    "method_note": ("Method", "Metod"),
    "tables": ("Tables", "Tabeller"),
    "suppressed_note": ('".." = withheld by disclosure control (1 to {t} − 1 records, or needed to protect such a cell).',
                        '".." = undertryckt av röjandeskydd (1 till {t} − 1 poster, eller behövs för att skydda en sådan cell).'),
    "interval_note": ("Bars: 95% bootstrap intervals.", "Strecken: 95 % bootstrapintervall."),
    "no_data": ("no publishable cells", "inga publicerbara celler"),
    "sankey_note": ("Band width: dwellings vacated at the chosen step of the chains, from the new dwelling's seed "
                    "group (left) to the tenure of the dwelling left behind (right). Move the slider to follow "
                    "the chains step by step; hover for the figures.",
                    "Bandens bredd: bostäder som lämnats i valt steg av kedjorna, från den nya bostadens grupp "
                    "(vänster) till upplåtelseformen för den lämnade bostaden (höger). Flytta reglaget för att "
                    "följa kedjorna steg för steg; håll pekaren över för talen."),
    "scenario_note": ("Pick the measure in the menu; estimate per programme by method.",
                      "Välj mått i menyn; skattning per program och metod."),
    "no_charts": ("The charts could not be drawn here (they need JavaScript and a browser from 2023 or later); "
                  "every figure is in the tables below.",
                  "Diagrammen kunde inte ritas här (de kräver JavaScript och en webbläsare från 2023 eller "
                  "senare); alla tal finns i tabellerna nedan."),
    "charts_credit": ("Charts drawn with plotly.js {v} (MIT licence), included in this file.",
                      "Diagrammen ritas med plotly.js {v} (MIT-licens), som ingår i filen."),
    "length_moves": ("chain length (moves)", "kedjans längd (flyttningar)"),
    "withheld": ("withheld", "undertryckt"),
    "withheld_together": ("withheld shares together", "undertryckta andelar tillsammans"),
    "households": ("households", "hushåll"),
    "vacated": ("dwellings vacated", "lämnade bostäder"),
    "all_steps": ("all steps", "alla steg"),
    "new_build_side": ("new dwellings", "nya bostäder"),
    "vacated_side": ("dwelling left behind", "lämnad bostad"),
    "convention_path": ("paths: one filling per vacancy", "kedjor: en inflyttning per vakans"),
    "convention_tree": ("trees: every household moving in (CBS)", "träd: alla hushåll som flyttar in (CBS)"),
    # scenario measures (flyttkedja.scenario.compare): the headline ones; others show as their code
    "moves_gross_per_100_new": ("gross moves per 100 new dwellings", "bruttoflyttningar per 100 nya bostäder"),
    # two quantities, two names (neither begins like the other): the net a run measured on the market, and
    # the explorer's estimate of it for a new programme (the model's gross × the run's displacement ratio)
    "moves_net_per_100_new": ("net moves per 100 new dwellings (change in all moves of the market)",
                              "nettoflyttningar per 100 nya bostäder (förändring av alla flyttningar på marknaden)"),
    "moves_adjusted_per_100_new": ("displacement-adjusted gross per 100 new dwellings (gross × the run's "
                                   "displacement ratio for the lines' kinds)",
                                   "undanträngningsjusterat brutto per 100 nya bostäder (brutto × körningens "
                                   "undanträngningskvot för radernas slag)"),
    "displacement_ratio": ("displacement ratio (net / gross)", "undanträngningskvot (netto / brutto)"),
    "transition_model": ("transition model", "övergångsmodell"),
    "microsimulation": ("microsimulation", "mikrosimulering"),
}


def label(key: object, lang: str = "en") -> str:
    """The label of ``key`` in ``lang`` ("en" or "sv"); the key itself when unknown."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    pair = _LABELS.get(str(key))
    return str(key) if pair is None else pair[LANGS.index(lang)]
