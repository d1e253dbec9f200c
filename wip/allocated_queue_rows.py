"""A queue model of an allocated line's first filler (issue 13, measured, not landed): the first rows of a line
allocated to group g from the outcomes of *every* vacancy (first or re-let) that a resident member of g filled in
the strata the letting reaches, instead of g's first fillers of new builds; scripts/scenario_figures.py's
step_decomposition for youth flats and senior housing (600 dwellings in Kustvik, metro scale 1, market runs at
the first SEEDS microsimulation seeds).

reach(i) for an allocated dwelling of stratum i (tenure × rooms × municipality × area type): the strata whose
vacancies g's movers filled and that i's letting would reach -- the same stratum (re-lets only: session 12's
removed wip/allocated_relet_rows.py; or first and re-lets), the same tenure and municipality with rooms r, r..r+1 or
r−1..r+1 (the market's seeker segments: the same size, one room less, broad search one room more), the same
region-wide, any tenure, any dwelling of the municipality or region (every mover of g: the pure queue). The
dwelling left is each record's outcome; arrivals are dropped (allocated_first_counts) and rows shrunk like the
model's (_shrunk).

Run as `nice -n 19 python wip/allocated_queue_rows.py SEEDS` (session 13: 2 seeds on main 2e05b8e's market;
docs/scenarios.md, "Where the model's error sits", quotes the table)."""
import sys, warnings
from functools import partial
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import numpy as np, polars as pl
import scenario_figures as sf
from flyttkedja.core import trace
from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.compare import replication_seeds
from flyttkedja.scenario.executor import map_replications
from flyttkedja.scenario.model import _shrunk, allocated_first_counts, estimate
from flyttkedja.synth import generate
from flyttkedja.synth.config import load_config


def reach(model, lo: int, hi: int, same_tenure=True, same_municipality=True, same_area=False) -> np.ndarray:
    """(S, S) 0/1: row i holds the strata an allocated dwelling of stratum i reaches (rooms r+lo .. r+hi)."""
    parts = [s.split("|") for s in model.strata]
    ki = {k: i for i, k in enumerate(model.keys)}
    col = lambda k: np.array([p[ki[k]] for p in parts])  # noqa: E731
    ten, mu, at = col("tenure"), col("municipality"), col("area_type")
    rm = np.array([int(x.rstrip("+")) for x in col("rooms")])
    m = (rm[None, :] >= rm[:, None] + lo) & (rm[None, :] <= rm[:, None] + hi)
    for same, v in ((same_tenure, ten), (same_municipality, mu), (same_area, at)):
        if same:
            m &= v[None, :] == v[:, None]
    return m.astype(np.float64)


def queue_rows(model, g: int, stages, m: np.ndarray) -> np.ndarray:
    """First rows of a line allocated to g: outcomes of the vacancies (``stages``: 0 first, 1 re-let) filled by a
    member of g in the reached strata, without arrivals, shrunk like the model's rows."""
    rec, S = model.records, model.n_strata
    W = S + len(model.reasons)
    sel = rec["filled"] & (rec["group"][:, g] == 1) & np.isin(rec["stage"], stages)
    counts = np.bincount((rec["stratum"] * W + rec["outcome"])[sel], minlength=S * W).reshape(S, W).astype(float)
    counts = allocated_first_counts(m @ counts, model.reasons)
    return _shrunk(counts, counts.sum(axis=1), model.levels(), model.shrinkage)


VARIANTS = (("re-lets of the same stratum (session 12)", [1], dict(lo=0, hi=0, same_area=True)),
            ("first and re-lets of the same stratum", [0, 1], dict(lo=0, hi=0, same_area=True)),
            ("same tenure, rooms r, municipality", [0, 1], dict(lo=0, hi=0)),
            ("same tenure, rooms r−1..r+1, municipality", [0, 1], dict(lo=-1, hi=1)),
            ("same tenure, rooms r−1..r+1, region", [0, 1], dict(lo=-1, hi=1, same_municipality=False)),
            ("any tenure, rooms r−1..r+1, municipality", [0, 1], dict(lo=-1, hi=1, same_tenure=False)),
            ("any dwelling, municipality", [0, 1], dict(lo=-9, hi=9, same_tenure=False)),
            ("any dwelling, region", [0, 1], dict(lo=-9, hi=9, same_tenure=False, same_municipality=False)))


def kustvik_setup(nseeds: int):
    """The Kustvik example's source register traced, its default-strata model, the market config, the
    municipality and the first ``nseeds`` microsimulation seeds: (cs, model, cfg, src, muni, seeds)."""
    base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
    src, muni = base.source, base.programmes[0].lines[0].municipality
    reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    del reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    return cs, model, cfg, src, muni, replication_seeds(base.seed, nseeds)


def main() -> None:
    _, model, cfg, src, muni, seeds = kustvik_setup(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    print("| reach of the allocated letting | " + " | ".join(label for label, _, _ in sf.ALLOCATED) + " |")
    print("|---|" + "---|" * len(sf.ALLOCATED))
    cells = {}
    for label, attrs, _ in sf.ALLOCATED:
        prog = parse_scenario({"name": "s", "programme": [{"name": label, "line": [
            {"count": 600, "municipality": muni, **attrs}]}]}).programmes[0]
        traced = pl.concat(map_replications(partial(sf.first_steps, cfg, prog, src.years, model.keys), seeds,
                                            workers=2))
        g = model.groups.index(attrs["target_group"])
        for name, rows in (("first fillers of new builds (the model)", None),
                           *((n, queue_rows(model, g, st, reach(model, **kw))) for n, st, kw in VARIANTS)):
            d = sf.step_decomposition(model, prog, traced, rows)
            cells.setdefault(name, []).append(f"{d['model']:.3f} ({100 * (d['model'] / d['traced'] - 1):+.1f}%; "
                                              f"left {100 * d['left'][0]:.0f}%)")
        cells.setdefault("traced (chains; first filler left a dwelling)", []).append(
            f"{d['traced']:.3f} ({d['chains']}; left {100 * d['left'][1]:.0f}%)")
    for name, row in cells.items():
        print(f"| {name} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
