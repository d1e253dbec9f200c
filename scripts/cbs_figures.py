"""CBS's figures for chains from new builds beside the project's, on the metro preset.

CBS ("Verhuisketens", 2021 cohort, national register reconstruction) counts chains
as trees: about 50k occupied new builds took 56k households in the first link (1.12
per new build), about 33k in the second; about 120k dwellings were vacated and
reoccupied in all (about 2.4 per new build); about half of the households in each
link are starters. This script traces the synthetic metro register under both
conventions (docs/chains.md) and writes the same figures into docs/chains.md,
between the ``cbs-figures`` markers.

    python scripts/cbs_figures.py                 # metro, scale 1, seed 7; rewrites docs/chains.md
    python scripts/cbs_figures.py --print         # print the section only

Definitions (one each; the names are those of the table):

- *occupied new builds*: new builds completed in the window whose vacancy was filled
  (tree length > 0);
- *households in link k per occupied new build*: links with ``step == k`` of the trees
  of occupied new builds, divided by their number (the path convention has one per link);
- *moves per occupied new build*: mean ``length`` (household moves) of those chains;
- *dwellings reoccupied per occupied new build*: the new build plus every vacated
  dwelling refilled inside the chain (links whose own vacancy was filled), per occupied
  new build — CBS's "vacated and reoccupied";
- *depth*: mean rounds;
- *starters in link k*: share of the link-k households that left no vacancy behind
  (no dwelling of the area, or one where others stayed) -- the definition
  scripts/calibrate.py uses for the same CBS figure; of them, *new households*
  (origin ``new_household``) and households *from outside* (``in_migrant``,
  ``immigrant``) are shown apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

import flyttkedja
from flyttkedja.synth import generate

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "chains.md"
START, END = "<!-- cbs-figures:start (scripts/cbs_figures.py) -->", "<!-- cbs-figures:end -->"
CBS = {"households_link_1": 1.12, "households_link_2": 0.66, "reoccupied": 2.4, "starters": 0.5}


def figures(cs) -> dict:
    """The figures of one ChainSet of new-build seeds (either convention)."""
    occupied = cs.chains.filter(pl.col("length") > 0)
    n = occupied.height
    links = cs.links.join(occupied.select("chain_id"), on="chain_id", how="semi")
    moves = pl.from_arrow(cs.moves.select(["origin", "vacates"]))
    links = links.with_columns(origin=moves["origin"].gather(links["move_row"]),
                               vacates=moves["vacates"].gather(links["move_row"]))
    refilled = links.filter(pl.col("from_dwelling").is_not_null())
    if "end_reason" in links.columns:  # a tree: a link's vacancy refilled unless it is a leaf
        refilled = refilled.filter(pl.col("end_reason").is_null())
    else:  # a path: every link but the last
        refilled = refilled.join(occupied.select("chain_id", "length"), on="chain_id").filter(
            pl.col("step") < pl.col("length"))
    by_step = links.group_by("step").agg(
        households=pl.len(), starters=(pl.col("from_dwelling").is_null() | ~pl.col("vacates")).mean(),
        new_households=(pl.col("origin") == "new_household").mean(),
        outside=pl.col("origin").is_in(["in_migrant", "immigrant"]).mean()).sort("step")
    at = {row["step"]: row for row in by_step.iter_rows(named=True)}
    return {
        "new_builds": cs.chains.height, "occupied": n,
        "households_link_1": at.get(1, {}).get("households", 0) / max(n, 1),
        "households_link_2": at.get(2, {}).get("households", 0) / max(n, 1),
        "moves": occupied["length"].mean() if n else 0.0,
        "reoccupied": (n + refilled.height) / max(n, 1),
        "depth": occupied["depth"].mean() if n else 0.0,
        "starters": {k: at[k]["starters"] for k in sorted(at)[:3]},
        "new_households": {k: at[k]["new_households"] for k in sorted(at)[:3]},
        "outside": {k: at[k]["outside"] for k in sorted(at)[:3]},
        "joiners": cs.quality.get("joiners"),
    }


def render(scale: float = 1.0, seed: int = 7) -> str:
    reg = generate("metro", scale=scale, seed=seed)
    kw = dict(window=reg.window, max_gap_days=reg.max_gap_days)
    path = figures(flyttkedja.trace(reg.moves, reg.dwellings, **kw))
    tree = figures(flyttkedja.trace(reg.moves, reg.dwellings, convention="tree", **kw))
    pct = lambda d, k: f"{100 * d.get(k, 0):.0f}%" if k in d else "–"  # noqa: E731
    rows = [
        ("occupied new builds", "≈ 50,000", f"{path['occupied']:,}", f"{tree['occupied']:,}"),
        ("households in link 1 per occupied new build", f"{CBS['households_link_1']:.2f}",
         f"{path['households_link_1']:.2f}", f"{tree['households_link_1']:.2f}"),
        ("households in link 2 per occupied new build", f"≈ {CBS['households_link_2']:.2f}",
         f"{path['households_link_2']:.2f}", f"{tree['households_link_2']:.2f}"),
        ("moves per occupied new build", "–", f"{path['moves']:.2f}", f"{tree['moves']:.2f}"),
        ("dwellings reoccupied per occupied new build", f"≈ {CBS['reoccupied']:.1f}",
         f"{path['reoccupied']:.2f}", f"{tree['reoccupied']:.2f}"),
        ("depth (rounds) per occupied new build", "–", f"{path['depth']:.2f}", f"{tree['depth']:.2f}"),
        *[(f"starters (no vacancy left behind) in link {k}", "≈ 50%" if k <= 2 else "–", pct(path["starters"], k),
           pct(tree["starters"], k)) for k in (1, 2, 3)],
        *[(f"of which new households (left the parental home) in link {k}", "–", pct(path["new_households"], k),
           pct(tree["new_households"], k)) for k in (1, 2, 3)],
        *[(f"from outside (in-migrants, immigrants) in link {k}", "–", pct(path["outside"], k),
           pct(tree["outside"], k)) for k in (1, 2, 3)],
    ]
    table = "\n".join(["| figure | CBS 2021 (Netherlands) | metro, path | metro, tree |", "|---|---|---|---|",
                       *[f"| {' | '.join(r)} |" for r in rows]])
    note = (f"Synthetic metro register (scale {scale:g}, seed {seed}, {reg.moves.num_rows:,} moves; "
            f"{tree['joiners']:,} moves joined a filling). ")
    if not tree["joiners"] or tree["households_link_1"] < path["households_link_1"] + 0.01:
        note += ("The generator does not yet let couples move in together (both partners into one "
                 "dwelling on one day), so every filling is one household and both conventions give "
                 "about 1.00 household per new build in the first link: the tree figures are the path "
                 "figures, not an estimate of CBS's 1.12. Real registers (and the generator once it "
                 "forms couples that move in together) separate them. ")
    note += ("CBS counts chains from conversions, deaths and emigration as well and ends a chain on "
             "demolition, when someone stays behind or when a household from abroad moves in; here "
             "only new-build seeds are counted, with the end reasons of docs/chains.md.")
    return f"{START}\n{table}\n\n{note}\n{END}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--print", action="store_true", help="print the section instead of writing docs/chains.md")
    args = parser.parse_args()
    section = render(args.scale, args.seed)
    if args.print:
        print(section)
        return
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.exit(f"{DOC}: no {START} … {END} markers")
    head, rest = text.split(START, 1)
    DOC.write_text(head + section + rest.split(END, 1)[1], encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
