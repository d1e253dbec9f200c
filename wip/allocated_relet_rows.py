"""An allocated line's first rows from g's fillers of re-let vacancies instead of g's first fillers of new builds
(issue 13, a candidate not landed): scripts/scenario_figures.py's step_decomposition with either, for youth flats
and senior housing (600 dwellings in Kustvik, metro scale 1, market runs at the first SEEDS microsimulation seeds).

Run as `nice -n 19 python wip/allocated_relet_rows.py SEEDS` (session 12: 2 seeds, main 71e4468's market: senior
housing model 4.210 -> 3.886 against traced 3.875; youth flats 1.081 -> 1.059 against 1.208)."""
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


def relet_rows(model, g: int) -> np.ndarray:
    """Outcomes of later (re-let) vacancies filled by a member of g, without arrivals, shrunk like the model's rows."""
    rec, S = model.records, model.n_strata
    W = S + len(model.reasons)
    sel = rec["filled"] & (rec["group"][:, g] == 1) & (rec["stage"] == 1)
    counts = np.bincount((rec["stratum"] * W + rec["outcome"])[sel], minlength=S * W).reshape(S, W).astype(float)
    counts = allocated_first_counts(counts, model.reasons)
    return _shrunk(counts, counts.sum(axis=1), model.levels(), model.shrinkage)


if __name__ == "__main__":
    nseeds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
    src, muni = base.source, base.programmes[0].lines[0].municipality
    reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    del reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    seeds = replication_seeds(base.seed, nseeds)
    for label, attrs, _ in sf.ALLOCATED:
        prog = parse_scenario({"name": "s", "programme": [{"name": label, "line": [
            {"count": 600, "municipality": muni, **attrs}]}]}).programmes[0]
        traced = pl.concat(map_replications(partial(sf.first_steps, cfg, prog, src.years, model.keys), seeds,
                                            workers=2))
        g = model.groups.index(attrs["target_group"])
        for name, rows in (("first fillers of new builds (the model)", None), ("re-let fillers", relet_rows(model, g))):
            d = sf.step_decomposition(model, prog, traced, rows)
            print(f"{label}, {name}: model {d['model']:.3f} traced {d['traced']:.3f} ({d['chains']} chains): "
                  f"first filler {d['first_filler']:+.3f}, what follows {d['what_follows']:+.3f}, "
                  f"unseen {d['unseen']:+.3f}; left a dwelling {d['left'][0]:.1%} / {d['left'][1]:.1%}")
