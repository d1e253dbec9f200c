"""Plain-Python reference implementations for flyttkedja.analysis (readable, slow).

Every function here loops over chains and links one by one, the way one would
compute the tables by hand; the tests compare them with the vectorised
implementation on generated registers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from fractions import Fraction

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.core.chainset import ChainSet
from flyttkedja.schema import AREA_TYPES, HOUSEHOLD_TYPES, TENURES

ORIGIN_ENDS = ("new_household", "in_migrant", "immigrant")
M64 = (1 << 64) - 1


# --------------------------------------------------------------- test registers
def random_chainset(seed: int, n_chains: int = 20, max_length: int = 5, n_buildings: int | None = None,
                    n_areas: int = 5, noise_moves: int = 10) -> tuple[ChainSet, pa.Table]:
    """A small consistent register with its chains: (ChainSet, areas table)."""
    rng = np.random.default_rng(seed)
    n_buildings = n_buildings or max(n_chains, 1)
    dwellings, moves, chains, links = [], [], [], []

    def new_dwelling(completed=None, building=None):
        did = len(dwellings) + 1000
        tenure = TENURES[rng.integers(3)]
        area = int(rng.integers(n_areas))
        dwellings.append(dict(
            dwelling_id=did, building_id=int(building if building is not None else 10_000 + did),
            tenure=tenure, landlord=("public" if rng.random() < .5 else "private") if tenure == "rental" else None,
            building_type="small_house" if tenure == "owner" else "multi_dwelling",
            rooms=int(rng.integers(1, 6)), floor_area_m2=int(rng.integers(20, 150)), area_id=area,
            area_type=AREA_TYPES[area % len(AREA_TYPES)], municipality="1480" if area < 3 else "1280",
            completed=completed, demolished=None))
        return did

    def new_move(date, from_d, to_d, vacates):
        size = int(rng.integers(1, 6))
        adults = int(rng.integers(1, min(size, 3) + 1))
        kids = size > adults
        htype = HOUSEHOLD_TYPES[(3 if adults > 1 else 2) if kids else (1 if adults > 1 else 0)]
        moves.append(dict(household_id=len(moves) + 1, move_date=date, from_dwelling=from_d, to_dwelling=to_d,
                          origin="dwelling" if from_d is not None else ORIGIN_ENDS[rng.integers(3)],
                          destination="dwelling" if to_d is not None else "out_migrant",
                          vacates=bool(vacates), fills=to_d is not None, size=size, adults=adults,
                          age_head=int(rng.integers(16, 95)), income=int(rng.integers(50_000, 900_000)),
                          household_type=htype, born_abroad=bool(rng.random() < .3)))
        return len(moves) - 1

    start = dt.date(2020, 1, 1)
    for cid in range(n_chains):
        seed_date = start + dt.timedelta(days=int(rng.integers(0, 700)))
        seed_d = new_dwelling(seed_date, building=int(rng.integers(n_buildings)))
        length = int(rng.integers(0, max_length + 1))
        end = ("unfilled", "censored")[rng.integers(2)] if length == 0 else \
            (*ORIGIN_ENDS, "not_vacated")[rng.integers(4)]
        current, date = seed_d, seed_date
        for step in range(1, length + 1):
            date = date + dt.timedelta(days=int(rng.integers(0, 60)))
            last = step == length
            if last and end in ORIGIN_ENDS:
                from_d, vac = None, False
            else:
                from_d, vac = new_dwelling(), not (last and end == "not_vacated")
            row = new_move(date, from_d, current, vac)
            links.append(dict(chain_id=cid, step=step, move_row=row, household_id=moves[row]["household_id"],
                              move_date=date, from_dwelling=from_d if vac else None, to_dwelling=current))
            current = from_d
        chains.append(dict(chain_id=cid, seed_kind="new_build", seed_dwelling=seed_d, seed_date=seed_date,
                           seed_move=None, length=length, end_reason=end, end_date=date))
    for _ in range(noise_moves):
        new_move(start + dt.timedelta(days=int(rng.integers(0, 700))), None, new_dwelling(), False)
    dw = pl.DataFrame(dwellings, infer_schema_length=None)
    seed_attrs = dw.select("dwelling_id", "tenure", "landlord", "building_type", "rooms", "area_type",
                           "municipality")
    ch = pl.DataFrame(chains, schema={"chain_id": pl.Int64, "seed_kind": pl.String, "seed_dwelling": pl.Int64,
                                      "seed_date": pl.Date, "seed_move": pl.Int64, "length": pl.Int32,
                                      "end_reason": pl.String, "end_date": pl.Date})
    ch = ch.join(seed_attrs, left_on="seed_dwelling", right_on="dwelling_id", how="left", maintain_order="left")
    ln = pl.DataFrame(links, schema={"chain_id": pl.Int64, "step": pl.Int32, "move_row": pl.Int64,
                                     "household_id": pl.Int64, "move_date": pl.Date, "from_dwelling": pl.Int64,
                                     "to_dwelling": pl.Int64})
    mv = pl.DataFrame(moves, infer_schema_length=None).with_columns(
        pl.col("from_dwelling", "to_dwelling").cast(pl.Int64), pl.col("size", "adults").cast(pl.Int8),
        pl.col("age_head").cast(pl.Int16))
    areas = pa.table({"area_id": pa.array(range(n_areas), pa.int32()),
                      "municipality": ["1480" if a < 3 else "1280" for a in range(n_areas)],
                      "area_type": [AREA_TYPES[a % 5] for a in range(n_areas)],
                      "median_income": pa.array(rng.integers(150_000, 400_000, n_areas), pa.int64())})
    cs = ChainSet(ch, ln, mv.to_arrow(), dw.with_columns(pl.col("rooms").cast(pl.Int8)).to_arrow())
    return cs, areas


# ------------------------------------------------------------------ plain tables
def size_band(rooms):
    return "1" if rooms <= 1 else "2" if rooms == 2 else "3" if rooms == 3 else "4+"


def consumption_units(size, adults, household_type):
    adults_ = max(adults, 1)
    children = max(size - adults, 0)
    cu = 1.0
    if adults_ >= 2:
        cu += 0.51 if household_type in ("couple", "couple_with_children") else 0.60
        cu += 0.60 * (adults_ - 2)
    if children >= 1:
        cu += 0.52 + 0.42 * (children - 1)
    return cu


def lower_weighted_quantile(values, weights, q):
    pairs = sorted(zip(values, weights), key=lambda p: p[0])
    total = sum(w for _, w in pairs)
    cum = 0.0
    for v, w in pairs:
        cum += w
        if cum >= q * total - 1e-9 * total:
            return v
    return float("nan")


def naive_tables(cs: ChainSet, areas: pa.Table | None, rounds: int = 6) -> dict:
    """Point values keyed like the published tables (grouped by seed tenure), computed chain by chain."""
    dw = {r["dwelling_id"]: r for r in cs.dwellings.to_pylist()}
    mv = cs.moves.to_pylist()
    chains = cs.chains.to_dicts()
    links_by_chain = defaultdict(list)
    for link in cs.links.to_dicts():
        links_by_chain[link["chain_id"]].append(link)
    # income reference per year: person-weighted, all moves
    per_year = defaultdict(lambda: ([], []))
    for m in mv:
        v, w = per_year[m["move_date"].year]
        v.append(m["income"] / consumption_units(m["size"], m["adults"], m["household_type"]))
        w.append(m["size"])
    ref = {y: (lower_weighted_quantile(v, w, .5), lower_weighted_quantile(v, w, .2)) for y, (v, w) in per_year.items()}
    cls = naive_area_classes(areas, cs.dwellings) if areas is not None else {}

    out = defaultdict(float)
    groups = sorted({c["tenure"] for c in chains}) + ["all"]
    for c in chains:
        for g in (c["tenure"], "all"):
            out["chains", g] += 1
            out["links", g] += c["length"]
            out["length", g, c["length"]] += 1
            out["end", g, c["end_reason"]] += 1
        reached = set()
        for link in links_by_chain[c["chain_id"]]:
            m = mv[link["move_row"]]
            vac = m["vacates"] and link["from_dwelling"] is not None
            frm = dw[link["from_dwelling"]] if vac else None
            to = dw[link["to_dwelling"]]
            cu_income = m["income"] / consumption_units(m["size"], m["adults"], m["household_type"])
            med, p20 = ref[m["move_date"].year]
            member = {
                "young_adults": 18 <= m["age_head"] <= 29, "seniors": m["age_head"] >= 65,
                "low_income": cu_income < 0.6 * med, "lowest_quintile": cu_income < p20,
                "families": m["size"] > m["adults"], "born_abroad": m["born_abroad"],
            }
            step = str(min(link["step"], rounds + 1)) if link["step"] <= rounds else f"{rounds + 1}+"
            for g in (c["tenure"], "all"):
                origin = frm["area_type"] if frm else "no_dwelling"
                out["seg", g, origin, to["area_type"]] += 1
                for tg, yes in member.items():
                    if yes:
                        out["reach_hh", g, tg] += 1
                if frm:
                    for dim, val in (("tenure", frm["tenure"]), ("size_band", size_band(frm["rooms"])),
                                     ("area_type", frm["area_type"])):
                        for s in (step, "all"):
                            out["flow", g, s, dim, val] += 1
                            out["flow", g, s, dim, "all"] += 1
                    if areas is not None and link["step"] <= rounds:
                        k = cls.get(frm["area_id"], "unknown")
                        out["round_base", g, link["step"]] += 1
                        if k in ("bottom_quintile", "lower_middle"):
                            out["round", g, link["step"], "below_median"] += 1
                        if k == "bottom_quintile":
                            out["round", g, link["step"], "bottom_quintile"] += 1
            reached |= {tg for tg, yes in member.items() if yes}
        for g in (c["tenure"], "all"):
            for tg in reached:
                out["reach_chains", g, tg] += 1
    out["_groups"] = groups
    return dict(out)


def naive_area_classes(areas: pa.Table, dwellings: pa.Table) -> dict:
    weight = defaultdict(int)
    for d in dwellings.column("area_id").to_pylist():
        weight[d] += 1
    rows = areas.to_pylist()
    by_income = defaultdict(int)
    for r in rows:
        by_income[r["median_income"]] += weight[r["area_id"]]
    total = sum(by_income.values()) or 1
    position, cum = {}, 0
    for income in sorted(by_income):  # exact shares: a midpoint on a class bound is not below it
        position[income] = Fraction(2 * cum + by_income[income], 2 * total)
        cum += by_income[income]
    out = {}
    for r in rows:
        p = position[r["median_income"]]
        out[r["area_id"]] = ("bottom_quintile" if p < Fraction(1, 5) else "lower_middle" if p < Fraction(1, 2)
                             else "upper_half")
    return out


def naive_lower_median(lengths):
    s = sorted(lengths)
    return s[(len(s) + 1) // 2 - 1] if s else None


# ----------------------------------------------------------------- bootstrap
def splitmix64_output(seed, index):
    """Output number ``index`` (1-based) of the splitmix64 stream seeded with ``seed``."""
    z = (seed + index * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def poisson1(u):
    """Poisson(1) by inversion of its distribution function (k ≤ 19)."""
    k = 0
    table = np.cumsum([math.exp(-1) / math.factorial(j) for j in range(20)])
    while k < 19 and u >= table[k]:
        k += 1
    return k


def naive_replicate_cell_totals(unit, cell, n_units, n_cells, replicates, seed):
    """Replicate cell totals: unit u weighs Poisson(1) by inversion of a 32-bit uniform, the high
    (u even) or low (u odd) half of output u // 2 + 1 of replicate r's splitmix64 stream."""
    seeds = np.random.SeedSequence(seed).generate_state(replicates, dtype=np.uint64)
    records_of = defaultdict(list)
    for u, c in zip(unit, cell):
        records_of[int(u)].append(int(c))
    out = np.zeros((replicates, n_cells))
    for r in range(replicates):
        for u in range(n_units):
            z = splitmix64_output(int(seeds[r]), u // 2 + 1)
            bits = z >> 32 if u % 2 == 0 else z & 0xFFFFFFFF
            w = poisson1(float(bits) * 2.0**-32)
            for c in records_of[u]:
                out[r, c] += w
    return out


# ----------------------------------------------------------------- disclosure
def recomputable(A, suppressed) -> list[int]:
    """Suppressed rows of A that are exact rational combinations of the published rows.

    Gaussian elimination in fractions on the published rows, then each
    suppressed row is reduced against that basis; a zero remainder means an
    attacker could recompute it from published numbers. Rows are kept as
    {column: fraction} of their nonzeros (table rows are sparse).
    """
    rows = [{j: Fraction(int(round(v))) for j, v in enumerate(r) if round(v) != 0} for r in A]
    basis = []  # (pivot column, row with 1 at the pivot)
    for i, r in enumerate(rows):
        if suppressed[i]:
            continue
        r = _reduce(r, basis)
        if r:
            piv = min(r)
            basis.append((piv, {j: v / r[piv] for j, v in r.items()}))
    return [i for i, r in enumerate(rows) if suppressed[i] and not _reduce(r, basis)]


def _reduce(r, basis):
    """``r`` less its components along the basis rows, in basis order (zeros dropped)."""
    r = dict(r)
    for piv, b in basis:
        f = r.get(piv)
        if f:
            for j, v in b.items():
                x = r.get(j, 0) - f * v
                if x:
                    r[j] = x
                else:
                    r.pop(j, None)
    return r
