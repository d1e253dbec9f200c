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
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from flyttkedja.analysis import Report
from flyttkedja.analysis.disclosure import attack
from flyttkedja.core import read_chainset


def audit(report: Report) -> dict:
    """Cells, withheld counts and what the LP attack recovers from the release (all tables, ledger included)."""
    st = report.state
    A = st.model.A
    published = st.published()
    nonempty = np.diff(A.indptr) > 0  # counts with no cell at all are structural zeros
    targets = np.flatnonzero(~published & nonempty)
    t = time.perf_counter()
    low, high = attack(st.model, ~published, targets)
    low, high = np.ceil(low[targets] - 1e-6), np.floor(high[targets] + 1e-6)
    truth = np.rint(st.model.values[targets])
    width = high - low
    return {"items": int(A.shape[0]), "cells": int(A.shape[1]), "withheld": int(len(targets)),
            "exact": int((width <= 0).sum()), "within_1": int((width <= 2).sum()),
            "exact_true_1_4": int(((width <= 0) & (truth >= 1) & (truth <= 4)).sum()),
            "narrowest_interval": None if not len(width) else float(width.min()),
            "attack_seconds": round(time.perf_counter() - t, 1), "lps_protection": int(st.protection.lps)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chains", type=Path)
    ap.add_argument("--areas", type=Path, default=None)
    ap.add_argument("--by", action="append", default=[], help="one report per --by (comma-separated)")
    ap.add_argument("--sequence", nargs="*", default=[], help="by choices published one after another, one ledger")
    args = ap.parse_args()
    cs = read_chainset(args.chains)
    out = {}
    for by in args.by:
        t = time.perf_counter()
        r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False)
        out[f"by {by}"] = {**audit(r), "report_seconds": round(time.perf_counter() - t, 1)}
        print(json.dumps({by: out[f"by {by}"]}), flush=True)
    if args.sequence:
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Path(tmp) / "disclosure_ledger.json"
            for i, by in enumerate(args.sequence):
                t = time.perf_counter()
                r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False, ledger=ledger)
                r.record(f"release{i}")
                out[f"sequence {i + 1}: by {by}"] = {**audit(r), "report_seconds": round(time.perf_counter() - t, 1)}
                print(json.dumps({f"sequence {i + 1}": out[f"sequence {i + 1}: by {by}"]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
