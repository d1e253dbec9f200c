"""Transition model against tracing on the synthetic region (figures for docs/scenarios.md).

Estimates the model on one synthetic register (seed A) and predicts, for the
programme actually built in another register of the same region (seed B: its
own new builds, by stratum), the mean chain length, end-reason shares,
vacancies by tenure and households reached by group; then traces register B
and compares. Also prints the in-sample check (model estimated on B itself).

    python examples/validate_transition_model.py --preset metro --scale 1 --years 5
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import polars as pl

import flyttkedja
from flyttkedja.analysis.groups import HOUSEHOLD_COLUMNS, TARGET_GROUPS, household_frame, income_reference, target_flags
from flyttkedja.scenario.model import estimate, stratum_expr
from flyttkedja.synth import generate


def traced_figures(cs, model) -> dict:
    links = cs.link_attributes(list(HOUSEHOLD_COLUMNS), ["tenure"])
    flags = target_flags(household_frame(links, income_reference(cs.moves)), TARGET_GROUPS)
    n = cs.chains.height
    vac = links.filter(pl.col("from_dwelling").is_not_null() & pl.col("from_tenure").is_not_null())
    out = {"moves": cs.chains["length"].mean()}
    out.update({f"end_{r}": (cs.chains["end_reason"] == r).sum() / n for r in model.reasons})
    out.update({f"vacancies_{t}": (vac["from_tenure"] == t).sum() / n for t in ("rental", "cooperative", "owner")})
    out.update({f"reached_{g}": flags[g].sum() / n for g in flags.columns})
    return out


def predicted(model, start, probs=None) -> dict:
    e = model.expectations(start, probs=probs)
    pos = model.keys.index("tenure")
    ten = np.array([s.split("|")[pos] for s in model.strata])
    out = {"moves": e["moves"]}
    out.update({f"end_{r}": e["ends"][i] for i, r in enumerate(model.reasons)})
    out.update({f"vacancies_{t}": e["vacancies"][ten == t].sum() for t in ("rental", "cooperative", "owner")})
    out.update({f"reached_{g}": e["reach"][i] for i, g in enumerate(model.groups)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="metro")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs=2, default=(7, 8))
    ap.add_argument("--bootstrap", type=int, default=200)
    args = ap.parse_args()
    chainsets = []
    for seed in args.seeds:
        reg = generate(args.preset, scale=args.scale, years=args.years, seed=seed)
        chainsets.append(flyttkedja.trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_a = estimate(chainsets[0])
        model_b = estimate(chainsets[1])
    # the programme actually built in B, mapped onto A's strata
    labels_b = chainsets[1].chains.select(stratum_expr(model_a.keys).alias("s"))["s"]
    counts = labels_b.value_counts()
    start = np.zeros(len(model_a.strata))
    index = {s: i for i, s in enumerate(model_a.strata)}
    unmatched = 0
    for s, c in counts.iter_rows():
        if s in index:
            start[index[s]] += c
        else:
            unmatched += c
    start /= start.sum()
    traced = traced_figures(chainsets[1], model_a)
    pred = predicted(model_a, start)
    boot = model_a.bootstrap(lambda p: np.array(list(predicted(model_a, start, p).values())), args.bootstrap, 1)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    nb = model_b.first.sum(axis=1)
    insample = predicted(model_b, nb / nb.sum())
    print(f"{args.preset} scale {args.scale}, {args.years} years; model from seed {args.seeds[0]} "
          f"({chainsets[0].chains.height} chains, {len(model_a.strata)} strata), register seed {args.seeds[1]} "
          f"({chainsets[1].chains.height} new builds, {unmatched} in strata unseen in A)")
    print("| measure (per new dwelling) | traced B | model A → B | 95% bootstrap | in-sample model B |")
    print("|---|---|---|---|---|")
    for k, key in enumerate(pred):
        if traced[key] == 0 and pred[key] == 0:
            continue
        print(f"| {key} | {traced[key]:.3f} | {pred[key]:.3f} | {lo[k]:.3f}–{hi[k]:.3f} | {insample[key]:.3f} |")
    print()
    print("| new builds of B by tenure × size band | chains | traced mean length | model A |")
    print("|---|---|---|---|")
    chains = chainsets[1].chains.with_columns(s=stratum_expr(model_a.keys))
    for (ten, band), part in sorted(chains.with_columns(
            band=stratum_expr(["size_band"])).group_by(["tenure", "band"]), key=lambda kv: kv[0]):
        w = np.zeros(len(model_a.strata))
        for s_, c in part["s"].value_counts().iter_rows():
            w[index[s_]] += c
        print(f"| {ten} {band} | {part.height} | {part['length'].mean():.2f} | "
              f"{model_a.expectations(w / w.sum())['moves']:.2f} |")


if __name__ == "__main__":
    main()
