"""Excel export of the report tables: one sheet per table (both conventions' when the report has both),
withheld cells "..", undefined ratios ".", a notes sheet.

Written with xlsxwriter into a temporary file and renamed into place, with a
fixed creation date so the same report gives the same bytes.

Example
-------
>>> write_excel(report, "out/report.xlsx", lang="sv")   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import xlsxwriter

from flyttkedja.analysis.html import METHOD, REFERENCES
from flyttkedja.analysis.labels import SUPPRESSED_MARK, label
from flyttkedja.io import atomic_file

FIXED_DATE = dt.datetime(2000, 1, 1)  # not "now": same tables, same bytes
NUMBER_COLUMNS = ("value", "ci_low", "ci_high", "estimate", "lower", "upper", "n")
# SCB's table marks: ".." withheld (or not available), "." cannot occur — here an undefined ratio (0/0)
UNDEFINED_MARK = "."
UNDEFINED_NOTE = {"en": '"." = undefined: a ratio with no records in its base (0/0), or no interval.',
                  "sv": '"." = ej definierad: en kvot utan poster i basen (0/0), eller inget intervall.'}


def write_excel(report, path: str | os.PathLike, *, lang: str = "en", scenario: pl.DataFrame | None = None) -> Path:
    """Write ``report``'s tables (and ``scenario``, when given) to an .xlsx workbook at ``path``, atomically."""
    path = Path(path)
    frames = report.release_tables()  # both conventions: the other's tables are published too (same release)
    if scenario is not None:
        frames["scenario"] = scenario
    with atomic_file(path) as tmp:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_numbers": False})
        wb.set_properties({"title": label("title", lang), "created": FIXED_DATE})
        fmt = {"head": wb.add_format({"bold": True, "bg_color": "#F4F4F4", "border": 1}),
               "mark": wb.add_format({"font_color": "#B00000", "align": "right"}),
               "num": wb.add_format({"num_format": "0.000"})}
        for name, frame in frames.items():
            _sheet(wb.add_worksheet(name[:31]), frame, lang, fmt)
        _notes(wb.add_worksheet("notes"), report, lang, fmt, list(frames))
        wb.close()
    return path


def _sheet(ws, frame: pl.DataFrame, lang: str, fmt: dict) -> None:
    cols = [c for c in frame.columns if c != "suppressed"]
    for j, c in enumerate(cols):
        ws.write_string(0, j, label(c, lang), fmt["head"])
        ws.set_column(j, j, max(10, len(label(c, lang)) + 2))
    suppressed = frame["suppressed"].to_list() if "suppressed" in frame.columns else [False] * frame.height
    for j, c in enumerate(cols):
        for i, v in enumerate(frame[c].to_list(), start=1):
            if isinstance(v, str):
                ws.write_string(i, j, label(v, lang))
            elif suppressed[i - 1] and (v is None or (c in NUMBER_COLUMNS and c != "n")):
                ws.write_string(i, j, SUPPRESSED_MARK, fmt["mark"])
            elif v is None:
                ws.write_string(i, j, UNDEFINED_MARK, fmt["mark"])
            elif isinstance(v, bool):
                ws.write_boolean(i, j, v)
            elif isinstance(v, float):
                ws.write_number(i, j, v, fmt["num"])
            else:
                ws.write_number(i, j, v)
    ws.freeze_panes(1, 0)


def _notes(ws, report, lang: str, fmt: dict, sheets: list[str]) -> None:
    threshold = report.options.get("threshold", 5)
    rows = [label("title", lang), "", label("suppressed_note", lang).format(t=threshold),
            UNDEFINED_NOTE.get(lang, UNDEFINED_NOTE["en"]), "",
            METHOD[lang], ""]
    rows += [f"{k}: {v}" for k, v in sorted(report.parameters().items())
             if k in ("by", "replicates", "level", "seed", "disclosure", "threshold", "rules", "rounds")]
    rows += [""] + [f"{s}: {label(s, lang)}" for s in sheets] + [""] + list(REFERENCES)
    ws.set_column(0, 0, 120)
    for i, text in enumerate(rows):
        ws.write_string(i, 0, text, fmt["head"] if i == 0 else None)
