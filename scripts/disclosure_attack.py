"""Attack published reports the way an intruder with scipy would, and count what they recover.

For every withheld count of a release (and, with ``--sequence``, of a sequence
of releases recorded in one ledger) the attacker solves two linear programs:
min and max of the count over every non-negative cell vector consistent with
all published counts and the identities between tables
(:func:`flyttkedja.analysis.disclosure.attack`). A count is *recovered
exactly* when min = max, *to within ±1* when max − min ≤ 2.

Example
-------
    python scripts/disclosure_attack.py /tmp/chains --areas /tmp/reg/areas.parquet \\
        --by tenure,rooms --by tenure,municipality --sequence tenure rooms tenure,rooms
    python scripts/disclosure_attack.py /tmp/chains --areas /tmp/reg/areas.parquet --by tenure --both-conventions
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja import store
from flyttkedja.analysis import Report
from flyttkedja.analysis.disclosure import attack
from flyttkedja.core import read_chainset


def audit(report: Report) -> dict:
    """Cells, withheld counts and what the LP attack recovers from the release (all tables, ledger included)."""
    st = report.state
    t = time.perf_counter()
    out = attack_counts(st, st.published())
    return {**out, "attack_seconds": round(time.perf_counter() - t, 1), "lps_protection": int(st.protection.lps)}


def attack_counts(st, published: np.ndarray) -> dict:
    """Attack every count of release state ``st`` that ``published`` does not show; what it recovers."""
    A = st.model.A
    targets = np.flatnonzero(~published & (np.diff(A.indptr) > 0))  # counts of no cell are structural zeros
    low, high = attack(st.model, ~published, targets, enough=3)
    width = np.floor(high[targets] + 1e-6) - np.ceil(low[targets] - 1e-6)
    truth = np.rint(st.model.values[targets])
    return {"items": int(A.shape[0]), "cells": int(A.shape[1]), "withheld": int(len(targets)),
            "exact": int((width <= 0).sum()), "within_1": int((width <= 2).sum()),
            "exact_true_1_4": int(((width <= 0) & (truth >= 1) & (truth <= 4)).sum()),
            "narrowest_interval_below_3": None if not len(width) or width.min() >= 3 else float(width.min())}


def audit_published(report: Report, directory: Path, known: np.ndarray | None = None) -> dict:
    """Attack the tables a report directory (any version's ``report``) actually published, with this model.

    A count is published when any row of any table shows it (``n`` or
    ``n_base`` not null); rows are matched by position, so ``report`` must be
    built with the same ``by``, tables and options.
    """
    st = report.state
    published = np.zeros(st.model.A.shape[0], bool) if known is None else known.copy()
    offset = 0
    for name, frame in report.tables.items():
        old = pl.read_parquet(store.report_table_files(directory, name)[0])
        if old.height != frame.height:
            raise SystemExit(f"{directory}/{name}: {old.height} rows, expected {frame.height}")
        rows = slice(offset, offset + frame.height)
        published[st.num[rows][old["n"].is_not_null().to_numpy()]] = True
        published[st.den[rows][old["n_base"].is_not_null().to_numpy()]] = True
        offset += frame.height
    return attack_counts(st, published)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chains", type=Path)
    ap.add_argument("--areas", type=Path, default=None)
    ap.add_argument("--by", action="append", default=[], help="one report per --by (comma-separated)")
    ap.add_argument("--sequence", nargs="*", default=[], help="by choices published one after another, one ledger")
    ap.add_argument("--published", nargs=2, action="append", default=[], metavar=("BY", "DIR"),
                    help="attack what the report in DIR (written with --by BY, --replicates 0) published")
    ap.add_argument("--published-sequence", nargs="*", default=[], metavar="BY=DIR",
                    help="attack what several report directories published together (in this order)")
    ap.add_argument("--both-conventions", action="store_true", help="each --by report publishes both chain "
                    "conventions' tables (and the attacker sees both, differences between them included)")
    ap.add_argument("--docs", type=Path, default=None, help="write the figures into this Markdown file's generated "
                    "section (docs/disclosure.md)")
    ap.add_argument("--note", default="shared machine: seconds are indicative",
                    help="what the run was on (register, code, load), written after the command in --docs")
    args = ap.parse_args()
    cs = read_chainset(args.chains)
    out = {}
    if args.published_sequence:
        pairs = [item.split("=", 1) for item in args.published_sequence]
        with tempfile.TemporaryDirectory() as tmp:
            ledger = store.ledger_file(Path(tmp) / "report")
            for i, (by, directory) in enumerate(pairs):
                r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False, ledger=ledger)
                if i < len(pairs) - 1:  # record what the old report actually published
                    r.tables = {name: pl.read_parquet(store.report_table_files(directory, name)[0]) for name in r.tables}
                    r.record(f"release{i}")
            out["published sequence"] = audit_published(r, Path(pairs[-1][1]), known=r.state.model.fixed)
            print(json.dumps(out["published sequence"]), flush=True)
    for by, directory in args.published:
        r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False)
        out[f"published {directory}"] = audit_published(r, Path(directory))
        print(json.dumps({directory: out[f"published {directory}"]}), flush=True)
    for by in args.by:
        t = time.perf_counter()
        r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False,
                   both_conventions=args.both_conventions)
        seconds = round(time.perf_counter() - t, 1)  # the report alone, before the attack on it
        name = f"by {by}" + (", both conventions" if args.both_conventions else "")
        out[name] = {**audit(r), "report_seconds": seconds}
        print(json.dumps({name: out[name]}), flush=True)
    if args.sequence:
        with tempfile.TemporaryDirectory() as tmp:
            ledger = store.ledger_file(Path(tmp) / "report")
            for i, by in enumerate(args.sequence):
                t = time.perf_counter()
                r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False, ledger=ledger)
                r.record(f"release{i}")
                seconds = round(time.perf_counter() - t, 1)
                out[f"sequence {i + 1}: by {by}"] = {**audit(r), "report_seconds": seconds}
                print(json.dumps({f"sequence {i + 1}": out[f"sequence {i + 1}: by {by}"]}), flush=True)
    print(json.dumps(out, indent=2))
    if args.docs is not None:
        write_docs(args.docs, out, " ".join(["python", "scripts/disclosure_attack.py", *sys.argv[1:]]), args.note)


BEGIN, END = "<!-- disclosure_attack.py: begin -->", "<!-- disclosure_attack.py: end -->"


def write_docs(path: Path, out: dict, command: str, note: str = "shared machine: seconds are indicative") -> None:
    """Replace the generated section of ``path`` (between BEGIN and END) with the audit's figures;
    ``note``: what the run was on (the register, the code, the load), after the command."""
    rows = ["| release | cells | counts | withheld | exact | within ±1 | exact, true 1–4 | report s | attack s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, r in out.items():
        rows.append(f"| {name} | {r['cells']:,} | {r['items']:,} | {r['withheld']:,} | {r['exact']} | "
                    f"{r['within_1']} | {r['exact_true_1_4']} | {r.get('report_seconds', '')} | "
                    f"{r.get('attack_seconds', '')} |")
    block = "\n".join([BEGIN, f"Generated by `{command}` ({note}).", "",
                        *rows, END])
    text = path.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
