"""The chain rule in polars, as a user would write it well: the baseline for bench_trace.

Successors: every dwelling event gets a composite sort key (date, same-day
class, row), and one forward as-of join by dwelling (exact matches excluded)
gives each vacancy its next event. Chains: round-by-round lookups — each round
moves every active chain one link on, reading the next link by row index
(``gather``, polars' fastest dense-key join) — for the new-build chains
(materialised) and for every vacancy at once (lengths, end reasons, condition
counts). Same answers as :func:`flyttkedja.trace` (asserted in bench_trace).

>>> chains, links, stats = trace_polars(moves, dwellings, window, 365, 1000, "low")  # doctest: +SKIP
"""

from __future__ import annotations

import polars as pl

COMP, DEP, ARR, DEMO = 0, 1, 2, 3
REASONS = ["new_household", "in_migrant", "immigrant", "not_vacated", "unfilled", "censored", "cycle", "max_length"]


def _events(mv: pl.DataFrame, dw: pl.DataFrame, start: int, end: int, n: int) -> pl.DataFrame:
    inside = pl.col("day").is_between(start, end)
    dep = mv.filter(inside & pl.col("from_dwelling").is_not_null() & pl.col("vacates")).select(
        dwelling=pl.col("from_dwelling"), day="day", cls=pl.lit(0), sub=pl.col("row") + 1, ref="row", kind=pl.lit(DEP))
    arr = mv.filter(inside & pl.col("to_dwelling").is_not_null() & pl.col("fills")).select(
        dwelling=pl.col("to_dwelling"), day="day", cls=pl.lit(1), sub=pl.col("row") + 1, ref="row", kind=pl.lit(ARR))
    parts = [dep, arr]
    for column, cls, kind in (("completed", 0, COMP), ("demolished", 2, DEMO)):
        if column in dw.columns:
            day = pl.col(column).cast(pl.Int32)
            parts.append(dw.filter(day.is_between(start, end)).select(
                dwelling=pl.col("dwelling_id"), day=day, cls=pl.lit(cls), sub=pl.lit(0, pl.Int64),
                ref=pl.lit(-1, pl.Int64), kind=pl.lit(kind)))
    events = pl.concat([p.cast({"day": pl.Int32, "cls": pl.Int64, "sub": pl.Int64, "ref": pl.Int64,
                                "kind": pl.Int8}) for p in parts])
    key = ((pl.col("day") - start).cast(pl.Int64) * 3 + pl.col("cls")) * (n + 2) + pl.col("sub")
    return events.with_columns(key=key).sort("key")


def successors(mv: pl.DataFrame, dw: pl.DataFrame, start: int, end: int, max_gap: int) -> pl.DataFrame:
    """One row per vacancy: dwelling, day, kind, ref, fill (move row or null), status."""
    events = _events(mv, dw, start, end, mv.height)
    vac = events.filter(pl.col("kind") <= DEP)
    nxt = events.select("dwelling", "key", nkind="kind", nref="ref", nday="day")
    joined = vac.join_asof(nxt, on="key", by="dwelling", strategy="forward", allow_exact_matches=False,
                           check_sortedness=False)
    filled = (pl.col("nkind") == ARR) & (pl.col("nday") - pl.col("day") <= max_gap)
    status = (pl.when(filled).then(pl.lit(-1))
              .when(pl.col("nkind").is_null() & (end - pl.col("day") < max_gap)).then(pl.lit(5))
              .otherwise(pl.lit(4)))
    return joined.select("dwelling", "day", "kind", "ref", fill=pl.when(filled).then("nref"),
                         status=status.cast(pl.Int8))


def _step_table(mv: pl.DataFrame, vac: pl.DataFrame) -> pl.DataFrame:
    """Per move row: the next link after it (or null) and the end reason if it is the last."""
    own = vac.filter(pl.col("kind") == DEP).select(row="ref", nfill="fill", nstatus="status")
    step = mv.select("row", "from_dwelling", "vacates", "origin", "cond").join(own, on="row", how="left")
    reason = (pl.when(pl.col("from_dwelling").is_null())
              .then(pl.col("origin").replace_strict({"new_household": 0, "in_migrant": 1, "immigrant": 2},
                                                    default=None))
              .when(~pl.col("vacates")).then(pl.lit(3))
              .otherwise(pl.col("nstatus")))
    cont = pl.col("from_dwelling").is_not_null() & pl.col("vacates")
    return step.sort("row").select(nxt=pl.when(cont).then("nfill"), reason=reason.cast(pl.Int8), cond="cond")


def _rounds(seeds: pl.DataFrame, step: pl.DataFrame, max_length: int, keep_links: bool):
    """Walk all seed chains one link per round. ``seeds``: chain_id, fill, status."""
    nxt, reason, cond = step["nxt"], step["reason"], step["cond"]
    done = [seeds.filter(pl.col("fill").is_null()).select("chain_id", length=pl.lit(0, pl.Int32),
                                                           reason="status", count=pl.lit(0, pl.Int64))]
    active = seeds.filter(pl.col("fill").is_not_null()).select(
        "chain_id", first="fill", cur="fill", length=pl.lit(0, pl.Int32), count=pl.lit(0, pl.Int64))
    links = []
    for _ in range(max_length):
        if active.height == 0:
            break
        cur = active["cur"]
        active = active.with_columns(length=pl.col("length") + 1,
                                     count=pl.col("count") + cond.gather(cur).cast(pl.Int64),
                                     nxt=nxt.gather(cur), why=reason.gather(cur))
        if keep_links:
            links.append(active.select("chain_id", step="length", move_row="cur"))
        ended = active.filter(pl.col("nxt").is_null() | (pl.col("nxt") == pl.col("first")))
        done.append(ended.select("chain_id", "length", reason=pl.when(pl.col("nxt").is_null())
                                 .then("why").otherwise(pl.lit(6, pl.Int8)), count="count"))
        active = active.filter(pl.col("nxt").is_not_null() & (pl.col("nxt") != pl.col("first"))).select(
            "chain_id", "first", cur="nxt", length="length", count="count")
    done.append(active.select("chain_id", "length", reason=pl.lit(7, pl.Int8), count="count"))
    out = pl.concat([d.cast({"reason": pl.Int8}) for d in done]).sort("chain_id")
    return out, (pl.concat(links).sort("chain_id", "step") if links else None)


def trace_polars(moves: pl.DataFrame, dwellings: pl.DataFrame, window: tuple[int, int], max_gap: int,
                 max_length: int, condition: pl.Expr):
    """New-build chains and links, and statistics for every vacancy (days since 1970 as window)."""
    start, end = window
    mv = moves.with_row_index("row").with_columns(row=pl.col("row").cast(pl.Int64),
                                                  day=pl.col("move_date").cast(pl.Int32),
                                                  cond=condition.fill_null(False))
    vac = successors(mv, dwellings, start, end, max_gap)
    step = _step_table(mv, vac)
    order = vac.sort("day", "dwelling", "ref").with_row_index("chain_id")
    stats, _ = _rounds(order.select("chain_id", "fill", "status"), step, max_length, keep_links=False)
    builds = order.filter(pl.col("kind") == COMP).drop("chain_id").with_row_index("chain_id")
    chains, links = _rounds(builds.select("chain_id", "fill", "status"), step, max_length, keep_links=True)
    chains = chains.with_columns(end_reason=pl.col("reason").replace_strict(dict(enumerate(REASONS))))
    stats = stats.with_columns(end_reason=pl.col("reason").replace_strict(dict(enumerate(REASONS))))
    return chains, links, stats
