"""How closely two runs of the synthetic market that differ by a programme stay together.

For each programme of a scenario file (default: the Kustvik example) and each
replication seed: the baseline run and the programme's run. Reported:

* **identical moves by year**: the share of the baseline's household moves
  that occur identically in the programme's run -- same household (stable
  key), date, from- and to-dwelling (stable keys);
* **where divergence starts**: by month, the share of the baseline's moves
  that are not identical, beside the programme's completions that month;
* **the probe**: a programme of a few dwellings (``--probe``, rental, 2 rooms,
  Kustvik, completed in one year) on a smaller region (``--probe-scale``),
  with the preset's search windows and with unlimited ones
  (``market.scan_limit`` and ``market.candidates``): how a handful of
  perturbed moves grows, quarter by quarter -- the market's own sensitivity,
  separated from the programme's size;
* **how one dwelling's perturbation spreads**: a programme of a single dwelling on
  the probe's region, and by 30-day window from its completion the baseline moves
  that are not identical (``--spread-months``);
* **paired-difference variance**: over the seeds, the variance of the
  programme-minus-baseline difference of each microsimulation measure when
  both runs share the seed (paired), against the variance when the baseline
  comes from another seed (unpaired: the variance of the programme run plus
  that of the baseline run); the ratio is what pairing saves.

Writes ``docs/coupling.md`` (generated; do not edit by hand)::

    python scripts/coupling.py --scale 1 --years 5 --seeds 2 --probe 10 --probe-scale 0.2

Works on any flyttkedja checkout with ``scenario.microsim.programme_hook``;
the identical-move shares need the stable keys of this version
(``RawRegister.household_key``), the variance part does not (``--variance-only``
runs it on an older checkout, e.g. 4efb7be, for the "before" figures).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEASURES = ("moves", "vacancies_rental", "vacancies_owner", "reached_young_adults", "reached_seniors")
M_FROM, M_TO, M_VAC, M_FILL, M_AGE, D_TENURE = 2, 3, 6, 7, 10, 0  # raw columns (the same in 4efb7be)
PROGRAMME_KEY = 1 << 40  # stable keys of a programme's dwellings start here (synth's PROGRAMME_KEY)
UNLIMITED = {"market.scan_limit": 10**6, "market.candidates": 10**6}


def measures(raw) -> dict[str, float]:
    """Counts of one run over the whole market: filling moves, vacated rental / owner dwellings, young
    adults (head 18-29) and seniors (65+) housed; from the raw arrays, so older checkouts work too."""
    mv, d = raw.moves, raw.d
    fill = (mv[:, M_TO] >= 0) & (mv[:, M_FILL] == 1)
    vac = (mv[:, M_VAC] == 1) & (mv[:, M_FROM] >= 0)
    tenure = d[mv[vac, M_FROM], D_TENURE]
    age = mv[fill, M_AGE]
    return {"moves": float(fill.sum()), "vacancies_rental": float((tenure == 0).sum()),
            "vacancies_owner": float((tenure == 2).sum()),
            "reached_young_adults": float(((age >= 18) & (age <= 29)).sum()), "reached_seniors": float((age >= 65).sum())}


def move_keys(raw) -> tuple[np.ndarray, np.ndarray]:
    """(year, stable 4-tuple hash) per move of a raw register."""
    hkey = raw.household_key()[raw.moves_column("household")]
    dkey = raw.dwelling_key()
    frm, to = raw.moves_column("from_dwelling"), raw.moves_column("to_dwelling")
    fk = np.where(frm >= 0, dkey[np.maximum(frm, 0)], -1)
    tk = np.where(to >= 0, dkey[np.maximum(to, 0)], -1)
    day = raw.moves_column("day")
    rows = np.stack([hkey, day, fk, tk], axis=1).astype(np.int64)
    years = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return years, rows


def identical(base, run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, day, identical) per baseline move: whether it occurs identically in ``run``."""
    by, b = move_keys(base)
    _, r = move_keys(run)
    rv = np.ascontiguousarray(r).view([("", np.int64)] * 4).ravel()
    bv = np.ascontiguousarray(b).view([("", np.int64)] * 4).ravel()
    return by, b[:, 1], np.isin(bv, rv)


def identical_share(base, run) -> dict[int, float]:
    """Share of the baseline's moves, by year, that occur identically in ``run``."""
    by, _, same = identical(base, run)
    return {int(y): float(same[by == y].mean()) for y in np.unique(by)}


DIFFERENCES = ("identical", "same move, another day", "same day and from, another dwelling",
               "another day and move", "no move of the household")


def _rows_in(b: np.ndarray, r: np.ndarray, cols: list[int]) -> np.ndarray:
    """Whether each row of ``b`` restricted to ``cols`` occurs among ``r``'s."""
    view = [("", np.int64)] * len(cols)
    return np.isin(np.ascontiguousarray(b[:, cols]).view(view).ravel(), np.ascontiguousarray(r[:, cols]).view(view).ravel())


def differences(base, run) -> dict[int, np.ndarray]:
    """By year: the share of baseline moves in each class of :data:`DIFFERENCES` (first that applies).

    Columns of a move key: household, day, from, to (stable keys).
    """
    by, b = move_keys(base)
    _, r = move_keys(run)
    tests = [_rows_in(b, r, [0, 1, 2, 3]), _rows_in(b, r, [0, 2, 3]), _rows_in(b, r, [0, 1, 2]),
             np.isin(b[:, 0], r[:, 0])]
    cls = np.full(len(b), len(tests))
    for i in range(len(tests) - 1, -1, -1):
        cls[tests[i]] = i
    return {int(y): np.bincount(cls[by == y], minlength=len(DIFFERENCES)) / max((by == y).sum(), 1)
            for y in np.unique(by)}


def months_of(day: np.ndarray, day0: int) -> np.ndarray:
    """Month since the window's start (0-based) of day numbers."""
    ym = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return ym - np.datetime64(int(day0), "D").astype("datetime64[M]").astype(np.int64)


def divergence_by_period(base, run, period_months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(baseline moves, of them not identical, programme completions) per period of ``period_months``."""
    _, day, same = identical(base, run)
    day0 = base.window[0]
    n = (months_of(np.array([base.window[1]]), day0)[0]) // period_months + 1
    per = months_of(day, day0) // period_months
    moves = np.bincount(per, minlength=n)[:n]
    differ = np.bincount(per, weights=~same, minlength=n)[:n].astype(np.int64)
    d = run.dwellings_column("completed")
    prog = run.dwelling_key() >= PROGRAMME_KEY
    done = d[prog & (d >= day0)]
    completions = np.bincount(months_of(done, day0) // period_months, minlength=n)[:n]
    return moves, differ, completions


def probe(scale: float, years: int, seed: int, count: int, overrides: dict) -> dict[str, np.ndarray]:
    """Baseline and a ``count``-dwelling programme (rental, 2 rooms, Kustvik, completed in the first year)
    on metro at ``scale``, with ``overrides`` of the preset (``{"market.scan_limit": 10**6}``); by quarter."""
    base, run = _probe_runs(scale, years, seed, count, overrides)
    moves, differ, completions = divergence_by_period(base, run, 3)
    return {"moves": moves, "differ": differ, "completions": completions, "share": identical_share(base, run)}


def _probe_runs(scale: float, years: int, seed: int, count: int, overrides: dict):
    """(baseline, programme run) of the probe: ``count`` public rental 2-room dwellings in Kustvik,
    completed in the first year, on metro at ``scale`` with ``overrides`` of the preset."""
    from flyttkedja.synth import load_config
    from flyttkedja.synth.programme import Programme, ProgrammeLine
    from flyttkedja.synth.simulate import simulate

    cfg = load_config("metro", years=years, scale=scale)
    for name, value in overrides.items():
        section, key = name.split(".")
        cfg.raw[section][key] = value
    prog = Programme((ProgrammeLine(count=count, tenure="rental", rooms=2, landlord="public", municipality="9983",
                                    completion_years=(cfg.first_year,)),), years=1, name=f"probe {count}")
    return simulate(cfg, seed), simulate(cfg, seed, programme=prog)


def spread(scale: float, seed: int, months: int) -> dict:
    """One dwelling's perturbation: by 30-day window from its completion day, (baseline moves, not identical)."""
    base, run = _probe_runs(scale, 2, seed, 1, {})
    _, day, same = identical(base, run)
    done = run.dwellings_column("completed")[run.dwelling_key() >= PROGRAMME_KEY]
    t0 = int(done.min())
    first = int(day[~same].min()) if (~same).any() else None
    win = (day - t0) // 30
    keep = (win >= 0) & (win < months)
    moves = np.bincount(win[keep], minlength=months)[:months]
    differ = np.bincount(win[keep], weights=~same[keep], minlength=months)[:months].astype(np.int64)
    return {"moves": moves, "differ": differ, "first_gap": None if first is None else first - t0,
            "before": int((~same[day < t0]).sum()), "completed": t0 - base.window[0]}


def spread_lines(sp: dict, args) -> list[str]:
    """How one dwelling's perturbation spreads, month by month."""
    n = len(sp["moves"])
    return [f"## How one dwelling's perturbation spreads", "",
            f"Metro at scale {args.probe_scale:g}, 2 years, seed of the scenario: a programme of a single public "
            f"rental 2-room dwelling in Kustvik (completed on day {sp['completed']} of the window), against the "
            f"same baseline. Baseline moves not identical before its completion: {sp['before']}; the first "
            f"differs {sp['first_gap']} days after it. By 30-day window from the completion day:", "",
            "| | " + " | ".join(f"m{i + 1}" for i in range(n)) + " |", "|---|" + "---|" * n,
            "| baseline moves | " + " | ".join(str(x) for x in sp["moves"]) + " |",
            "| not identical | " + " | ".join(str(x) for x in sp["differ"]) + " |",
            "| share | " + " | ".join(f"{d / max(m, 1):.0%}" for d, m in zip(sp["differ"], sp["moves"])) + " |", "",
            "Each letting picks the first compatible entry of a list window (a vacancy: the best of the first "
            "`market.candidates` compatible seekers among the first `market.scan_limit` live entries, most "
            "often the only compatible one; a new seeker: the oldest compatible vacancy). One household "
            "housed differently leaves another dwelling vacant and another seeker waiting, which changes "
            "the window of every later search that walks past that entry; each changed letting does the "
            "same again. In the table the count of changed moves about doubles each month for the first "
            "months and then levels off near half of the moves (which moves stay identical, and why, is not "
            "measured here). Raising coupling needs lettings that do not depend on list positions "
            "(docs/performance.md, \"Where the time goes\").", ""]


def month_lines(months: dict[str, list[tuple]]) -> list[str]:
    """The first year month by month: where divergence starts."""
    first = next(iter(months.values()))[0]
    n = min(12, len(first[0]))
    out = ["## Where divergence starts: the first year by month", "",
           "Share of the baseline's moves that are *not* identical in the programme's run (first seed), and the "
           "programme's completions that month.", "",
           "| programme | " + " | ".join(f"m{i + 1}" for i in range(n)) + " |", "|---|" + "---|" * n]
    for name, per_seed in months.items():
        moves, differ, completions = per_seed[0]
        cells = [f"{differ[i] / max(moves[i], 1):.1%} ({completions[i]})" for i in range(n)]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out + ["", "In brackets: the programme's dwellings completed that month.", ""]


def difference_lines(kinds: dict[str, dict[int, np.ndarray]]) -> list[str]:
    """How the baseline's moves differ in the programme's run, by year (first seed)."""
    out = ["## How the moves that are not identical differ", "",
           "Each baseline move in the first class that applies (first seed): the same household makes the same "
           "move on another day; on the same day from the same dwelling it moves to another one; it moves in the "
           "programme's run but on other days and between other dwellings; or it has no move there (also: a "
           "household formed on another day, whose key differs).", "",
           "| programme | year | " + " | ".join(DIFFERENCES) + " |", "|---|---|" + "---|" * len(DIFFERENCES)]
    for name, by_year in kinds.items():
        for y, share in by_year.items():
            out.append(f"| {name} | {y} | " + " | ".join(f"{x:.1%}" for x in share) + " |")
    return out + [""]


def probe_lines(probes: dict[str, dict], args) -> list[str]:
    """The probe: a few dwellings, and how far their perturbation spreads, quarter by quarter."""
    any_probe = next(iter(probes.values()))
    nq = len(any_probe["moves"])
    years = sorted(any_probe["share"])
    out = [f"## The market's sensitivity: a probe of {args.probe} dwellings", "",
           f"Metro at scale {args.probe_scale:g}, {args.probe_years} years, seed of the scenario: a programme of "
           f"{args.probe} public rental 2-room dwellings in Kustvik completed in {years[0]}, against the same "
           "baseline; with the preset's search windows (a vacancy compares the first "
           "`market.candidates` compatible seekers among the first `market.scan_limit` list entries) and "
           "with unlimited ones (every compatible seeker; about 45 times slower at scale 1, so not a "
           "setting to run).", "",
           "Baseline moves not identical, by quarter (programme completions in brackets):", "",
           "| windows | " + " | ".join(f"q{i + 1}" for i in range(nq)) + " |", "|---|" + "---|" * nq]
    for label, pr in probes.items():
        cells = [f"{pr['differ'][i]} ({pr['completions'][i]})" for i in range(nq)]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Share of baseline moves identical, by year:", "",
            "| windows | " + " | ".join(str(y) for y in years) + " |", "|---|" + "---|" * len(years)]
    for label, pr in probes.items():
        out.append(f"| {label} | " + " | ".join(f"{pr['share'][y]:.1%}" for y in years) + " |")
    return out + [""]


def before_tables(commit: str | None) -> tuple[dict, dict]:
    """(by-year cells per programme, paired variance and ratio per (programme, measure)) of ``commit``'s doc."""
    if commit is None:
        return {}, {}
    import subprocess

    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:docs/coupling.md"], capture_output=True,
                          text=True, check=True).stdout
    years, variance, section = {}, {}, ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or cells[0] == "programme":
            continue
        if section.startswith("## Baseline moves"):
            years[cells[0]] = cells[1:]
        elif section.startswith("## Variance"):
            variance[(cells[0], cells[1])] = (cells[3], cells[5])
    return years, variance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "examples" / "kustvik_rental_share.toml"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--variance-only", action="store_true", help="skip the identical-move shares (older checkouts)")
    ap.add_argument("--before", default=None, help="a commit whose docs/coupling.md gives the 'before' columns")
    ap.add_argument("--probe", type=int, default=10, help="dwellings of the probe programme (0: no probe)")
    ap.add_argument("--probe-scale", type=float, default=0.2)
    ap.add_argument("--probe-years", type=int, default=3)
    ap.add_argument("--spread-months", type=int, default=12, help="months of the one-dwelling spread (0: none)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "coupling.md"))
    args = ap.parse_args()

    from flyttkedja.scenario.config import load_scenario
    from flyttkedja.scenario.microsim import programme_hook
    from flyttkedja.synth import load_config
    from flyttkedja.synth.simulate import simulate

    sc = load_scenario(args.scenario)
    cfg = load_config(sc.source.preset, years=args.years, scale=args.scale)
    t0 = time.perf_counter()
    seeds = [sc.seed + i for i in range(args.seeds)]
    shares: dict[str, list[dict[int, float]]] = {p.name: [] for p in sc.programmes}
    months: dict[str, list[tuple]] = {p.name: [] for p in sc.programmes}
    kinds: dict[str, dict[int, np.ndarray]] = {}
    base_m, run_m = [], {p.name: [] for p in sc.programmes}
    for seed in seeds:
        base = simulate(cfg, seed)
        base_m.append(measures(base))
        for prog in sc.programmes:
            run = simulate(cfg, seed, programme=programme_hook(cfg, prog, args.years))
            run_m[prog.name].append(measures(run))
            if not args.variance_only:
                shares[prog.name].append(identical_share(base, run))
                months[prog.name].append(divergence_by_period(base, run, 1))
                if seed == seeds[0]:
                    kinds[prog.name] = differences(base, run)
    probes = {}
    if args.probe and not args.variance_only:
        for label, over in (("preset windows", {}), ("unlimited windows", UNLIMITED)):
            probes[label] = probe(args.probe_scale, args.probe_years, sc.seed, args.probe, over)
    sp = spread(args.probe_scale, sc.seed, args.spread_months) if args.spread_months and not args.variance_only else None
    seconds = time.perf_counter() - t0
    before_years, before_var = before_tables(args.before)

    lines = ["# Coupling of paired synthetic-market runs", "",
             f"Generated by `scripts/coupling.py` (do not edit by hand): `python scripts/coupling.py --scale "
             f"{args.scale:g} --years {args.years} --seeds {args.seeds} --probe {args.probe} --probe-scale "
             f"{args.probe_scale:g}"
             + (f" --before {args.before}" if args.before else "") + f"` ({seconds:.0f} s on a shared machine).", "",
             f"Scenario `{Path(args.scenario).name}`, preset {sc.source.preset}, scale {args.scale:g}, "
             f"{args.years} years, seeds {seeds[0]}-{seeds[-1]}. What the figures mean: docs/synthetic.md, "
             "\"Random streams\".", ""]
    if not args.variance_only:
        years = sorted(shares[sc.programmes[0].name][0])
        lines += ["## Baseline moves that occur identically in the programme's run", "",
                  "| programme | " + " | ".join(str(y) for y in years) + " |",
                  "|---|" + "---|" * len(years)]
        for name, per_seed in shares.items():
            cells = [f"{np.mean([s[y] for s in per_seed]):.1%}" for y in years]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
            if name in before_years:
                lines.append(f"| {name}, before ({args.before}) | " + " | ".join(before_years[name]) + " |")
        lines += ["", "Mean over the seeds; a move is identical when the same household (stable key) moves on "
                  "the same date from the same dwelling to the same dwelling.", ""]
        lines += month_lines(months) + difference_lines(kinds)
        if probes:
            lines += probe_lines(probes, args)
        if sp is not None:
            lines += spread_lines(sp, args)
    extra = f" | variance paired before ({args.before}) | ratio before" if before_var else ""
    lines += ["## Variance of the programme's effect: paired against unpaired", "",
              "| programme | measure | mean effect | variance paired | variance unpaired | ratio" + extra + " |",
              "|---|---|---|---|---|---|" + ("---|---|" if before_var else "")]
    for name, runs in run_m.items():
        for k in MEASURES:
            b = np.array([x[k] for x in base_m])
            r = np.array([x[k] for x in runs])
            paired = np.var(r - b, ddof=1)
            unpaired = np.var(r, ddof=1) + np.var(b, ddof=1)
            ratio = f"1/{unpaired / paired:.0f}" if paired > 0 else "exact"
            old = " " + " | ".join(before_var.get((name, k), ("", ""))) + " |" if before_var else ""
            lines.append(f"| {name} | {k} | {np.mean(r - b):.1f} | {paired:.1f} | {unpaired:.1f} | {ratio} |" + old)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
