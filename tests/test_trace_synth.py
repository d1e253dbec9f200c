"""Ground truth: the tracer recovers the synthetic generator's own chains exactly.

The simulator records which vacancy each household actually took; cut by the
same window and maximum gap, that is the chain rule's answer (briefing
"Cross-module contracts"). Every chain, link, end reason and end date must
agree, and the successor relation must equal ``truth_moves.filled_after_move``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import flyttkedja
from flyttkedja.core import vacancy_statistics
from flyttkedja.core._prepare import prepare
from flyttkedja.core.trace import build_index


@pytest.fixture(scope="module", params=["tiny", "metro"])
def register(request, small_register):
    """The shared tiny register, and the default preset (metro) at a small scale."""
    if request.param == "tiny":
        return small_register
    from flyttkedja.synth import generate

    return generate("metro", scale=0.1, seed=7)


def traced(reg):
    return flyttkedja.trace(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)


def test_recovers_truth_chains(register) -> None:
    reg = register
    cs = traced(reg)
    truth = pl.from_arrow(reg.truth_chains).sort("seed_date", "seed_dwelling")
    got = cs.chains.select(truth.columns)
    assert got.height == truth.height > 0
    diff = got.with_row_index().join(truth.with_row_index(), on="index", suffix="_truth").filter(
        pl.any_horizontal(pl.col(c) != pl.col(f"{c}_truth") for c in truth.columns))
    assert diff.height == 0, diff.head(10)


def test_recovers_truth_links(register) -> None:
    reg = register
    cs = traced(reg)
    links = cs.links.join(cs.chains.select("chain_id", "seed_dwelling"), on="chain_id").select(
        "seed_dwelling", "step", "move_row").sort("seed_dwelling", "step")
    truth = pl.from_arrow(reg.truth_links).select("seed_dwelling", "step", "move_row").sort("seed_dwelling", "step")
    assert links.height == truth.height > 0
    assert links.cast(truth.schema).equals(truth)


def test_successor_relation_is_truth(register) -> None:
    """Every filling move's vacancy (move or new build) is the simulator's."""
    reg = register
    prepared = prepare(reg.moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)
    index = build_index(prepared)
    filled_after = np.full(prepared.mv_date.shape[0], -1, np.int64)
    vacating = np.flatnonzero(index.step >= 0)
    filled_after[index.step[vacating]] = vacating
    truth = pl.from_arrow(reg.truth_moves).sort("move_row")
    want = truth["filled_after_move"].fill_null(-1).to_numpy()
    mismatch = np.flatnonzero(filled_after != want)
    assert len(mismatch) == 0, f"{len(mismatch)} moves differ, e.g. rows {mismatch[:10].tolist()}"
    new_build_fill = np.zeros(len(want), bool)
    first = index.comp_first[index.comp_first >= 0]
    new_build_fill[first] = True
    assert (new_build_fill == truth["filled_new_build"].to_numpy()).all()


@pytest.mark.parametrize("seeds", ["all"])
def test_statistics_agree_with_walks_on_synthetic(register, seeds: str) -> None:
    reg = register
    low = pl.col("income") < pl.col("income").quantile(0.2)
    cs = flyttkedja.trace(reg.moves, reg.dwellings, seeds, window=reg.window, max_gap_days=reg.max_gap_days)
    stats = vacancy_statistics(reg.moves, reg.dwellings, low, window=reg.window, max_gap_days=reg.max_gap_days)
    threshold = pl.from_arrow(reg.moves.select(["income"]))["income"].quantile(0.2)
    walked = cs.link_attributes(["income"]).with_columns(low=pl.col("income") < threshold)
    per_chain = cs.chains.select("chain_id").join(walked.group_by("chain_id").agg(pl.col("low").sum()),
                                                  on="chain_id", how="left").fill_null(0)
    assert stats["length"].to_list() == cs.chains["length"].to_list()
    assert stats["end_reason"].to_list() == cs.chains["end_reason"].to_list()
    assert stats["count"].to_list() == per_chain.sort("chain_id")["low"].to_list()
