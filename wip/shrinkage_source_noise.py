"""Issue 13: does stronger shrinkage of sparse strata towards their parents lower the source noise of B
without raising the model's error out of sample?  For each source seed (metro scale 1, 5 years) and each
shrinkage constant k (records), print B of the single-kind lines and the Kustvik programmes and the
cross-validation by municipality (sigma, bias, coverage; register only).

    nice -n 19 python wip/shrinkage_source_noise.py [SEEDS ...] [--k 20 50 100 200] [--no-cv]
"""
import argparse
import warnings
from pathlib import Path

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
ap.add_argument("--k", nargs="*", type=float, default=[20, 50, 100, 200])
ap.add_argument("--no-cv", action="store_true")
args = ap.parse_args()
base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
muni = base.programmes[0].lines[0].municipality
single = parse_scenario({"name": "single", "programme": [
    {"name": k, "line": [{"count": 600, "municipality": muni, **a}]} for k, a in KINDS.items()]}).programmes
for seed in args.seeds:
    reg = generate(base.source.preset, scale=1.0, years=5, seed=seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    del reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    for k in args.k:
        model.shrinkage = k
        bs = []
        for prog in (*single, *base.programmes):
            kinds, counts, _ = programme_kinds(model, prog)
            bs.append(100 * sum(c * model.expectations(w, g, None, f)["moves"]
                                for (w, g, f), c in zip(kinds, counts)) / counts.sum())
        cv = "" if args.no_cv else (lambda c: f" | CV sigma {100 * c['sigma']:.1f}% bias {100 * c['bias']:+.1f}% "
                                              f"coverage {100 * c['coverage']:.0f}% of {c['cases']}")(model.cross_validate())
        print(f"seed {seed} k {k:g}: B " + " ".join(f"{b:.1f}" for b in bs) + cv, flush=True)
