"""Issue 13: who first fills the programme's own dwellings against regular new builds of the same kind and
municipality (source register, baseline market run, programme run), by the kind of first fill, and the
municipality's new_household moves without and with the programme (paired runs).

600 cooperative flats of 2 rooms in Kustvik (the saturation script's setup: metro preset, the Kustvik
example's source), market runs at the scenario's first SEEDS microsimulation seeds.

    nice -n 19 python wip/couples_first_fillers.py [SEEDS] [--scale 1] [--years 5]

Prints, per group of first vacancies: n, the share of first fills by category (single/internal mover; couple,
mover fills + leaver joins; couple, leaver fills + single joins; two movers; two leavers; lone leaver;
in-migrant; immigrant) and the mean chain length by category; then, per seed, new_household moves into
the municipality's dwellings (fills and joins) in the baseline and the programme run.
"""
import argparse, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import numpy as np, polars as pl
import saturation_figures as sf
from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.microsim import market_run
from flyttkedja.synth import generate
from flyttkedja.synth.config import load_config

ap = argparse.ArgumentParser()
ap.add_argument("seeds", nargs="?", type=int, default=2)
ap.add_argument("--scale", type=float, default=1.0)
ap.add_argument("--years", type=int, default=5)
args = ap.parse_args()
sf.LINE = {"count": 600, "tenure": "cooperative", "rooms": 2}
base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
muni = base.programmes[0].lines[0].municipality
prog = parse_scenario({"name": "s", "programme": [{"name": "coop2", "line": [{**sf.LINE, "municipality": muni}]}]})
seeds = [int(x % 2**31) for x in np.random.SeedSequence(base.seed).generate_state(args.seeds)]
src = base.source


def categorise(moves, f: pl.DataFrame) -> pl.DataFrame:
    """``f`` (sf.first_vacancies rows) with the category of its first fill: the filling move's origin and the
    origin of any move that joins it into the same dwelling on the same day."""
    mv = pl.from_arrow(moves.select(["move_date", "to_dwelling", "origin", "fills"])).with_columns(
        pl.col("origin").cast(pl.Utf8))
    seeds_ = f.select(pl.col("seed_dwelling").alias("to_dwelling"), pl.col("move_date")).drop_nulls()
    m = mv.join(seeds_, on=["to_dwelling", "move_date"])
    filler = m.filter(pl.col("fills")).group_by("to_dwelling").agg(fo=pl.col("origin").first())
    joiner = m.filter(~pl.col("fills")).group_by("to_dwelling").agg(jo=pl.col("origin").first(), nj=pl.len())
    g = filler.join(joiner, on="to_dwelling", how="left")
    cat = (pl.when(pl.col("fo") == "in_migrant").then(pl.lit("in-migrant"))
           .when(pl.col("fo") == "immigrant").then(pl.lit("immigrant"))
           .when((pl.col("fo") == "dwelling") & pl.col("jo").is_null()).then(pl.lit("single/internal mover"))
           .when((pl.col("fo") == "dwelling") & (pl.col("jo") == "new_household")).then(pl.lit("couple: mover fills, leaver joins"))
           .when((pl.col("fo") == "new_household") & (pl.col("jo") == "dwelling")).then(pl.lit("couple: leaver fills, single joins"))
           .when((pl.col("fo") == "dwelling") & (pl.col("jo") == "dwelling")).then(pl.lit("two movers"))
           .when((pl.col("fo") == "new_household") & (pl.col("jo") == "new_household")).then(pl.lit("two leavers"))
           .when((pl.col("fo") == "new_household") & pl.col("jo").is_null()).then(pl.lit("lone leaver"))
           .otherwise(pl.col("fo") + "+" + pl.col("jo").fill_null("-")))
    return f.join(g.with_columns(cat=cat).select(pl.col("to_dwelling").alias("seed_dwelling"), "cat"),
                  on="seed_dwelling", how="left").with_columns(pl.col("cat").fill_null("unfilled"))


def table(label, f):
    t = f.group_by("cat").agg(n=pl.len(), length=pl.col("length").mean()).sort("cat")
    print(f"\n{label}: n {f.height}, moves per chain {f['length'].mean():.3f}")
    for c, n, ln in t.iter_rows():
        print(f"  {c:38s} {100 * n / f.height:5.1f}%  length {ln:.2f}")


def new_households(run):
    mv = pl.from_arrow(run.moves.select(["to_dwelling", "origin", "fills"])).with_columns(pl.col("origin").cast(pl.Utf8))
    dw = pl.from_arrow(run.dwellings.select(["dwelling_id", "municipality"])).with_columns(pl.col("municipality").cast(pl.Utf8))
    x = mv.filter(pl.col("origin") == "new_household").join(dw, left_on="to_dwelling", right_on="dwelling_id")
    x = x.filter(pl.col("municipality") == muni)
    return x.height, int(x["fills"].sum()), int((~x["fills"]).sum())


reg = generate(src.preset, scale=args.scale, years=args.years, seed=src.seed)
here = lambda f: f.filter(pl.col("municipality").cast(pl.Utf8) == muni)  # noqa: E731
table("regular, source register", categorise(reg.moves, here(sf.first_vacancies(reg.moves, reg.dwellings, reg.window, reg.max_gap_days))))
del reg
cfg = load_config(src.preset, years=args.years, scale=args.scale)
acc = {"base": [], "regular": [], "own": []}
for seed in seeds:
    runs = {k: market_run(cfg, seed, p, args.years) for k, p in (("base", None), ("programme", prog.programmes[0]))}
    fb = categorise(runs["base"].moves, sf.first_vacancies(runs["base"].moves, runs["base"].dwellings,
                                                           runs["base"].window, runs["base"].max_gap_days))
    r = runs["programme"]
    fp = categorise(r.moves, sf.first_vacancies(r.moves, r.dwellings, r.window, r.max_gap_days, r.programme_dwellings))
    acc["base"].append(here(fb))
    acc["regular"].append(here(fp).filter(~pl.col("programme")))
    acc["own"].append(fp.filter(pl.col("programme")))
    (b, bf, bj), (p, pf, pj) = new_households(runs["base"]), new_households(r)
    print(f"seed {seed}: new_household moves into {muni}: baseline {b} (fills {bf}, joins {bj}); "
          f"programme {p} (fills {pf}, joins {pj}); difference {p - b:+d} (fills {pf - bf:+d}, joins {pj - bj:+d})",
          flush=True)
table("regular, market run without the programme", pl.concat(acc["base"]))
table("regular, market run with the programme", pl.concat(acc["regular"]))
table("the programme's own", pl.concat(acc["own"]))
