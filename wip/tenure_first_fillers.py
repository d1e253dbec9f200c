"""Issue 12 diagnosis (session 15): chains from new builds by tenure/landlord -- who fills first, what they leave.

For each kind of new build (public rental, private rental, cooperative, owner) on the metro preset: new
builds, mean chain length, mean rooms, the first filler's origin (dwelling / new_household / in_migrant /
immigrant / split), its income (moves.income of the filling row, M_SINC) and the mean chain length by rooms.
Usage: python wip/tenure_first_fillers.py [scale] [years] [seed]
"""
from __future__ import annotations

import sys

import polars as pl

from flyttkedja.synth import generate

scale, years, seed = (float(sys.argv[1]) if len(sys.argv) > 1 else 1.0,
                      int(sys.argv[2]) if len(sys.argv) > 2 else 10, int(sys.argv[3]) if len(sys.argv) > 3 else 7)
reg = generate("metro", scale=scale, years=years, seed=seed)
dw = pl.from_arrow(reg.dwellings)
mv = pl.from_arrow(reg.moves).with_row_index("move_row").with_columns(pl.col("move_row").cast(pl.Int64))
chains = pl.from_arrow(reg.truth_chains)
links = pl.from_arrow(reg.truth_links)
kind = (pl.when(pl.col("tenure") == "rental").then(pl.concat_str(pl.col("landlord"), pl.lit(" rental")))
        .otherwise(pl.col("tenure"))).alias("kind")
seeds = chains.join(dw.select(pl.col("dwelling_id").alias("seed_dwelling"), "rooms", "tenure", "landlord"),
                    on="seed_dwelling").with_columns(kind)
first = links.filter(pl.col("step") == 1).join(mv, on="move_row").select("seed_dwelling", "origin", *(
    c for c in ("income",) if c in mv.columns))
t = seeds.join(first, on="seed_dwelling", how="left")

print(t.group_by("kind").agg(pl.len(), pl.col("length").mean(), pl.col("rooms").cast(pl.Float64).mean())
      .sort("kind"))
import os; os.environ["POLARS_FMT_MAX_ROWS"] = "40"; pl.Config.set_tbl_rows(40)
print(t.group_by("kind", "origin").len().with_columns((pl.col("len") / pl.col("len").sum().over("kind"))
                                                       .alias("share")).sort("kind", "origin"))
print(t.group_by("kind", "rooms").agg(pl.len(), pl.col("length").mean()).sort("kind", "rooms")
      .pivot(on="kind", index="rooms", values="length"))
