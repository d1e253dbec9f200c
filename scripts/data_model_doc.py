"""Write docs/data-model.md from the schemas in flyttkedja.schema.

The field tables are generated so that the documentation cannot drift from
the code; tests/test_docs.py fails when the file is out of date.

    python scripts/data_model_doc.py            # rewrite docs/data-model.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from flyttkedja import schema

INTRO = """# Data model

flyttkedja reads and writes a few canonical tables, as Arrow schemas in
`flyttkedja.schema` (this page is generated from them by
`scripts/data_model_doc.py`). Every table may carry further columns after the
canonical ones; they are kept.

On input, `flyttkedja.conform(table, name)` casts columns to these types,
rewrites categorical codes to the canonical English code and checks the table
against the rule set (`flyttkedja.schema.RULES`, listed under
[Constraints](#constraints)): nulls in required columns, duplicate keys, unknown
codes, ranges, dates, consistency. Tenure, for example, is stored as `rental`,
`cooperative` or `owner`, and `hyresrätt`, `Bostadsrätt`, `äganderätt`,
`ägarlägenhet` and SCB's codes `1`, `2`, `3` are accepted on input (case and
diacritics are ignored). Dates must be of a date type (or ISO text): integers
such as `20200101` (YYYYMMDD) or Excel serial days are refused, not read as days
since 1970.

The same rules decide what `flyttkedja validate` reports and what `trace`,
`Report`, `from_snapshots` and `from_person_moves` refuse, before any work and
with one error naming the table, the column and example rows: a rule marked
*refuse* is refused there; a rule marked *count* is accepted there and counted
(the tracer's `quality["input_counts"]`; validate's `WARN` lines).

Dates are `date32` (days). Money is SEK per year, as integers. Identifiers are
pseudonymised integers and never appear in published tables.
"""

TABLE_NOTES = {
    "dwellings": "One row per dwelling of the study area (lägenhetsregistret). Key: `dwelling_id`.",
    "households": "Static attributes of households, one row each. Key: `household_id`.",
    "moves": (
        "One row per household move (the table order is the order of events within a day). "
        "A missing `from_dwelling` means the household left no dwelling in the study area "
        "behind (a new household, an in-migrant or an immigrant); a missing `to_dwelling` "
        "means it left the area or dissolved. `vacates` and `fills` come from occupancy: "
        "see [chains.md](chains.md) for how the tracer uses them. Consistency: "
        "`origin == \"dwelling\"` exactly when `from_dwelling` is present, "
        "`destination == \"dwelling\"` exactly when `to_dwelling` is present."
    ),
    "areas": "One row per small area (DeSO/RegSO-like). Key: `area_id`.",
    "persons": "SCB-style yearly snapshot panel: one row per person and year, referring to 31 December.",
    "person_events": "Dated person-level register events (folkbokföring), input to `flyttkedja.ingest.from_person_moves`.",
}

ALIAS_NOTE = "Swedish names and SCB codes accepted on input: "


def _codes_cell(column: str) -> str:
    allowed = schema.CODE_LISTS.get(column)
    if not allowed:
        return ""
    text = ", ".join(f"`{c}`" for c in allowed)
    aliases = schema._ALIASES.get(column.removeprefix("head_"), {})
    if aliases:
        text += "<br>also: " + ", ".join(f"`{a}`→`{c}`" for a, c in aliases.items())
    return text


def _constraints() -> str:
    """The rule set, one table per canonical table (structural rules summarised in one line)."""
    lines = ["\n## Constraints\n",
             "Besides nulls in the columns marked *no* above, unknown codes and duplicate keys "
             f"(all refused), these rules hold (bounds: size 1..{schema.MAX_SIZE}, age 0..{schema.MAX_AGE}, "
             f"rooms 0..{schema.MAX_ROOMS}, floor area 1..{schema.MAX_FLOOR_AREA} m², |income| ≤ "
             f"{schema.MAX_INCOME:,} SEK, dates {schema.DATE_MIN}..{schema.DATE_MAX}). Rules of scope "
             "*register* relate two tables (moves to dwellings, dwellings to areas, persons to dwellings). "
             "The three occupancy rules (flags against each dwelling's replayed occupancy) are counted by "
             "`validate`; the tracer counts what they do to chains (`inconsistent_vacancies`, "
             "`orphan_fills`).\n"]
    for name in schema.SCHEMAS:
        content = [r for r in schema.rules(name) if r.message not in ("null value(s)", "duplicate id(s)")
                   and not r.message.startswith("unknown code(s)")]
        if not content:
            continue
        lines.append(f"\n### `{name}`\n\n| column | rule: rows with | scope | action |\n|---|---|---|---|")
        lines += [f"| `{r.column}` | {r.message} | {r.scope} | {r.action} |" for r in content]
    return "\n".join(lines) + "\n"


def render() -> str:
    parts = [INTRO]
    for name, table_schema in schema.SCHEMAS.items():
        parts.append(f"\n## `{name}`\n\n{TABLE_NOTES[name]}\n")
        parts.append("| column | type | nulls | codes | meaning |\n|---|---|---|---|---|")
        for field in table_schema:
            doc = field.metadata[b"doc"].decode()
            nulls = "allowed" if field.nullable else "no"
            parts.append(f"| `{field.name}` | {field.type} | {nulls} | {_codes_cell(field.name)} | {doc} |")
    parts.append(_constraints())
    parts.append(
        "\n## End reasons\n\nHow a traced chain ends (`chains.end_reason`); the rule is in "
        "[chains.md](chains.md): " + ", ".join(f"`{r}`" for r in schema.END_REASONS) + ".\n"
    )
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
    target.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
