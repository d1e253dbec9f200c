"""Issue 13: is the transition model's overstatement of the traced gross on the couples market source noise?

For each source seed (default: 7, the Kustvik example's, then the scenario's first microsimulation seeds,
whose baseline market runs are registers like the source's), simulate the register (metro preset), trace it,
estimate the default model, and print

- B (with and without the new-household pool) and the first filler's share of new households (with and
  without the pool) of the single-kind lines of 600 dwellings in Kustvik (the
  scenario figures' public rental 2r, cooperative 2r, owner houses 4r) and of the Kustvik programmes;
- for every pair (model's seed, register's seed): the model's prediction for that register's *regular* new
  builds of each kind (in Kustvik and in the region; start = their strata, no pool: they are inside v)
  against their traced mean chain length.

    nice -n 19 python wip/model_source_noise.py [SEEDS ...] [--scale 1] [--years 5]
"""
import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
from flyttkedja.core import trace  # noqa: E402
from flyttkedja.scenario import load_scenario, parse_scenario  # noqa: E402
from flyttkedja.scenario.compare import programme_kinds, replication_seeds  # noqa: E402
from flyttkedja.scenario.model import analytic, estimate, stratum_expr  # noqa: E402
from flyttkedja.synth import generate  # noqa: E402

KINDS = {"public rental 2r": {"tenure": "rental", "landlord": "public", "rooms": 2},
         "cooperative 2r": {"tenure": "cooperative", "rooms": 2},
         "owner houses 4r": {"tenure": "owner", "rooms": 4, "building_type": "small_house"}}

ap = argparse.ArgumentParser()
ap.add_argument("seeds", nargs="*", type=int)
ap.add_argument("--scale", type=float, default=1.0)
ap.add_argument("--years", type=int, default=5)
args = ap.parse_args()
base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
muni = base.programmes[0].lines[0].municipality
seeds = args.seeds or [base.source.seed, *replication_seeds(base.seed, 2)]
single = parse_scenario({"name": "single", "programme": [
    {"name": k, "line": [{"count": 600, "municipality": muni, **a}]} for k, a in KINDS.items()]}).programmes


def regular(cs) -> dict:
    """(kind, area) -> (stratum labels, chain lengths) of the regular new builds traced."""
    ch = cs.chains.filter(pl.col("seed_kind") == "new_build").with_columns(
        stratum=stratum_expr(("tenure", "rooms", "municipality", "area_type")),
        municipality=pl.col("municipality").cast(pl.String), tenure=pl.col("tenure").cast(pl.String),
        landlord=pl.col("landlord").cast(pl.String), building_type=pl.col("building_type").cast(pl.String))
    out = {}
    for k, a in KINDS.items():
        f = ch
        for col, v in a.items():
            f = f.filter(pl.col(col) == v)
        for area, g in (("Kustvik", f.filter(pl.col("municipality") == muni)), ("region", f)):
            out[k, area] = (g["stratum"].to_list(), g["length"].to_numpy().astype(np.float64))
    return out


def predict(model, probs, labels) -> float:
    index = {s: i for i, s in enumerate(model.strata)}
    codes = [index[s] for s in labels if s in index]  # strata the model never saw are left out
    start = np.bincount(codes, minlength=model.n_strata) / len(codes)
    return analytic(start, probs.P0, probs.P, probs.F, model.moves_flag(), None, probs.N)["moves"]


models, data = {}, {}
for seed in seeds:
    reg = generate(base.source.preset, scale=args.scale, years=args.years, seed=seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    model.records = None  # memory: chain records not needed here
    models[seed], data[seed] = model, regular(cs)
    line = [f"source seed {seed}:"]
    for prog in (*single, *base.programmes):
        kinds, counts, _ = programme_kinds(model, prog)
        b = sum(c * model.expectations(w, g, None, f)["moves"] for (w, g, f), c in zip(kinds, counts)) / counts.sum()
        b0 = sum(c * model.expectations(w, g)["moves"] for (w, g, f), c in zip(kinds, counts)) / counts.sum()
        nh = model.n_strata + model.reasons.index("new_household")
        pr = model.probabilities()
        share = [float(sum(c * (w @ pr.first_rows(g, f if pooled else 1.0)[0])[nh] for (w, g, f), c in
                           zip(kinds, counts)) / counts.sum()) for pooled in (True, False)]
        line.append(f"  B {prog.name:28s} {100 * b:6.1f}  (without pool {100 * b0:6.1f}); first filler a new "
                    f"household {100 * share[0]:.1f}% (without pool {100 * share[1]:.1f}%)")
    print("\n".join(line), flush=True)
    del reg, cs

print("\nregular new builds: model (seed) prediction / traced (seed) mean chain length, n; model/traced − 1")
for (k, area) in data[seeds[0]]:
    for d in seeds:
        labels, length = data[d][k, area]
        if len(labels) == 0:
            continue
        se = length.std(ddof=1) / np.sqrt(len(length)) if len(length) > 1 else float("nan")
        cells = []
        for m in seeds:
            p = predict(models[m], models[m].probabilities(), labels)
            cells.append(f"model {m}: {p:.3f} ({100 * (p / length.mean() - 1):+.1f}%)")
        print(f"{k:16s} {area:8s} register {d:>10d}: traced {length.mean():.3f} (se {se:.3f}, n {len(length)}) | "
              + " | ".join(cells), flush=True)
