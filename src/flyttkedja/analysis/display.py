"""Rich display in notebooks: the HTML that ``Report``, ``ChainSet`` and the scenario comparison show in Jupyter.

Each function returns a small HTML fragment (no scripts): a one-line summary,
a few key figures and the key table, labelled as in the report. Only published
aggregates appear — cells of tables that went through the report's disclosure
control, with ".." where a cell is withheld — never an identifier.

Example
-------
>>> report          # in a notebook cell: Jupyter calls report._repr_html_()   # doctest: +SKIP
>>> chainset_html(chainset)[:40]                                                # doctest: +SKIP
'<div class="flyttkedja"><style>.flyttkedja'
"""

from __future__ import annotations

from html import escape

import polars as pl

from flyttkedja.analysis.labels import SUPPRESSED_MARK, label

STYLE = (".flyttkedja table{border-collapse:collapse;font-size:.9em;margin:.3em 0}"
         ".flyttkedja td,.flyttkedja th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
         ".flyttkedja td.k{text-align:left}.flyttkedja td.s{color:#b00}.flyttkedja th{background:#f4f4f4}"
         ".flyttkedja th:first-child{text-align:left}.flyttkedja .note{color:#666;font-size:.85em}")
#: headline measures of a scenario comparison, in the order shown (those present)
KEY_MEASURES = ("moves_gross_per_100_new", "moves_net_per_100_new", "displacement_ratio", "moves_per_100_new",
                "chain_length_mean")


def _frame(title: str, body: str, note: str = "") -> str:
    return (f'<div class="flyttkedja"><style>{STYLE}</style><b>{escape(title)}</b>{body}'
            + (f'<p class="note">{escape(note)}</p>' if note else "") + "</div>")


def _v(x, digits: int) -> str:
    return SUPPRESSED_MARK if x is None else f"{x:.{digits}f}"


def _ci(value, low, high, digits: int) -> str:
    if value is None:
        return SUPPRESSED_MARK
    if low is None or high is None:
        return _v(value, digits)
    return f"{_v(value, digits)} ({_v(low, digits)}–{_v(high, digits)})"


def _table(head: list[str], rows: list[list[tuple[str, bool]]]) -> str:
    """``rows`` of (text, is_key) cells; a cell whose text is ".." is marked as withheld."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="{"s" if text == SUPPRESSED_MARK else "k" if key else ""}">{escape(text)}</td>'
        for text, key in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def length_table(summary: pl.DataFrame, by: tuple[str, ...], lang: str = "en") -> str:
    """The chain-length summary (a ``length_summary`` table) by seed group: chains, mean (interval), median, per 100."""
    t = lambda k: label(k, lang)  # noqa: E731
    wide: dict[str, dict] = {}
    for r in summary.iter_rows(named=True):
        group = " / ".join(t(r[c]) for c in by) if by else t("all")
        wide.setdefault(group, {})[r["statistic"]] = r
    rows = []
    for group, d in wide.items():
        mean, median, per_100 = d.get("mean", {}), d.get("median", {}), d.get("per_100", {})
        rows.append([(group, True), (_v(mean.get("n_base"), 0), False),
                     (_ci(mean.get("value"), mean.get("ci_low"), mean.get("ci_high"), 2), False),
                     (_v(median.get("value"), 0), False), (_v(per_100.get("value"), 0), False)])
    head = [" / ".join(t(c) for c in by) or t("group"), t("chains"), t("mean_length"), t("median"),
            t("moves_per_100")]
    return _table(head, rows)


def report_html(report, lang: str = "en") -> str:
    """A Report in a notebook: its settings, the length summary by seed group and the list of its tables."""
    o = report.options
    settings = (f"by {', '.join(report.by) or 'all seeds'}; disclosure {o['disclosure'] or 'none'}"
                + (f" (threshold {o['threshold']})" if o["disclosure"] == "suppress" else "")
                + (f"; {int(o['level'] * 100)}% bootstrap intervals, {o['replicates']} replicates, resampling "
                   f"{report.bootstrap_units['resampled']}" if o["ci"] else "; no intervals")
                + f"; {getattr(report, 'convention', 'path')} convention")
    listing = ", ".join(f"{name} ({frame.height} rows, {int(frame['suppressed'].sum())} withheld)"
                        if "suppressed" in frame.columns else f"{name} ({frame.height} rows)"
                        for name, frame in report.tables.items())
    body = (f'<p class="note">{escape(settings)}</p>'
            + length_table(report.tables["length_summary"], report.by, lang)
            + f'<p class="note">tables: {escape(listing)}</p>')
    return _frame(f"Report: {label('title', lang).lower()}", body,
                  "report.html(lang=…) / report.write(dir) for the full report; print(report) for the text summary")


def chainset_html(chainset, threshold: int = 5) -> str:
    """A ChainSet in a notebook: what was traced and the length summary by seed tenure, disclosure-controlled.

    The figures come from :func:`flyttkedja.analysis.length_summary` with the
    report's suppression (``threshold``, secondary suppression) and no
    intervals, so they are quick and safe to show; no identifier appears.
    """
    from flyttkedja.analysis.tables import length_summary

    by = ("tenure",) if "tenure" in chainset.chains.columns else ()
    summary = length_summary(chainset, by=by, ci=False, disclosure="suppress", threshold=threshold)
    p = chainset.params
    window = p.get("window")
    traced = "; ".join(x for x in (
        f"convention {p.get('convention', 'path')}",
        f"seeds {p['seeds']}" if isinstance(p.get("seeds"), str) else "",
        f"window {window[0]} – {window[1]}" if isinstance(window, (list, tuple)) and len(window) == 2 else "",
        f"gap limit {p['max_gap_days']} days" if p.get("max_gap_days") is not None else "") if x)
    margin = summary.filter(pl.all_horizontal([pl.col(c) == "all" for c in by])) if by else summary
    mean = next((r for r in margin.iter_rows(named=True) if r["statistic"] == "mean"), {})
    head = f'<p>{_v(mean.get("n_base"), 0)} chains, {_v(mean.get("n"), 0)} links (moves)</p>'
    return _frame("ChainSet", f'<p class="note">{escape(traced)}</p>' + head + length_table(summary, by),
                  f"figures with disclosure control (threshold {threshold}); cs.chains and cs.links hold the "
                  "microdata: keep them on the secure side")


def headline_rows(comparison: pl.DataFrame) -> pl.DataFrame:
    """The comparison's headline rows: :data:`KEY_MEASURES`, for whole programmes over the whole region."""
    d = comparison.filter(pl.col("measure").is_in(KEY_MEASURES))
    if "line" in d.columns:
        d = d.filter(pl.col("line").is_null())
    if "area" in d.columns:
        d = d.filter(pl.col("area").is_null() | (pl.col("area") == "region"))
    order = {m: i for i, m in enumerate(KEY_MEASURES)}
    return (d.with_columns(_o=pl.col("measure").replace_strict(order, return_dtype=pl.Int32))
            .sort(["programme", "_o", "method", "group"], nulls_last=False).drop("_o"))


def comparison_html(comparison: pl.DataFrame, warnings=(), lang: str = "en") -> str:
    """A scenario comparison in a notebook: programmes and methods, the headline measures with intervals, warnings."""
    t = lambda k: label(k, lang)  # noqa: E731
    programmes = comparison["programme"].unique(maintain_order=True).to_list()
    methods = [t(m) for m in comparison["method"].unique(maintain_order=True).to_list()]
    key = headline_rows(comparison)
    rows = [[(r["programme"], True), (t(r["method"]), True), (r["measure"].replace("_", " "), True),
             (SUPPRESSED_MARK if r["suppressed"] else _ci(r["estimate"], r["lower"], r["upper"], 2), False)]
            for r in key.iter_rows(named=True)]
    body = (f"<p>{len(programmes)} programme(s): {escape(', '.join(programmes))}; methods: "
            f"{escape(', '.join(methods))}; {comparison['measure'].n_unique()} measures, "
            f"{comparison.height} rows</p>"
            + _table([t("programme"), t("method"), t("measure"), f"{t('estimate')} (95%)"], rows))
    if warnings:
        body += "<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>"
    return _frame("Scenario comparison", body, "comparison.table holds every measure; "
                  "Report.write(dir, scenario=comparison.table) draws them")
