"""Rich display in notebooks: the HTML that ``Report`` and ``ChainSet`` show in Jupyter, and its parts.

The scenario comparison's display (:class:`flyttkedja.scenario.Comparison`) is
built from the same parts in :mod:`flyttkedja.scenario`.

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


def block(title: str, body: str, note: str = "") -> str:
    """A titled fragment with the display's own (scoped) style and an optional note."""
    return (f'<div class="flyttkedja"><style>{STYLE}</style><b>{escape(title)}</b>{body}'
            + (f'<p class="note">{escape(note)}</p>' if note else "") + "</div>")


def fmt(x, digits: int) -> str:
    """``x`` with ``digits`` decimals; ".." for a withheld (None) value."""
    return SUPPRESSED_MARK if x is None else f"{x:.{digits}f}"


def with_interval(value, low, high, digits: int) -> str:
    """"2.30 (2.00–2.60)"; the value alone without an interval; ".." when withheld."""
    if value is None:
        return SUPPRESSED_MARK
    if low is None or high is None:
        return fmt(value, digits)
    return f"{fmt(value, digits)} ({fmt(low, digits)}–{fmt(high, digits)})"


def html_table(head: list[str], rows: list[list[tuple[str, bool]]]) -> str:
    """``rows`` of (text, is_key) cells; a cell whose text is ".." is marked as withheld."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="{"s" if text == SUPPRESSED_MARK else "k" if key else ""}">{escape(text)}</td>'
        for text, key in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def lengthhtml_table(summary: pl.DataFrame, by: tuple[str, ...], lang: str = "en") -> str:
    """The chain-length summary (a ``length_summary`` table) by seed group: chains, mean (interval), median, per 100."""
    t = lambda k: label(k, lang)  # noqa: E731
    wide: dict[str, dict] = {}
    for r in summary.iter_rows(named=True):
        group = " / ".join(t(r[c]) for c in by) if by else t("all")
        wide.setdefault(group, {})[r["statistic"]] = r
    rows = []
    for group, d in wide.items():
        mean, median, per_100 = d.get("mean", {}), d.get("median", {}), d.get("per_100", {})
        rows.append([(group, True), (fmt(mean.get("n_base"), 0), False),
                     (with_interval(mean.get("value"), mean.get("ci_low"), mean.get("ci_high"), 2), False),
                     (fmt(median.get("value"), 0), False), (fmt(per_100.get("value"), 0), False)])
    head = [" / ".join(t(c) for c in by) or t("group"), t("chains"), t("mean_length"), t("median"),
            t("moves_per_100")]
    return html_table(head, rows)


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
            + lengthhtml_table(report.tables["length_summary"], report.by, lang)
            + f'<p class="note">tables: {escape(listing)}</p>')
    return block(f"Report: {label('title', lang).lower()}", body,
                  "report.html(lang=…) / report.write(dir) for the full report; print(report) for the text summary")


def chainset_html(chainset, threshold: int = 5) -> str:
    """A ChainSet in a notebook: what was traced and the length summary by seed tenure, disclosure-controlled.

    The figures come from :func:`flyttkedja.analysis.length_summary` with the
    report's suppression (``threshold``, secondary suppression) and no
    intervals, so they are quick and safe to show; no identifier appears.
    """
    from flyttkedja.analysis.tabulation import length_summary

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
    head = f'<p>{fmt(mean.get("n_base"), 0)} chains, {fmt(mean.get("n"), 0)} links (moves)</p>'
    return block("ChainSet", f'<p class="note">{escape(traced)}</p>' + head + lengthhtml_table(summary, by),
                  f"figures with disclosure control (threshold {threshold}); cs.chains and cs.links hold the "
                  "microdata: keep them on the secure side")
