"""Target groups of households and income classes of areas.

Target groups (målgrupper) are boolean polars expressions over the household
attributes a move carries (``age_head``, ``income``, ``size``, ``adults``,
``household_type``, ``born_abroad``) plus two derived columns that
:func:`household_frame` adds: ``children`` (= size − adults) and
``income_per_cu`` (disposable income per consumption unit, SEK/year).

Built-in groups (docs/analysis.md gives the sources):

============== ===============================================================
young_adults   head aged 18–29 at the move (unga vuxna)
seniors        head aged 65 or more (äldre)
low_income     income per consumption unit below 60% of the median
               (låg ekonomisk standard); median of the reference population
lowest_quintile income per consumption unit below the 20th percentile
families       household with children (size > adults) (barnfamiljer)
born_abroad    head born outside Sweden (utrikes födda)
============== ===============================================================

Example
-------
>>> import polars as pl
>>> groups = {**TARGET_GROUPS, "large": pl.col("size") >= 5}   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.schema import SchemaError

# SCB's consumption-unit scale (konsumtionsenhetsskala, used for "ekonomisk
# standard" since the 2013 revision): first adult 1.00, a cohabiting second
# adult 0.51, every further adult 0.60, first child 0.52, further children 0.42.
CU_FIRST_ADULT = 1.00
CU_PARTNER = 0.51
CU_OTHER_ADULT = 0.60
CU_FIRST_CHILD = 0.52
CU_OTHER_CHILD = 0.42
LOW_INCOME_SHARE = 0.60  # of the median income per consumption unit
COUPLE_TYPES = ("couple", "couple_with_children")

TARGET_GROUPS: dict[str, pl.Expr] = {
    "young_adults": pl.col("age_head").is_between(18, 29),
    "seniors": pl.col("age_head") >= 65,
    "low_income": pl.col("income_per_cu") < LOW_INCOME_SHARE * pl.col("_median_per_cu"),
    "lowest_quintile": pl.col("income_per_cu") < pl.col("_p20_per_cu"),
    "families": pl.col("children") > 0,
    "born_abroad": pl.col("born_abroad"),
}
HOUSEHOLD_COLUMNS = ("age_head", "income", "size", "adults", "household_type", "born_abroad")

INCOME_CLASSES = ("bottom_quintile", "lower_middle", "upper_half", "unknown")
SIZE_BANDS = ("1", "2", "3", "4+")  # rooms, kitchen not counted


def consumption_units() -> pl.Expr:
    """Consumption units of a household on SCB's scale, from ``size``, ``adults``, ``household_type``.

    Persons aged 18+ count as adults (SCB counts children as 0–19; the moves
    table only tells 18+). The second adult weighs 0.51 in a couple household
    and 0.60 otherwise.

    >>> pl.DataFrame({"size": [2], "adults": [2], "household_type": ["couple"]}).select(consumption_units()).item()
    1.51
    """
    adults = pl.col("adults").cast(pl.Float64).clip(lower_bound=1)
    children = (pl.col("size").cast(pl.Float64) - pl.col("adults").cast(pl.Float64)).clip(lower_bound=0)
    second = pl.when(pl.col("household_type").is_in(COUPLE_TYPES)).then(CU_PARTNER).otherwise(CU_OTHER_ADULT)
    return (
        CU_FIRST_ADULT
        + pl.when(adults >= 2).then(second).otherwise(0.0)
        + CU_OTHER_ADULT * (adults - 2).clip(lower_bound=0)
        + pl.when(children >= 1).then(CU_FIRST_CHILD).otherwise(0.0)
        + CU_OTHER_CHILD * (children - 1).clip(lower_bound=0)
    )


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Lower weighted quantile: the smallest value v with weight share of values ≤ v at least ``q``.

    >>> weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 2]), 0.5)
    2.0
    """
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order], dtype=np.float64)
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1], side="left")])


def income_reference(moves: pa.Table) -> pl.DataFrame:
    """Median and 20th percentile of income per consumption unit, per calendar year of move.

    Reference population: all households moving that year in the register's
    moves table, each weighted by its number of persons (SCB's figures are
    per person). Returns ``year, _median_per_cu, _p20_per_cu``.
    """
    frame = pl.from_arrow(moves.select(["move_date", "income", "size", "adults", "household_type"]))
    year = frame["move_date"].dt.year().cast(pl.Int32).to_numpy()
    per_cu = frame.select(pl.col("income").cast(pl.Float64) / consumption_units()).to_series().to_numpy()
    weight = frame["size"].cast(pl.Float64).to_numpy()
    rows = []
    for y in np.unique(year):  # one block per calendar year (a handful)
        mask = year == y
        order = np.argsort(per_cu[mask])
        values, cum = per_cu[mask][order], np.cumsum(weight[mask][order])
        first = lambda q: values[np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1])]  # noqa: E731
        rows.append((int(y), float(first(0.5)), float(first(0.2))))
    return pl.DataFrame(rows, schema={"year": pl.Int32, "_median_per_cu": pl.Float64, "_p20_per_cu": pl.Float64},
                        orient="row")


def household_frame(links: pl.DataFrame, reference: pl.DataFrame | float | None = None) -> pl.DataFrame:
    """Add ``children``, ``income_per_cu`` and the income reference columns to links with household columns.

    ``reference`` is the frame of :func:`income_reference`, or one number: the
    median income per consumption unit to use for every year (e.g. SCB's
    national figure); then the 20th percentile is not known and
    ``lowest_quintile`` is null.
    """
    out = links.with_columns(
        children=(pl.col("size").cast(pl.Int16) - pl.col("adults").cast(pl.Int16)).clip(lower_bound=0),
        income_per_cu=pl.col("income").cast(pl.Float64) / consumption_units(),
    )
    if isinstance(reference, pl.DataFrame):
        return out.with_columns(year=pl.col("move_date").dt.year().cast(pl.Int32)).join(
            reference, on="year", how="left", maintain_order="left").drop("year")
    median = float("nan") if reference is None else float(reference)
    return out.with_columns(_median_per_cu=pl.lit(median), _p20_per_cu=pl.lit(None, dtype=pl.Float64))


def target_flags(households: pl.DataFrame, groups: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """One boolean column per target group (nulls count as not in the group)."""
    try:
        return households.select([expr.fill_null(False).cast(pl.Boolean).alias(name) for name, expr in groups.items()])
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(f"target groups: cannot evaluate over moves columns {households.columns}: {exc}") from None


#: the income classes of :func:`area_income_classes` that are below the median (Mast's rounds "into
#: below-median-income areas": the tables' ``rounds`` and the transition model count these)
BELOW_MEDIAN = ("bottom_quintile", "lower_middle")


def area_income_classes(areas: pa.Table | pl.DataFrame, dwellings: pa.Table) -> pl.DataFrame:
    """Income class of each area: ``area_id, income_class`` (bottom_quintile / lower_middle / upper_half).

    Areas are ranked by ``median_income`` and weighted by their number of
    dwellings in the register (a proxy for population, which the areas table
    lacks). An area's position is the midpoint of its cumulative dwelling
    share (areas with equal income share one interval); it is below the
    median if that midpoint is < 0.5 and in the bottom quintile if < 0.2.
    Classes: ``bottom_quintile`` (< 0.2), ``lower_middle`` (0.2 to < 0.5),
    ``upper_half`` (≥ 0.5); "below-median" areas are the first two. Areas
    without dwellings get weight 0 and are classed by where their income falls.
    """
    frame = areas if isinstance(areas, pl.DataFrame) else pl.from_arrow(areas)
    missing = [c for c in ("area_id", "median_income") if c not in frame.columns]
    if missing:
        raise SchemaError(f"areas: missing column(s) {missing}; present: {frame.columns}")
    counts = pl.from_arrow(dwellings.select(["area_id"])).group_by("area_id").agg(weight=pl.len())
    frame = (frame.select(pl.col("area_id").cast(pl.Int32), pl.col("median_income").cast(pl.Float64))
             .join(counts.with_columns(pl.col("area_id").cast(pl.Int32)), on="area_id", how="left")
             .with_columns(pl.col("weight").fill_null(0).cast(pl.Int64)))
    by_income = frame.group_by("median_income").agg(pl.col("weight").sum()).sort("median_income")
    # Compared in whole numbers, not as a float share: a midpoint exactly on a
    # class bound (11/55 = 0.2) must land on the same side on every platform and
    # in every engine (polars divides through a reciprocal: 11/55 -> 0.19999...).
    # position < b  <=>  twice_midpoint * den(b) < 2 * total * num(b)
    total = max(int(by_income["weight"].sum()), 1)
    twice_midpoint = 2 * pl.col("weight").cum_sum() - pl.col("weight")
    by_income = by_income.with_columns(twice_midpoint=twice_midpoint)
    classed = frame.join(by_income.select("median_income", "twice_midpoint"), on="median_income", how="left")
    return classed.select(
        "area_id",
        income_class=pl.when(pl.col("twice_midpoint") * 5 < 2 * total).then(pl.lit("bottom_quintile"))
        .when(pl.col("twice_midpoint") < total).then(pl.lit("lower_middle"))
        .otherwise(pl.lit("upper_half")),
    ).sort("area_id")


def size_band(rooms: pl.Expr) -> pl.Expr:
    """Size band of a dwelling from its rooms: "1", "2", "3", "4+" (0 rooms counts as "1")."""
    return (pl.when(rooms <= 1).then(pl.lit("1")).when(rooms == 2).then(pl.lit("2"))
            .when(rooms == 3).then(pl.lit("3")).otherwise(pl.lit("4+")))
