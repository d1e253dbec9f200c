"""Who first fills an allocated line (600 dwellings in Kustvik, metro scale 1): the model's first rows against
the programme's own first vacancies in market runs at the scenario's first microsimulation seeds, by the
tenure x rooms of the dwelling the first filler left (share, mean chain length given it).

Run as `nice -n 19 python wip/allocated_first_fillers.py senior|youth SEEDS`; docs/scenarios.md
("Allocated housing goes to households already in the region") quotes senior 2 and youth 1."""
import sys, warnings
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import numpy as np, polars as pl
import saturation_figures as sf
from flyttkedja.core import trace
from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.compare import programme_kinds
from flyttkedja.scenario.microsim import market_run
from flyttkedja.scenario.model import estimate
from flyttkedja.synth import generate
from flyttkedja.synth.config import load_config

KINDS = {"senior": {"tenure": "rental", "landlord": "public", "rooms": 2, "target_group": "seniors"},
         "youth": {"tenure": "rental", "landlord": "public", "rooms": 1, "target_group": "young_adults"}}
attrs = KINDS[sys.argv[1]]
sf.LINE = {"count": 600, **attrs}
base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
src = base.source
muni = base.programmes[0].lines[0].municipality
prog = parse_scenario({"name": "s", "programme": [{"name": "senior", "line": [{**sf.LINE, "municipality": muni}]}]})
nseeds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
seeds = [int(x % 2**31) for x in np.random.SeedSequence(base.seed).generate_state(nseeds)]
reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
del reg
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = estimate(cs)
(w, g, _), = programme_kinds(model, prog.programmes[0])[0]
pr = model.probabilities()
P0 = pr.allocated(g)[0]
S = model.n_strata
first = w @ P0
after = pr.N @ (pr.P @ model.moves_flag())  # expected moves from a vacancy in stratum j
ten = np.array([s.split("|")[0] for s in model.strata])
rooms = np.array([s.split("|")[1] for s in model.strata])
band = np.where(np.isin(rooms, ["1", "2"]), "1-2", np.where(rooms == "3", "3", "4+"))
key = np.char.add(np.char.add(ten, " "), band)
rows = []
for k in sorted(set(key)):
    sel = key == k
    sh = first[:S][sel].sum()
    ln = 1 + (first[:S][sel] * after[sel]).sum() / sh if sh > 0 else float("nan")
    rows.append((k, sh, ln))
cfg = load_config(src.preset, years=src.years, scale=src.scale)
mk = []
for seed in seeds:
    r = market_run(cfg, seed, prog.programmes[0], src.years)
    f = sf.first_vacancies(r.moves, r.dwellings, r.window, r.max_gap_days, r.programme_dwellings)
    own = f.filter(pl.col("programme"))
    dw = pl.from_arrow(r.dwellings).select(pl.col("dwelling_id").alias("from_dwelling"), pl.col("tenure").alias("ft"),
                                           pl.col("rooms").alias("fr"))
    own = own.join(dw, on="from_dwelling", how="left")
    mk.append(own)
own = pl.concat(mk)
own = own.with_columns(k=pl.when(pl.col("ft").is_null()).then(pl.lit("none"))
                       .otherwise(pl.col("ft").cast(pl.Utf8) + " " + pl.when(pl.col("fr") <= 2).then(pl.lit("1-2"))
                                  .when(pl.col("fr") == 3).then(pl.lit("3")).otherwise(pl.lit("4+"))))
mt = own.group_by("k").agg(n=pl.len(), length=pl.col("length").mean()).with_columns(share=pl.col("n") / own.height)
print(f"model first filler (allocated {attrs['target_group']}) left a dwelling {100 * first[:S].sum():.1f}%, market",
      f"{100 * own['left'].mean():.1f}%; ends of the model's first rows:",
      {r: round(100 * first[S + i], 1) for i, r in enumerate(model.reasons) if first[S + i] > 0.001})
print("by the tenure x rooms left: share, mean chain length given it")
for k, sh, ln in rows:
    m = mt.filter(pl.col("k") == k)
    ms, ml = (m["share"][0], m["length"][0]) if m.height else (0.0, float("nan"))
    print(f"| {k} | model {100*sh:.1f}% {ln:.2f} | market {100*ms:.1f}% {ml:.2f} |")
print("market rows:", mt.sort("k"))
print("model total", model.expectations(w, g)["moves"], "market total", own["length"].mean(), "chains", own.height)
