"""Issue 13: the traced gross C of single-kind lines of 600 dwellings in Kustvik over N paired replications
(the scenario's seeds, as scripts/scenario_figures.py's single kinds): per line the mean per 100 new
dwellings and its 95% t interval, and each replication's value.

    nice -n 19 python wip/traced_single_kinds.py [N] [--workers 2] [--kinds "public rental 2r" ...]
"""
import argparse
from functools import partial
from pathlib import Path

import numpy as np
from scipy import stats

from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.compare import replication_seeds
from flyttkedja.scenario.executor import map_replications
from flyttkedja.scenario.microsim import replicate
from flyttkedja.synth.config import load_config

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"public rental 2r": {"tenure": "rental", "landlord": "public", "rooms": 2},
         "cooperative 2r": {"tenure": "cooperative", "rooms": 2},
         "owner houses 4r": {"tenure": "owner", "rooms": 4, "building_type": "small_house"}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kinds", nargs="*", default=list(KINDS))
    args = ap.parse_args()
    base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
    muni, src = base.programmes[0].lines[0].municipality, base.source
    single = parse_scenario({"name": "single", "programme": [
        {"name": k, "line": [{"count": 600, "municipality": muni, **KINDS[k]}]} for k in args.kinds]})
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    results = map_replications(partial(replicate, cfg, single.programmes, src.years), replication_seeds(base.seed, args.n),
                               workers=args.workers)
    for i, prog in enumerate(single.programmes):
        c = np.array([r["gross"][i][:, 0, :].sum() for r in results]) * 100 / prog.dwellings
        half = stats.t.ppf(0.975, len(c) - 1) * c.std(ddof=1) / np.sqrt(len(c))
        print(f"{prog.name}: C {c.mean():.1f} ({c.mean() - half:.1f} to {c.mean() + half:.1f}), {len(c)} replications; "
              f"first 3 {c[:3].mean():.1f}; each {' '.join(f'{x:.0f}' for x in c)}", flush=True)


if __name__ == "__main__":
    main()
