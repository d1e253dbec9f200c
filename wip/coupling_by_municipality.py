"""Identical-move share of the 10-dwelling probe (scripts/coupling.py) by year and municipality of the move's
destination (else origin): does the perturbation stay in Kustvik (9983) or spread through the region at once?

    python wip/coupling_by_municipality.py [scale] [years]
"""
import sys

import numpy as np

sys.path.insert(0, "scripts")
import coupling as C  # noqa: E402

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
years = int(sys.argv[2]) if len(sys.argv) > 2 else 3
base, run = C._probe_runs(scale, years, 7, 10, {})
by, _, same = C.identical(base, run)
to, frm = base.moves_column("to_dwelling"), base.moves_column("from_dwelling")
dw = np.where(to >= 0, to, frm)
muni = base.dwellings_column("municipality")[dw]
print("municipality (index): moves in the first year; identical by year")
for mu in np.unique(muni):
    sel = muni == mu
    cells = " / ".join(f"{same[sel & (by == y)].mean():.1%}" for y in np.unique(by))
    print(f"  {mu:2d}: {int((sel & (by == by.min())).sum()):6d}  {cells}")
