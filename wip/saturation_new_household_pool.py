"""Saturation as a fixed pool of new households (issue 13, measured, not landed): a programme line of n dwellings
of tenure x rooms in municipality m shares the new households who start a home in the kind with the kind's own
vacancies, so the chance that its first vacancy goes to a new household is the model's times v / (v + n), v the
kind's filled vacancies over the register's window (flyttkedja.scenario.compare.supply_by_kind, the aggregate
supply_lines reads; the line built over a window as long); the share it loses goes to the row's other outcomes
in proportion. No parameter is fitted: v comes from the register, n from the programme. Against the programme's own
chains in market runs at the first SEEDS microsimulation seeds (scripts/scenario_figures.py's step_decomposition),
for the single kinds of docs/scenarios.md (600 dwellings in Kustvik, metro scale 1).

Run as `nice -n 19 python wip/saturation_new_household_pool.py SEEDS` (docs/scenarios.md, "Saturation", quotes 4)."""
import sys
from functools import partial
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "wip"))
import numpy as np, polars as pl
import scenario_figures as sf
from allocated_queue_rows import kustvik_setup
from flyttkedja.scenario import parse_scenario
from flyttkedja.scenario.compare import supply_by_kind
from flyttkedja.scenario.executor import map_replications
from flyttkedja.scenario.model import attribute_label


def pooled_rows(model, P0: np.ndarray, factor: float) -> np.ndarray:
    """First rows with the new-household outcome times ``factor``, the rest of each row scaled up to keep it 1."""
    nh = model.n_strata + model.reasons.index("new_household")
    out = P0.copy()
    lost = out[:, nh] * (1.0 - factor)
    out[:, nh] *= factor
    rest = np.ones(out.shape[1], bool)
    rest[nh] = False
    out[:, rest] *= (1.0 + lost / np.maximum(out[:, rest].sum(axis=1), 1e-300))[:, None]
    return out


def main() -> None:
    cs, model, cfg, src, muni, seeds = kustvik_setup(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    supply = supply_by_kind(cs)
    P0 = model.probabilities().P0
    print("| line | v (filled vacancies of the kind) | v / (v + n) | traced (chains) | model | with the pool "
          "| first filler a new household: model / with the pool / traced |")
    print("|---|---|---|---|---|---|---|")
    for label, attrs in sf.SINGLE:
        line = {"count": 600, "municipality": muni, **attrs}
        prog = parse_scenario({"name": "s", "programme": [{"name": label, "line": [line]}]}).programmes[0]
        v = supply[(attrs["tenure"], attribute_label("rooms", attrs["rooms"]), muni)][1]
        factor = v / (v + line["count"])
        traced = pl.concat(map_replications(partial(sf.first_steps, cfg, prog, src.years, model.keys), seeds,
                                            workers=2))
        a = sf.step_decomposition(model, prog, traced)
        b = sf.step_decomposition(model, prog, traced, pooled_rows(model, P0, factor))
        rel = lambda d: f"{d['model']:.3f} ({100 * (d['model'] / d['traced'] - 1):+.1f}%)"  # noqa: E731
        print(f"| {label} | {v} | {factor:.3f} | {a['traced']:.3f} ({a['chains']}) | {rel(a)} | {rel(b)} | "
              f"{100 * a['new_household'][0]:.1f}% / {100 * b['new_household'][0]:.1f}% / "
              f"{100 * a['new_household'][1]:.1f}% |")


if __name__ == "__main__":
    main()
