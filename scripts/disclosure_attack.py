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
import polars as pl

from flyttkedja.analysis import Report
from flyttkedja.analysis.disclosure import attack
from flyttkedja.core import read_chainset


def fast_attack(model, suppressed: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`flyttkedja.analysis.disclosure.attack` with one HiGHS model re-solved from the last basis.

    Same LPs (min and max of each target over the same feasible set); with
    ``highspy`` (optional, not a flyttkedja dependency) only the objective
    changes between solves, so simplex warm starts make a large audit fast.
    Without highspy it falls back to :func:`attack`.
    """
    try:
        import highspy
    except ImportError:
        return attack(model, suppressed, targets)
    from scipy import sparse

    A, x = model.A, model.x
    pub = np.flatnonzero(~suppressed)
    rows = sparse.vstack([A[pub], model.E, model.G]).tocsc()
    rhs = np.r_[A[pub] @ x, np.zeros(model.E.shape[0])]
    lower = np.r_[rhs, np.full(model.G.shape[0], -highspy.kHighsInf)]
    upper = np.r_[rhs, np.zeros(model.G.shape[0])]
    n = A.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, rows.shape[0]
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = rows.indptr, rows.indices
    lp.a_matrix_.value_ = rows.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    low = np.full(A.shape[0], np.nan)
    high = np.full(A.shape[0], np.nan)
    previous = np.zeros(0, np.int32)
    for p in targets:
        row = A[p]
        idx = np.union1d(previous, row.indices).astype(np.int32)  # HiGHS refuses repeated indices
        cost = np.zeros(len(idx))
        cost[np.searchsorted(idx, row.indices)] = row.data
        h.changeColsCost(len(idx), idx, cost)
        previous = row.indices.astype(np.int32)
        for sense, out in ((highspy.ObjSense.kMinimize, low), (highspy.ObjSense.kMaximize, high)):
            h.changeObjectiveSense(sense)
            h.run()
            status = h.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                out[p] = h.getInfo().objective_function_value
            elif status == highspy.HighsModelStatus.kUnbounded:
                out[p] = np.inf if sense == highspy.ObjSense.kMaximize else -np.inf
    return low, high


def audit(report: Report) -> dict:
    """Cells, withheld counts and what the LP attack recovers from the release (all tables, ledger included)."""
    st = report.state
    A = st.model.A
    published = st.published()
    nonempty = np.diff(A.indptr) > 0  # counts with no cell at all are structural zeros
    targets = np.flatnonzero(~published & nonempty)
    t = time.perf_counter()
    low, high = fast_attack(st.model, ~published, targets)
    low, high = np.ceil(low[targets] - 1e-6), np.floor(high[targets] + 1e-6)
    truth = np.rint(st.model.values[targets])
    width = high - low
    return {"items": int(A.shape[0]), "cells": int(A.shape[1]), "withheld": int(len(targets)),
            "exact": int((width <= 0).sum()), "within_1": int((width <= 2).sum()),
            "exact_true_1_4": int(((width <= 0) & (truth >= 1) & (truth <= 4)).sum()),
            "narrowest_interval": None if not len(width) else float(width.min()),
            "attack_seconds": round(time.perf_counter() - t, 1), "lps_protection": int(st.protection.lps)}


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
        old = pl.read_parquet(directory / f"{name}.parquet")
        if old.height != frame.height:
            raise SystemExit(f"{directory}/{name}: {old.height} rows, expected {frame.height}")
        rows = slice(offset, offset + frame.height)
        published[st.num[rows][old["n"].is_not_null().to_numpy()]] = True
        published[st.den[rows][old["n_base"].is_not_null().to_numpy()]] = True
        offset += frame.height
    A = st.model.A
    targets = np.flatnonzero(~published & (np.diff(A.indptr) > 0))
    low, high = fast_attack(st.model, ~published, targets)
    low, high = np.ceil(low[targets] - 1e-6), np.floor(high[targets] + 1e-6)
    truth = np.rint(st.model.values[targets])
    width = high - low
    return {"items": int(A.shape[0]), "cells": int(A.shape[1]), "withheld": int(len(targets)),
            "exact": int((width <= 0).sum()), "within_1": int((width <= 2).sum()),
            "exact_true_1_4": int(((width <= 0) & (truth >= 1) & (truth <= 4)).sum())}


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
    args = ap.parse_args()
    cs = read_chainset(args.chains)
    out = {}
    if args.published_sequence:
        pairs = [item.split("=", 1) for item in args.published_sequence]
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Path(tmp) / "disclosure_ledger.json"
            for i, (by, directory) in enumerate(pairs):
                r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False, ledger=ledger)
                if i < len(pairs) - 1:  # record what the old report actually published
                    r.tables = {name: pl.read_parquet(Path(directory) / f"{name}.parquet") for name in r.tables}
                    r.record(f"release{i}")
            out["published sequence"] = audit_published(r, Path(pairs[-1][1]), known=r.state.model.fixed)
            print(json.dumps(out["published sequence"]), flush=True)
    for by, directory in args.published:
        r = Report(cs, areas=args.areas, by=[c for c in by.split(",") if c], ci=False)
        out[f"published {directory}"] = audit_published(r, Path(directory))
        print(json.dumps({directory: out[f"published {directory}"]}), flush=True)
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
