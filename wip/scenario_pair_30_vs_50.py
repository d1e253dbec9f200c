"""30% vs 50% rental in Kustvik at a smaller scale: paired net difference per 100 new dwellings, by replication.

Run as `python wip/scenario_pair_30_vs_50.py SCALE REPLICATIONS` (niced); docs/scenarios.md quotes scale 0.1, 24."""
import sys, time, tomllib, numpy as np
from pathlib import Path
from flyttkedja.scenario import load_scenario
from flyttkedja.scenario.config import parse_scenario
from flyttkedja.scenario.microsim import replicate
from flyttkedja.synth.config import load_config
scale, reps = float(sys.argv[1]), int(sys.argv[2])
raw = tomllib.loads((Path(__file__).resolve().parents[1] / "examples" / "kustvik_30_vs_50.toml").read_text())
for p in raw["programme"]:
    for l in p["line"]:
        l["count"] = max(1, round(l["count"] * scale))
raw["source"]["scale"] = scale
sc = parse_scenario(raw)
n = [p.dwellings for p in sc.programmes]
cfg = load_config("metro", years=5, scale=scale)
seeds = [int(s % 2**31) for s in np.random.SeedSequence(7).generate_state(reps)]
rows = []
for s in seeds:
    t = time.time()
    r = replicate(cfg, sc.programmes, 5, s)
    net = [100 * (r["total"][i][0].sum() - r["base"][0].sum()) / n[i] for i in range(2)]
    gross = [100 * r["gross"][i][:, 0].sum() / n[i] for i in range(2)]
    rows.append((net[0], net[1], gross[0], gross[1]))
    print(f"seed {s}: net30 {net[0]:.0f} net50 {net[1]:.0f} diff {net[0]-net[1]:.0f} gross30 {gross[0]:.0f} gross50 {gross[1]:.0f} ({time.time()-t:.0f}s)", flush=True)
a = np.array(rows); d = a[:, 0] - a[:, 1]; dg = a[:, 2] - a[:, 3]

k = len(d); se = d.std(ddof=1) / np.sqrt(k)
from flyttkedja.scenario.compare import t975
print(f"scale {scale}: {k} reps, {n} dwellings; net diff {d.mean():.1f} ({d.mean()-t975(k-1)*se:.1f} to {d.mean()+t975(k-1)*se:.1f}), sd per rep {d.std(ddof=1):.1f}; "
      f"gross diff {dg.mean():.1f} (sd {dg.std(ddof=1):.1f}); net30 {a[:,0].mean():.0f} net50 {a[:,1].mean():.0f}; ratio30 {a[:,0].mean()/a[:,2].mean():.2f} ratio50 {a[:,1].mean()/a[:,3].mean():.2f}")
