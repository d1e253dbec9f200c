"""Write the figures section of docs/scenarios.md: gross, net and displacement on the Kustvik example.

Runs ``examples/kustvik_rental_share.toml`` (metro preset; adaptive
replications) and a scenario of single-kind lines with
:func:`flyttkedja.scenario.run`, estimates the transition model with the old
default strata (tenure × size band × area type) on the same source register,
and writes, between the markers ``<!-- figures:start -->`` and
``<!-- figures:end -->`` of docs/scenarios.md:

- the A–D table (model, old strata / model, new strata / gross traced in the
  market runs / net, paired) and net / gross per programme;
- the same for single-kind lines of 600 dwellings;
- the cross-validated model error and the coverage of its 95% intervals;
- allocation: seniors reached by youth flats, young adults by senior housing;
- how many replications, and how long, resolving the programmes took;
- where the model's error sits for the lines outside 5% (:func:`step_decomposition`): the first filler
  or what follows, from the programme's own chains in market runs at the first ``--step-seeds``
  microsimulation seeds;
- which programmes and single kinds are within 5% of the traced gross (:func:`verdict`);
- with ``--source-seeds N``: the source noise of B (:func:`source_noise`), B estimated on the source
  register and on N other registers of the same preset (seeds source + 1 .. source + N), and B's standard
  deviation from the source register's own bootstrap (chains resampled, ``--source-bootstrap`` replicates).

    python scripts/scenario_figures.py [--scale 1] [--years 5] [--replications 10] [--max-replications 60]
                                       [--single-replications 10] [--step-seeds 2] [--workers 2]
                                       [--source-seeds 0] [--source-bootstrap 50] [--out docs/scenarios.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja import store
from flyttkedja.core import trace
from flyttkedja.scenario import load_scenario, parse_scenario, run
from flyttkedja.scenario.compare import GROSS, NET, RATIO, programme_kinds, replication_seeds
from flyttkedja.scenario.executor import map_replications
from flyttkedja.scenario.microsim import completions_only, market_run
from flyttkedja.scenario.model import ARRIVAL_ENDS, DEFAULT_STRATA, analytic, estimate, load_model, stratum_expr
from flyttkedja.synth import generate
from flyttkedja.synth.config import load_config

ROOT = Path(__file__).resolve().parents[1]
OLD_STRATA = ("tenure", "size_band", "area_type")
PREVIOUS_STRATA = ("tenure", "rooms", "area_type", "municipality")  # session 5's default, without the placement
SINGLE = [("public rental, 2 rooms", {"tenure": "rental", "landlord": "public", "rooms": 2}),
          ("cooperative, 2 rooms", {"tenure": "cooperative", "rooms": 2}),
          ("owner houses, 4 rooms", {"tenure": "owner", "rooms": 4, "building_type": "small_house"})]
ALLOCATED = [("youth flats (public rental, 1 room, young adults)", {"tenure": "rental", "landlord": "public",
                                                                    "rooms": 1, "target_group": "young_adults"},
              "seniors"),
             ("senior housing (public rental, 2 rooms, seniors)", {"tenure": "rental", "landlord": "public",
                                                                   "rooms": 2, "target_group": "seniors"},
              "young_adults")]


def value(table: pl.DataFrame, programme: str, method: str, measure: str, area: str = "region"):
    d = table.filter((pl.col("programme") == programme) & (pl.col("method") == method)
                     & (pl.col("measure") == measure) & pl.col("line").is_null() & (pl.col("area") == area))
    return d.row(0, named=True) if d.height else None


def fmt(row, digits: int = 0) -> str:
    if row is None or row["estimate"] is None:
        return "–"
    s = f"{row['estimate']:.{digits}f}"
    if row["lower"] is not None:
        s += f" ({row['lower']:.{digits}f} to {row['upper']:.{digits}f})"
    return s


def old_model_gross(cs, scenario, keys=OLD_STRATA, placement: bool = True, pool: bool = False) -> dict[str, float]:
    """Model A: gross moves per 100 new of every programme with the old default strata (``keys``; without
    ``placement`` an open area type is weighted by the regular new builds, as before the placement; without
    ``pool`` no new-household pool, as before session 14: ``flow`` dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs, keys)
    if not placement:
        model.meta.pop("placement", None)
    if not pool:
        model.flow = None
    out = {}
    for prog in scenario.programmes:
        kinds, counts, _ = programme_kinds(model, prog)
        out[prog.name] = 100 * sum(c * model.expectations(w, g, None, f)["moves"] for (w, g, f), c in zip(kinds, counts)) / counts.sum()
    return out, model


def allocation_figures(cs, municipality: str) -> list[tuple]:
    """(label, other group, reach with the old unconditioned profile, with the new conditioned one), old and
    new strata, per 100 new dwellings."""
    rows = []
    for keys in (OLD_STRATA, None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = estimate(cs) if keys is None else estimate(cs, keys)
        pr = model.probabilities()
        for label, attrs, other in ALLOCATED:
            line = {"count": 600, **attrs, "municipality": municipality}
            (w, _, pool), = programme_kinds(model, parse_scenario(
                {"name": "a", "programme": [{"name": label, "line": [line]}]}).programmes[0])[0]
            g, h = model.groups.index(attrs["target_group"]), model.groups.index(other)
            P0g, F0g = pr.first_rows(g, pool)  # the line's first rows, its new-household pool applied
            old_profile = pr.F.copy()
            old_profile[:, g] = 1.0
            before = analytic(w, P0g, pr.P, pr.F, model.moves_flag(), old_profile, pr.N)
            after = analytic(w, P0g, pr.P, pr.F, model.moves_flag(), F0g, pr.N)
            rows.append((label, "tenure × size band × area type" if keys else "tenure × rooms × municipality × area type",
                         other, 100 * before["reach"][h], 100 * after["reach"][h], 100 * after["moves"],
                         100 * (after["reach"][model.groups.index("young_adults")]
                                + after["reach"][model.groups.index("seniors")])))
    return rows


def first_steps(cfg, programme, years: int, keys, seed: int) -> pl.DataFrame:
    """The chains the programme's own dwellings start in one market run (seed ``seed``): per chain its length
    and its first vacancy's outcome -- the stratum (``keys``) of the dwelling the first filler left, or
    ``end:<reason>`` when the first filler left none (or the dwelling was never filled)."""
    r = market_run(cfg, seed, programme, years)
    cs = completions_only(trace(r.moves, r.dwellings, np.asarray(r.programme_dwellings), window=r.window,
                                max_gap_days=r.max_gap_days))
    cols = sorted({"rooms" if k in ("size_band", "rooms") else k for k in keys})
    first = (cs.link_attributes([], cols).filter(pl.col("step") == 1)
             .select("chain_id", "from_dwelling", from_stratum=stratum_expr(keys, "from_")))
    return (cs.chains.select("chain_id", "length", "end_reason").join(first, on="chain_id", how="left")
            .select("length", outcome=pl.when(pl.col("from_dwelling").is_not_null()).then(pl.col("from_stratum"))
                    .otherwise(pl.lit("end:") + pl.col("end_reason").cast(pl.String))))


def step_decomposition(model, programme, traced: pl.DataFrame, first_rows: np.ndarray | None = None) -> dict:
    """Where the model's expected chain length of a one-line programme departs from the traced chains'.

    With q(o) the share of chains whose first vacancy has outcome o (a stratum the first filler left, or an
    end reason), R(o) the moves that follow it and m(o) = 1 for outcomes that are a move, the mean chain
    length is L = Σ_o q(o)·(m(o) + R(o)) in both: the model's q from the line's first rows, R from its
    fundamental matrix; the traced q and R (mean length − 1 of the chains with that first outcome) from
    ``traced`` (:func:`first_steps`). Then exactly

        L_model − L_traced = Σ (q_model − q_traced)·(m + R_model)   (who fills the first vacancy)
                           + Σ q_traced·(R_model − R_traced)        (what follows from the dwelling left)
                           − Σ_unseen q_traced·L_traced             (first fillers from strata the model lacks)

    Also the shares of first fillers who leave a dwelling, start a new household, or arrive (in-migrant,
    immigrant), model and traced. ``first_rows`` (S, S+R): other first rows to try in the model's place
    (wip/allocated_queue_rows.py).
    """
    (w, g, pool), = programme_kinds(model, programme)[0]
    pr = model.probabilities()
    S, reasons = model.n_strata, model.reasons
    P0 = first_rows if first_rows is not None else pr.first_rows(g, pool)[0]
    m = model.moves_flag().astype(np.float64)
    q_model = w @ P0
    r_model = np.r_[pr.N @ (pr.P @ m), np.zeros(len(reasons))]
    labels = {s: i for i, s in enumerate([*model.strata, *(f"end:{r}" for r in reasons)])}
    agg = traced.group_by("outcome").agg(n=pl.len(), length=pl.col("length").mean())
    n = traced.height
    q_traced, r_traced, unseen = np.zeros(len(m)), np.zeros(len(m)), 0.0
    for outcome, k, length in agg.iter_rows():
        i = labels.get(outcome)
        if i is None:
            unseen += k / n * length
            continue
        q_traced[i] = k / n
        r_traced[i] = length - m[i]
    arrival = np.array([S + reasons.index(r) for r in ARRIVAL_ENDS if r in reasons], np.int64)
    new_hh = S + reasons.index("new_household")
    return {"model": float(q_model @ (m + r_model)), "traced": float(traced["length"].mean()), "chains": n,
            "first_filler": float((q_model - q_traced) @ (m + r_model)),
            "what_follows": float(q_traced @ (r_model - r_traced)), "unseen": -unseen,
            "left": (float(q_model[:S].sum()), float((~traced["outcome"].str.starts_with("end:")).mean())),
            "new_household": (float(q_model[new_hh]), float(q_traced[new_hh])),
            "arrival": (float(q_model[arrival].sum()), float(q_traced[arrival].sum()))}


def source_noise(cs, scenarios, seed: int, others: int, replicates: int, scale: float, years: int, preset: str) -> dict:
    """How much of B is the draw of the source register: per programme of ``scenarios`` (by name), B (default
    model, new-household pool, as the run's ``transition_model`` gross) estimated on the source register
    ``cs`` (seed ``seed``) and on ``others`` more registers of the same preset (seeds seed + 1 .., simulated
    and traced here), and B's standard deviation over ``replicates`` bootstrap replicates of the source
    register (chains resampled, :meth:`TransitionModel.bootstrap`: what the register alone shows).

    Returns ``{name: (B per register, source first; bootstrap sd)}``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    progs = [p for sc in scenarios for p in sc.programmes]
    kinds = [programme_kinds(model, p)[:2] for p in progs]

    def gross(probs):
        return [100 * sum(c * model.expectations(w, g, probs, f)["moves"] for (w, g, f), c in zip(ks, counts))
                / counts.sum() for ks, counts in kinds]

    per_register = [gross(model.probabilities())]
    sd = model.bootstrap(gross, replicates, seed=seed).std(axis=0, ddof=1) if replicates > 1 \
        else np.full(len(progs), np.nan)
    del model
    for s in range(seed + 1, seed + 1 + others):
        reg = generate(preset, scale=scale, years=years, seed=s)
        cs_s = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
        del reg
        per_register.append([g for sc in scenarios for g in old_model_gross(cs_s, sc, DEFAULT_STRATA, pool=True)[0].values()])
        del cs_s
    b = np.array(per_register)
    return {p.name: (b[:, i], float(sd[i])) for i, p in enumerate(progs)}


STEP_LINES = ("cooperative, 2 rooms", *(label for label, _, _ in ALLOCATED))  # the lines outside or near 5%


def step_figures(cs, single, seeds: int, workers: int) -> list[tuple[str, dict]]:
    """:func:`step_decomposition` of the lines :data:`STEP_LINES` of the single-kind scenario: the model (default
    strata) against the programme's own chains in market runs at the first ``seeds`` microsimulation seeds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    src = single.source
    cfg = load_config(src.preset, years=src.years, scale=src.scale)
    run_seeds = replication_seeds(single.seed, seeds)
    out = []
    for prog in single.programmes:
        if prog.name in STEP_LINES:
            traced = map_replications(partial(first_steps, cfg, prog, src.years, model.keys), run_seeds,
                                      workers=workers)
            out.append((prog.name, step_decomposition(model, prog, pl.concat(traced))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--max-replications", type=int, default=60)
    ap.add_argument("--single-replications", type=int, default=10)
    ap.add_argument("--step-seeds", type=int, default=2,
                    help="market runs per line for the table of where the model's error sits (0: none)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--source-seeds", type=int, default=0,
                    help="other source registers (seeds source + 1 ..) to estimate B on: its source noise (0: none)")
    ap.add_argument("--source-bootstrap", type=int, default=50,
                    help="bootstrap replicates of the source register for B's standard deviation (with --source-seeds)")
    ap.add_argument("--bootstrap", type=int, default=None, help="bootstrap replicates of the model (default: the file's)")
    ap.add_argument("--model-only", action="store_true",
                    help="only the transition model's figures (A, B, cross-validation, allocation): no market runs")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "scenarios.md")
    args = ap.parse_args()

    base = load_scenario(ROOT / "examples" / "kustvik_rental_share.toml")
    src = dataclasses.replace(base.source, scale=args.scale, years=args.years)
    sc = dataclasses.replace(base, source=src, replications=args.replications,
                             max_replications=args.max_replications)
    if args.bootstrap is not None:
        sc = dataclasses.replace(sc, model=dataclasses.replace(sc.model, bootstrap=args.bootstrap))
    muni = base.programmes[0].lines[0].municipality
    single = parse_scenario({
        "name": "single kinds", "seed": base.seed, "replications": args.single_replications,
        "source": dataclasses.asdict(src) | {"register": None},
        "programme": [{"name": name, "line": [{"count": 600, "municipality": muni, **attrs}]}
                      for name, attrs in [*SINGLE, *((label, attrs) for label, attrs, _ in ALLOCATED)]]})
    single = dataclasses.replace(single, source=src, model=sc.model)
    tmp = Path(tempfile.mkdtemp(prefix="scenario_figures_"))
    reg = generate(src.preset, scale=src.scale, years=src.years, seed=src.seed)
    cs = trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    del reg
    if args.model_only:
        table, single_table, record, cv = _model_only(cs, sc, single)
        t_kustvik = t_single = 0.0
    else:
        t0 = time.perf_counter()
        table = run(sc, tmp / "kustvik", workers=args.workers)
        t_kustvik = time.perf_counter() - t0
        record = store.read_scenario_manifest(tmp / "kustvik")
        cv = load_model(store.scenario_file(tmp / "kustvik", "model")).meta.get("cross_validation", {})
        t0 = time.perf_counter()
        single_table = run(single, tmp / "single", workers=args.workers)
        t_single = time.perf_counter() - t0

    old, old_model = old_model_gross(cs, sc, placement=False)
    old_single, _ = old_model_gross(cs, single, placement=False)
    old_cv = old_model.cross_validate()
    prev, prev_model = old_model_gross(cs, sc, PREVIOUS_STRATA, placement=False)
    prev_single, _ = old_model_gross(cs, single, PREVIOUS_STRATA, placement=False)
    prev_cv = prev_model.cross_validate()
    nopool, _ = old_model_gross(cs, sc, DEFAULT_STRATA)  # B without the new-household pool (session 13's model)
    nopool_single, _ = old_model_gross(cs, single, DEFAULT_STRATA)
    alloc = allocation_figures(cs, muni)
    steps = step_figures(cs, single, args.step_seeds, args.workers) if args.step_seeds and not args.model_only else []
    noise = source_noise(cs, (sc, dataclasses.replace(single, programmes=single.programmes[:len(SINGLE)])),
                         src.seed, args.source_seeds, args.source_bootstrap, src.scale, src.years, src.preset) \
        if args.source_seeds else {}

    command = (f"python scripts/scenario_figures.py --scale {args.scale:g} --years {args.years} "
               + (f"--bootstrap {args.bootstrap} " if args.bootstrap is not None else "")
               + ("--model-only" if args.model_only else
                  f"--replications {args.replications} --max-replications {args.max_replications} "
                  f"--single-replications {args.single_replications} --step-seeds {args.step_seeds} "
                  f"--workers {args.workers}")
               + (f" --source-seeds {args.source_seeds} --source-bootstrap {args.source_bootstrap}"
                  if args.source_seeds else ""))
    lines = ["<!-- figures:start -->",
             f"*Generated by `{command}` "
             f"(metro preset, source seed {src.seed}; a 2-core machine shared with other jobs).*", ""]
    n_reps = len(record.microsimulation_seeds) if record is not None else 0
    reps_note = "transition model only: rows C and D need the market runs (without --model-only)" \
        if args.model_only else f"{n_reps} paired replications"
    lines += [f"Kustvik, {sc.programmes[0].dwellings} dwellings in municipality {muni}, "
              f"{reps_note} (95% intervals):", "",
              "| per 100 new dwellings | " + " | ".join(p.name for p in sc.programmes) + " |",
              "|---|" + "---|" * len(sc.programmes)]

    def table_rows(tab, progs, old_gross, prev_gross, nopool_gross):
        out = [("A. model, old default strata (tenure × size band × area type)",
                [f"{old_gross[p.name]:.0f}" for p in progs]),
               ("A′. model, session 12's default (tenure × rooms × area type × municipality; an open area type "
                "weighted by the regular new builds)", [f"{prev_gross[p.name]:.0f}" for p in progs]),
               ("B. model, default strata (tenure × rooms × municipality × area type, shrunk; an open area type: "
                "the programme spec's placement); "
                "interval with the cross-validated error",
                [fmt(value(tab, p.name, "transition_model", GROSS)) for p in progs]),
               *(((f"B at {args.source_seeds + 1} source registers (seeds {src.seed} to "
                  f"{src.seed + args.source_seeds}; mean, sd across registers, lowest to highest)",
                  [f"{noise[p.name][0].mean():.0f} (sd {noise[p.name][0].std(ddof=1):.1f}, "
                   f"{100 * noise[p.name][0].std(ddof=1) / noise[p.name][0].mean():.1f}%; "
                   f"{noise[p.name][0].min():.0f} to {noise[p.name][0].max():.0f})" for p in progs]),
                 (f"B's sd from the source register's own bootstrap ({args.source_bootstrap} replicates, "
                  "chains resampled)",
                  [f"{noise[p.name][1]:.1f} ({100 * noise[p.name][1] / noise[p.name][0][0]:.1f}%)" for p in progs]))
                 if noise else ()),
               ("B₀. the same model without the new-household pool (session 13's default)",
                [f"{nopool_gross[p.name]:.0f}" for p in progs]),
               ("C. gross: chains of the programme's own dwellings, traced inside the market runs",
                [fmt(value(tab, p.name, "microsimulation", GROSS)) for p in progs]),
               ("D. net: change in all moves of the market (paired)",
                [fmt(value(tab, p.name, "microsimulation", NET)) for p in progs]),
               ("net / gross (displacement ratio, D / C)",
                [fmt(value(tab, p.name, "microsimulation", RATIO), 2) for p in progs]),
               ("B / C − 1 (model against traced gross)",
                [_rel(value(tab, p.name, "transition_model", GROSS), value(tab, p.name, "microsimulation", GROSS))
                 for p in progs]),
               *((("B at the source registers, mean / C − 1 (the model's bias net of the source's draw)",
                   [_rel({"estimate": noise[p.name][0].mean()}, value(tab, p.name, "microsimulation", GROSS))
                    for p in progs]),) if noise else ()),
               ("B₀ / C − 1 (the model without the pool against traced gross)",
                [_rel({"estimate": nopool_gross[p.name]}, value(tab, p.name, "microsimulation", GROSS))
                 for p in progs]),
               ("A′ / C − 1 (session 12's model against traced gross)",
                [_rel({"estimate": prev_gross[p.name]}, value(tab, p.name, "microsimulation", GROSS))
                 for p in progs]),
               ("gross in the municipality / in the rest (traced)",
                [f"{fmt(value(tab, p.name, 'microsimulation', GROSS, 'municipality'))} / "
                 f"{fmt(value(tab, p.name, 'microsimulation', GROSS, 'rest'))}" for p in progs]),
               ("net in the municipality / in the rest",
                [f"{fmt(value(tab, p.name, 'microsimulation', NET, 'municipality'))} / "
                 f"{fmt(value(tab, p.name, 'microsimulation', NET, 'rest'))}" for p in progs])]
        return [f"| {label} | " + " | ".join(vals) + " |" for label, vals in out]

    lines += table_rows(table, sc.programmes, old, prev, nopool)
    single_note = "transition model only" if args.model_only else f"{args.single_replications} replications"
    lines += ["", f"Single kinds, 600 dwellings each in {muni}, {single_note}:", "",
              "| per 100 new dwellings | " + " | ".join(p.name for p in single.programmes[:len(SINGLE)]) + " |",
              "|---|" + "---|" * len(SINGLE)]
    lines += table_rows(single_table, single.programmes[:len(SINGLE)], old_single, prev_single, nopool_single)
    if not args.model_only:
        lines += ["", *verdict([(table, p) for p in sc.programmes]
                               + [(single_table, p) for p in single.programmes[:len(SINGLE)]], noise)]
    if record is not None:
        lines += ["", "Resolving the programmes (paired difference of net moves per 100 new dwellings; "
                  f"{args.replications} replications first, then batches of {args.replications} up to "
                  f"{args.max_replications}; {t_kustvik / 60:.1f} minutes for the whole Kustvik run including "
                  f"tracing, model, cross-validation and bootstrap; the single-kind run took {t_single / 60:.1f}):",
                  "", "| difference | estimate (95%) | replications | resolved |", "|---|---|---|---|"]
    for d in (record.differences if record is not None else []):
        lines.append(f"| {d['a']} − {d['b']} | {d['difference']:.0f} ({d['lower']:.0f} to {d['upper']:.0f}) | "
                     f"{d['replications']} | {'yes' if d['resolved'] else 'no'} |")
    lines += ["", "Cross-validation by municipality (estimate without the chains of municipality m's new builds, "
              "predict m's traced mean chain length; cases: m's new builds all together, by tenure and by tenure × "
              "size band, with at least 30 chains):", "",
              "| strata | cases | municipalities | bias | σ (relative) | errors from … to | 95% coverage |",
              "|---|---|---|---|---|---|---|"]
    for label, c in (("tenure × rooms × municipality × area type (default)", cv),
                     ("tenure × rooms × area type × municipality (last session's order)", prev_cv),
                     ("tenure × size band × area type (old default)", old_cv)):
        if c.get("cases"):
            lo, hi = c["relative_error_range"]
            lines.append(f"| {label} | {c['cases']} | {c['municipalities']} | {100 * c['bias']:+.1f}% | "
                         f"{100 * c['sigma']:.1f}% | {100 * lo:+.1f}% to {100 * hi:+.1f}% | {100 * c['coverage']:.0f}% |")
    lines += ["", f"Allocation (transition model, per 100 new dwellings in {muni}): the other group's reach with "
              "the first filler's profile left at the stratum's unconditional shares (before) and conditioned on "
              "the allocated group (now):", "",
              "| line | strata | other group | before | now | gross moves | young adults + seniors |",
              "|---|---|---|---|---|---|---|"]
    for label, strata, other, before, after, moves, both in alloc:
        lines.append(f"| {label} | {strata} | {other} | {before:.1f} | {after:.1f} | {moves:.0f} | {both:.0f} |")
    lines += ["", f"Allocation in both methods (600 dwellings in {muni}, per 100 new dwellings, gross: the chains "
              "the line's dwellings start; the model with the default strata, the market with its eligibility "
              f"rules{'' if args.model_only else f', {args.single_replications} replications'}):", "",
              "| line | method | own group reached | other group reached | gross moves | young adults + seniors |",
              "|---|---|---|---|---|---|"]
    for (label, attrs, other), method in itertools.product(ALLOCATED, ("transition_model", "microsimulation")):
        own = attrs["target_group"]
        got = {m: value(single_table, label, method, m) for m in
               (f"reached_{own}_per_100_new", f"reached_{other}_per_100_new", GROSS,
                "reached_young_adults_per_100_new", "reached_seniors_per_100_new")}
        both = (None if None in (got["reached_young_adults_per_100_new"], got["reached_seniors_per_100_new"]) else
                {"estimate": got["reached_young_adults_per_100_new"]["estimate"]
                 + got["reached_seniors_per_100_new"]["estimate"], "lower": None})
        lines.append(f"| {label} | {method} | {fmt(got[f'reached_{own}_per_100_new'], 1)} | "
                     f"{fmt(got[f'reached_{other}_per_100_new'], 1)} | {fmt(got[GROSS])} | {fmt(both)} |")
    if steps:
        lines += ["", f"Where the model's error sits (600 dwellings in {muni}; the programme's own chains in "
                  f"{args.step_seeds} market runs per line at the first microsimulation seeds; mean chain length, "
                  "model − traced = who fills the first vacancy + what follows from the dwelling the first filler "
                  "left + first fillers from strata the model never saw, `step_decomposition`):", "",
                  "| line | model | traced (chains) | model − traced | first filler | what follows | unseen strata | "
                  "first filler left a dwelling (model / traced) | a new household | an arrival |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for label, d in steps:
            pair = lambda k: f"{100 * d[k][0]:.1f}% / {100 * d[k][1]:.1f}%"  # noqa: E731
            lines.append(f"| {label} | {d['model']:.3f} | {d['traced']:.3f} ({d['chains']}) | "
                         f"{d['model'] - d['traced']:+.3f} | {d['first_filler']:+.3f} | {d['what_follows']:+.3f} | "
                         f"{d['unseen']:+.3f} | {pair('left')} | {pair('new_household')} | {pair('arrival')} |")
    lines.append("<!-- figures:end -->")
    text = args.out.read_text(encoding="utf-8")
    start, end = text.index("<!-- figures:start -->"), text.index("<!-- figures:end -->") + len("<!-- figures:end -->")
    args.out.write_text(text[:start] + "\n".join(lines) + text[end:], encoding="utf-8")
    print("\n".join(lines))


def _model_only(cs, sc, single):
    """The transition model's rows of both scenarios (default strata, bootstrap and cross-validated error)."""
    from flyttkedja.scenario.compare import transition_rows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimate(cs)
    cv = model.cross_validate()
    tables = []
    for scenario in (sc, single):
        rows = []
        for prog in scenario.programmes:
            rows += transition_rows(model, prog, bootstrap=scenario.model.bootstrap, reps=10, seed=scenario.seed,
                                    model_error=cv.get("sigma", 0.0))
        tables.append(pl.DataFrame(rows))
    return tables[0], tables[1], None, cv


def verdict(cases, noise: dict, tolerance: float = 0.05) -> list[str]:
    """Sentences on the criterion "model gross within 5% of traced gross" for ``cases`` ((table, programme)
    pairs): the lines within and outside with B of the source register, and (with ``noise``,
    :func:`source_noise`) with B's mean over the source registers, and where the source register's B ranks
    among them."""
    def rel(tab, p, b=None):
        c = value(tab, p.name, "microsimulation", GROSS)
        b = value(tab, p.name, "transition_model", GROSS)["estimate"] if b is None else b
        return None if c is None or not c["estimate"] else b / c["estimate"] - 1

    def split(get):
        r = [(p.name, get(tab, p)) for tab, p in cases]
        inside = [f"{n} ({100 * x:+.1f}%)" for n, x in r if x is not None and abs(x) <= tolerance]
        outside = [f"{n} ({100 * x:+.1f}%)" for n, x in r if x is not None and abs(x) > tolerance]
        return (f"within {100 * tolerance:.0f}%: {', '.join(inside) or 'none'}; outside: "
                f"{', '.join(outside) or 'none'}")

    out = [f"Model against traced gross (issue 13's criterion: within {100 * tolerance:.0f}%), B / C − 1 with B of "
           f"the source register: {split(rel)}."]
    if noise:
        n = len(next(iter(noise.values()))[0])
        out += ["", f"B / C − 1, B's mean over the {n} source registers: "
                f"{split(lambda tab, p: rel(tab, p, noise[p.name][0].mean()))}. The source register's B is, from "
                "the highest, " + ", ".join(f"{p.name} {1 + int((noise[p.name][0][1:] > noise[p.name][0][0]).sum())}"
                                            f" of {n}" for _, p in cases) + "."]
    return out


def _rel(model_row, traced_row) -> str:
    if model_row is None or traced_row is None or not traced_row["estimate"]:
        return "–"
    return f"{100 * (model_row['estimate'] / traced_row['estimate'] - 1):+.1f}%"


if __name__ == "__main__":
    main()
