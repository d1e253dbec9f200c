"""Issue 13: does the register's own bootstrap show the source noise of B?  For each source seed, the
bootstrap standard deviation (chains resampled, Poisson(1) weights: TransitionModel.bootstrap) of B of the
single-kind lines and the Kustvik programmes, to set against B's spread across source seeds
(wip/model_source_noise.py).

    nice -n 19 python wip/bootstrap_vs_source.py [SEEDS ...] [--replicates 100]
"""
import argparse
import warnings
from pathlib import Path

import numpy as np

from flyttkedja.core import trace
from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.compare import programme_kinds
from flyttkedja.scenario.model import estimate
from flyttkedja.synth import generate

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"public rental 2r": {"tenure": "rental", "landlord": "public", "rooms": 2},
         "cooperative 2r": {"tenure": "cooperative", "rooms": 2},
         "owner houses 4r": {"tenure": "owner", "rooms": 4, "building_type": "small_house"}}
ap = argparse.ArgumentParser()
ap.add_argument("seeds", nargs="*", type=int, default=[7])
ap.add_argument("--replicates", type=int, default=100)
args = ap.parse_args()
base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
muni = base.programmes[0].lines[0].municipality
progs = (*parse_scenario({"name": "single", "programme": [
    {"name": k, "line": [{"count": 600, "municipality": muni, **a}]} for k, a in KINDS.items()]}).programmes,
    *base.programmes)
for seed in args.seeds:
    reg = generate(base.source.preset, scale=1.0, years=5, seed=seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    del reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    kinds = [programme_kinds(model, p)[:2] for p in progs]

    def fn(probs):
        return [100 * sum(c * model.expectations(w, g, probs, f)["moves"] for (w, g, f), c in zip(ks, counts))
                / counts.sum() for ks, counts in kinds]

    point = np.array(fn(model.probabilities()))
    boot = model.bootstrap(fn, args.replicates, seed=1)
    sd = boot.std(axis=0, ddof=1)
    print(f"seed {seed}: " + "; ".join(f"{p.name} B {b:.1f} bootstrap sd {s:.1f} ({100 * s / b:.1f}%)"
                                      for p, b, s in zip(progs, point, sd)), flush=True)
