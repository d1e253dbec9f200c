"""Write the saturation section of docs/scenarios.md: who fills a programme's first vacancies, against the register.

Why the transition model overstates the traced gross of 600 owner houses (4 rooms) in Kustvik: the
source register (metro preset, the Kustvik example's source) against two market runs of the first
microsimulation seed, without and with the programme. Writes, between ``<!-- saturation:start -->`` and
``<!-- saturation:end -->`` of docs/scenarios.md:

- first vacancies of 4-room owner houses in the municipality: regular new builds (register, baseline
  run, programme run) and the programme's own — filled on completion day, first filler left a
  dwelling, came from the same municipality, came from outside the region; chain length;
- the municipality's existing 4-room and 3-room owner stock: vacancies filled by a mover who left a
  dwelling, without and with the programme;
- with ``--replications N``: the traced gross of 600 public rental flats and 600 cooperative flats (2 rooms)
  and 600 owner houses (4 rooms) over N paired replications (the scenario's seeds, as
  scripts/scenario_figures.py's single kinds), against the transition model's (with ``--source-seeds M``
  also B's mean over the source register and M others of the same preset);
- new builds as a share of the kind's filled vacancies, by municipality (the register's range) and with
  the line (:func:`flyttkedja.scenario.compare.supply_by_kind`, the run's saturation note), and the
  within-stratum slope of the first filler's share who leave a dwelling on that share across
  municipality × year cells (what the register can tell about saturation).

    python scripts/saturation_figures.py [--scale 1] [--years 5] [--replications 12] [--workers 2]
                                         [--source-seeds 6] [--out docs/scenarios.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja.core import trace
from flyttkedja.scenario import load_scenario, parse_scenario
from flyttkedja.scenario.compare import programme_kinds, supply_by_kind
from flyttkedja.scenario.microsim import completions_only, market_run
from flyttkedja.scenario.model import estimate
from flyttkedja.synth import generate
from flyttkedja.synth.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SINGLE = [("public rental, 2 rooms", {"tenure": "rental", "landlord": "public", "rooms": 2}),
          ("cooperative, 2 rooms", {"tenure": "cooperative", "rooms": 2}),
          ("owner houses, 4 rooms", {"tenure": "owner", "rooms": 4, "building_type": "small_house"})]
LINE = {"count": 600, "tenure": "owner", "rooms": 4, "building_type": "small_house"}
OUTSIDE = ("in_migrant", "immigrant")


def first_vacancies(moves, dwellings, window, max_gap_days, programme_ids=()) -> pl.DataFrame:
    """One row per new build of the line's tenure and rooms completed in the window: its chain's length
    and end, and its first filler (day filled, dwelling left and its municipality)."""
    dw = pl.from_arrow(dwellings)
    kind = dw.filter(pl.col("completed").is_not_null() & (pl.col("tenure") == LINE["tenure"])
                     & (pl.col("rooms") == LINE["rooms"]))
    cs = completions_only(trace(moves, dwellings, kind["dwelling_id"].to_numpy(), window=window,
                                max_gap_days=max_gap_days))
    links = cs.link_attributes([], ["municipality"])
    first = links.filter(pl.col("step") == 1).select("chain_id", "move_date", "from_dwelling", "from_municipality")
    out = (cs.chains.select("chain_id", "seed_dwelling", "length", "end_reason")
           .join(first, on="chain_id", how="left")
           .join(kind.select(pl.col("dwelling_id").alias("seed_dwelling"), "completed", "municipality"),
                 on="seed_dwelling", how="left"))
    return out.with_columns(programme=pl.col("seed_dwelling").is_in(np.asarray(programme_ids, np.int64)),
                            same_day=(pl.col("move_date") == pl.col("completed")).fill_null(False),
                            left=pl.col("from_dwelling").is_not_null(),
                            outside=(pl.col("length") == 1) & pl.col("end_reason").is_in(OUTSIDE),
                            local=(pl.col("from_municipality") == pl.col("municipality")).fill_null(False))


def first_row(label: str, f: pl.DataFrame) -> str:
    pct = lambda col: f"{100 * f[col].mean():.0f}%"  # noqa: E731
    return (f"| {label} | {f.height} | {pct('same_day')} | {pct('left')} | {pct('local')} | {pct('outside')} | "
            f"{f['length'].mean():.2f} |")


def model_row(cs, programme) -> str:
    """The transition model (default strata, estimated on the source register) for the line, placed as the
    programme spec places it: its first filler's share who leave a dwelling, and its moves per chain."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    (w, group, pool), = programme_kinds(model, programme)[0]
    pr = model.probabilities()
    first = w @ pr.first_rows(group, pool)[0]
    return (f"| the transition model for the line (default strata, the programme spec's placement, its "
            f"new-household pool {pool:.3f}) | – | – | "
            f"{100 * first[:model.n_strata].sum():.0f}% | – | – | {model.expectations(w, group, None, pool)['moves']:.2f} |")


def traced_gross(cs, cfg, scenario, municipality: str, years: int, replications: int, workers: int,
                 source_seeds: int = 0) -> list[str]:
    """Table rows: model B and the traced gross C (mean over ``replications`` paired replications, 95% t
    interval) of the single kinds, per 100 new dwellings; the seeds are the scenario's, in order. With
    ``source_seeds``: also B's mean over the source register and that many others (seeds source + 1 ..;
    scripts/scenario_figures.py's :func:`source_noise`) against C."""
    from scenario_figures import source_noise
    from scipy import stats

    from flyttkedja.scenario.executor import map_replications
    from flyttkedja.scenario.microsim import replicate

    single = parse_scenario({"name": "single", "programme": [
        {"name": name, "line": [{"count": 600, "municipality": municipality, **attrs}]} for name, attrs in SINGLE]})
    seeds = [int(x % 2**31) for x in np.random.SeedSequence(scenario.seed).generate_state(replications)]
    results = map_replications(partial(replicate, cfg, single.programmes, years), seeds, workers=workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    src = scenario.source
    noise = source_noise(cs, (single,), src.seed, source_seeds, 0, src.scale, years, src.preset) if source_seeds else {}
    rows = []
    for i, prog in enumerate(single.programmes):
        c = np.array([r["gross"][i][:, 0, :].sum() for r in results]) * 100 / prog.dwellings
        (w, group, pool), = programme_kinds(model, prog)[0]
        b = 100 * model.expectations(w, group, None, pool)["moves"]
        b0 = 100 * model.expectations(w, group)["moves"]  # the same model without the new-household pool
        half = stats.t.ppf(0.975, len(c) - 1) * c.std(ddof=1) / np.sqrt(len(c)) if len(c) > 1 else float("nan")
        rows.append(f"| {prog.name} | {pool:.3f} | {b0:.0f} ({100 * (b0 / c.mean() - 1):+.1f}%) | {b:.0f} | "
                    f"{c.mean():.0f} ({c.mean() - half:.0f} to {c.mean() + half:.0f}) | "
                    f"{len(c)} | {100 * (b / c.mean() - 1):+.1f}% |"
                    + (f" {noise[prog.name][0].mean():.0f} (sd {noise[prog.name][0].std(ddof=1):.1f}) | "
                       f"{100 * (noise[prog.name][0].mean() / c.mean() - 1):+.1f}% |" if noise else ""))
    return rows


def stock_continuation(run, municipality: str, rooms: int) -> tuple[int, float]:
    """Vacancies of the municipality's existing owner stock of ``rooms`` rooms (not the programme's) filled
    in the window, and the share filled by a mover who left a dwelling empty (the chain goes on)."""
    mv = pl.from_arrow(run.moves.select(["to_dwelling", "from_dwelling", "fills", "vacates"]))
    dw = pl.from_arrow(run.dwellings.select(["dwelling_id", "tenure", "rooms", "municipality"]))
    f = (mv.filter(pl.col("fills") & pl.col("to_dwelling").is_not_null())
         .join(dw, left_on="to_dwelling", right_on="dwelling_id")
         .filter((pl.col("tenure") == "owner") & (pl.col("rooms") == rooms) & (pl.col("municipality") == municipality)
                 & ~pl.col("to_dwelling").is_in(run.programme_dwellings)))
    return f.height, float((f["from_dwelling"].is_not_null() & f["vacates"]).mean())


def within_slope(cs) -> tuple[float, float, float, float]:
    """Slope (and its standard error) of the first filler's share who leave a dwelling on new builds' share of
    the kind's filled vacancies, within strata (tenure × rooms × municipality) across years; the weighted
    within-stratum sd of that share, and its largest cell value. Cells: regular new builds of all kinds."""
    dw = pl.from_arrow(cs.dwellings.select(["dwelling_id", "tenure", "rooms", "municipality", "completed"]))
    mv = pl.from_arrow(cs.moves.select(["move_date", "to_dwelling", "fills"]))
    key = ["tenure", "rooms", "municipality", "year"]
    flow = (mv.filter(pl.col("fills") & pl.col("to_dwelling").is_not_null())
            .join(dw, left_on="to_dwelling", right_on="dwelling_id")
            .with_columns(year=pl.col("move_date").dt.year()).group_by(key).agg(flow=pl.len()))
    seeds = cs.chains.filter(pl.col("seed_kind") == "new_build").select("chain_id", "seed_dwelling")
    left = cs.links.filter(pl.col("step") == 1).select("chain_id", left=pl.col("from_dwelling").is_not_null())
    nb = (seeds.join(left, on="chain_id", how="left").join(dw, left_on="seed_dwelling", right_on="dwelling_id")
          .with_columns(year=pl.col("completed").dt.year(), left=pl.col("left").fill_null(False)))
    cells = (nb.group_by(key).agg(n=pl.len(), y=pl.col("left").mean()).join(flow, on=key)
             .filter(pl.col("flow") >= 20).with_columns(x=pl.col("n") / pl.col("flow")))
    strata = ["tenure", "rooms", "municipality"]
    cells = cells.filter(pl.len().over(strata) >= 3)
    demean = lambda c: pl.col(c) - (pl.col(c) * pl.col("n")).sum().over(strata) / pl.col("n").sum().over(strata)  # noqa: E731
    d = cells.with_columns(wx=demean("x"), wy=demean("y"))
    w, x, y = (d[c].to_numpy().astype(np.float64) for c in ("n", "wx", "wy"))
    sxx = (w * x * x).sum()
    b = (w * x * y).sum() / sxx
    se = np.sqrt((w ** 2 * x ** 2 * (y - b * x) ** 2).sum()) / sxx  # heteroskedasticity-robust, cells independent
    return float(b), float(se), float(np.sqrt(sxx / w.sum())), float(cells["x"].max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--replications", type=int, default=0, help="paired replications of the single kinds' traced gross")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--source-seeds", type=int, default=0,
                    help="with --replications: B also on this many other source registers (seeds source + 1 ..)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "scenarios.md")
    args = ap.parse_args()

    base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
    src = dataclasses.replace(base.source, scale=args.scale, years=args.years)
    muni = base.programmes[0].lines[0].municipality
    prog = parse_scenario({"name": "s", "programme": [{"name": "owner houses", "line": [{**LINE, "municipality": muni}]}]})
    seed = int(np.random.SeedSequence(base.seed).generate_state(1)[0] % 2**31)  # the first microsimulation seed
    reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    source = first_vacancies(reg.moves, reg.dwellings, reg.window, reg.max_gap_days)
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    runs = {k: market_run(cfg, seed, p, src.years) for k, p in (("base", None), ("programme", prog.programmes[0]))}
    firsts = {k: first_vacancies(r.moves, r.dwellings, r.window, r.max_gap_days, r.programme_dwellings)
              for k, r in runs.items()}
    here = lambda f: f.filter(pl.col("municipality") == muni)  # noqa: E731
    lines = ["<!-- saturation:start -->",
             f"*Generated by `python scripts/saturation_figures.py --scale {args.scale:g} --years {args.years}"
             f"{f' --replications {args.replications} --workers {args.workers}' if args.replications else ''}"
             f"{f' --source-seeds {args.source_seeds}' if args.replications and args.source_seeds else ''}` "
             f"(metro preset; source seed {src.seed}; market runs at the first microsimulation seed, {seed}, "
             f"without and with {LINE['count']} owner houses of {LINE['rooms']} rooms in {muni}).*", "",
             f"First vacancies of new owner houses, {LINE['rooms']} rooms, in {muni}:", "",
             "| new builds | n | filled on completion day | first filler left a dwelling | from the same municipality "
             "| from outside the region | moves per chain |", "|---|---|---|---|---|---|---|",
             first_row("regular, source register (what the model learns)", here(source)),
             first_row("regular, market run without the programme", here(firsts["base"])),
             first_row("regular, market run with the programme", here(firsts["programme"]).filter(~pl.col("programme"))),
             first_row("the programme's own", firsts["programme"].filter(pl.col("programme"))),
             first_row("regular, the rest of the region (source register)",
                       source.filter(pl.col("municipality") != muni)),
             model_row(cs, prog.programmes[0])]
    lines += ["", f"Vacancies of {muni}'s existing owner houses filled by a mover who left a dwelling (the chain "
              "goes on), over the five years:", "", "| rooms | without the programme | with it |", "|---|---|---|"]
    for rooms in (4, 3):
        (n0, c0), (n1, c1) = (stock_continuation(runs[k], muni, rooms) for k in ("base", "programme"))
        lines.append(f"| {rooms} | {100 * c0:.1f}% of {n0} | {100 * c1:.1f}% of {n1} |")
    supply = supply_by_kind(cs)
    key = (LINE["tenure"], str(LINE["rooms"]), muni)
    shares = [b / v for (t, r, m), (b, v) in supply.items() if (t, r) == key[:2] and m != "*" and v >= 30]
    b, v = supply[key]
    b_slope, se, sd, top = within_slope(cs)
    with_line = (LINE["count"] + b) / (LINE["count"] + v)
    lines += ["", f"New builds as a share of the kind's filled vacancies over the window "
              f"(`flyttkedja.scenario.compare.supply_by_kind`): owner houses of {LINE['rooms']} rooms, "
              f"{100 * min(shares):.1f}% to {100 * max(shares):.1f}% by municipality in the register ({muni}: "
              f"{100 * b / v:.1f}%); with the line, {100 * with_line:.0f}% in {muni}. Within strata (tenure × rooms × "
              f"municipality) across years, that share varies with a standard deviation of {sd:.3f} (cells of "
              f"regular new builds of every kind; largest cell {top:.2f}), and the first filler's share who leave a "
              f"dwelling changes by {b_slope:+.2f} (standard error {se:.2f}) per unit of it."]
    if args.replications:
        lines += ["", f"Model B against the traced gross C of single kinds, 600 dwellings in {muni}, per 100 new "
                  f"dwellings (C: mean over paired replications, 95% t interval):", "",
                  "| line | new-household pool v / (v + n) | model without the pool (/ C − 1) | B. model "
                  "| C. traced | replications | B / C − 1 |"
                  + (f" B at {args.source_seeds + 1} source registers (seeds {src.seed} to "
                     f"{src.seed + args.source_seeds}; mean, sd) | their mean / C − 1 |" if args.source_seeds else ""),
                  "|---|---|---|---|---|---|---|" + ("---|---|" if args.source_seeds else ""),
                  *traced_gross(cs, cfg, dataclasses.replace(base, source=src), muni, src.years, args.replications,
                                args.workers, args.source_seeds)]
    lines.append("<!-- saturation:end -->")
    text = args.out.read_text(encoding="utf-8")
    start, end = text.index("<!-- saturation:start -->"), text.index("<!-- saturation:end -->") + len(
        "<!-- saturation:end -->")
    args.out.write_text(text[:start] + "\n".join(lines) + text[end:], encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
