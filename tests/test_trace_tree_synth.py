"""Ground truth for trees: the tree tracer recovers the generator's couples exactly.

The synthetic market lets couples look for a dwelling together: two moves on one date
into one dwelling, the first fills it and the second joins it (``docs/synthetic.md``).
Its ground truth (``truth/moves``) names, per move, the vacancy it filled
(``filled_after_move``, ``filled_new_build``), the filling it joined (``joined_move``)
and the dwelling it left empty (``freed_dwelling``). :func:`truth_trees` assembles the
tree convention's trees from those columns alone (``docs/chains.md``, "Trees": a
filling is its filler plus the moves that joined it; every member that freed a
dwelling opens the vacancy whose filler names it) and ``trace(convention="tree")``
must give exactly these trees: membership, order, rounds, parents, joiners, every
leaf's end reason, and per tree length, depth, leaves, end reason and end date.

Leaf reasons come from the truth where it carries them (the chain's own end reason in
``truth/chains``, a member's origin, ``freed_dwelling``); an unfilled vacancy's
``unfilled``/``censored`` follows the generator's rule (``synth/_truth.py``:
``_vacancy_end``), which looks at the dwelling's later fills, its demolition and the
window.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flyttkedja
from flyttkedja.synth import generate

FROM_OUTSIDE = {"new_household": "new_household", "in_migrant": "in_migrant", "immigrant": "immigrant"}


class Truth:
    """The generator's truth as plain Python lookups (one pass over the tables)."""

    def __init__(self, reg) -> None:
        moves = reg.moves.select(["move_date", "from_dwelling", "to_dwelling", "origin", "fills"]).to_pydict()
        truth = pl.from_arrow(reg.truth_moves).sort("move_row")
        assert truth["move_row"].to_list() == list(range(reg.moves.num_rows))
        self.date, self.origin = moves["move_date"], moves["origin"]
        self.from_dw, self.to_dw = moves["from_dwelling"], moves["to_dwelling"]
        self.freed = truth["freed_dwelling"].to_list()
        self.filler = {p: f for f, p in enumerate(truth["filled_after_move"].to_list()) if p is not None}
        self.joiners = defaultdict(list)
        for j, f in enumerate(truth["joined_move"].to_list()):
            if f is not None:
                self.joiners[f].append(j)
        self.new_build_filler = {self.to_dw[m]: m for m, x in enumerate(truth["filled_new_build"].to_list()) if x}
        fills_at = defaultdict(list)  # dwelling -> dates of the moves that filled it
        for m, fills in enumerate(moves["fills"]):
            if fills and self.to_dw[m] is not None:
                fills_at[self.to_dw[m]].append(self.date[m])
        self.fills_at = fills_at
        dw = reg.dwellings.select(["dwelling_id", "demolished"]).to_pydict()
        self.demolished = dict(zip(dw["dwelling_id"], dw["demolished"]))
        self.window_end, self.max_gap = reg.window[1], reg.max_gap_days
        chains = reg.truth_chains.to_pydict()
        self.chain_reason = dict(zip(chains["seed_dwelling"], chains["end_reason"]))

    def vacancy_end(self, dwelling: int, t: dt.date) -> str:
        """``synth/_truth.py: _vacancy_end``: filled too late, or demolished → unfilled; else censored
        when the window ends within the gap."""
        ever = any(d > t for d in self.fills_at.get(dwelling, ()))
        demolished = self.demolished.get(dwelling)
        if ever or (demolished is not None and demolished >= t):
            return "unfilled"
        return "censored" if (self.window_end - t).days < self.max_gap else "unfilled"

    def tree(self, seed_dwelling: int, seed_date: dt.date, seed_move: int | None) -> dict:
        """The tree of one seed vacancy, breadth first (filler, then its joiners in row order)."""
        first = self.new_build_filler.get(seed_dwelling) if seed_move is None else self.filler.get(seed_move)
        links, rounds, parents, reasons, joined = [], [], [], [], []
        if first is None:
            return {"links": [], "rounds": [], "parents": [], "reasons": [], "joined": [], "depth": 0, "leaves": 1,
                    "end_reason": self.vacancy_end(seed_dwelling, seed_date), "end_date": seed_date}
        seen = set()  # a ring (swap) comes back to its first link; the seed move is a link of its own ring
        queue = [(first, 1, None)]
        spine = {first}
        i = 0
        while i < len(queue):
            filler, level, parent = queue[i]
            i += 1
            for k, m in enumerate([filler, *self.joiners.get(filler, [])]):
                seen.add(m)
                links.append(m), rounds.append(level), parents.append(parent), joined.append(k > 0)
                reasons.append(None)
                pos = len(links) - 1
                if self.from_dw[m] is None:
                    reasons[pos] = FROM_OUTSIDE[self.origin[m]]
                elif self.freed[m] is None:
                    reasons[pos] = "not_vacated"
                elif m in self.filler and self.filler[m] in seen:
                    reasons[pos] = "cycle"
                elif m in self.filler:
                    queue.append((self.filler[m], level + 1, m))
                    if m in spine:
                        spine.add(self.filler[m])
                else:
                    reasons[pos] = self.vacancy_end(self.freed[m], self.date[m])
        spine_leaf = next(r for m, r in zip(links, reasons) if m in spine and r is not None)
        return {"links": links, "rounds": rounds, "parents": parents, "reasons": reasons, "joined": joined,
                "depth": max(rounds), "leaves": sum(r is not None for r in reasons), "end_reason": spine_leaf,
                "end_date": max(self.date[m] for m in links)}


def check_trees(reg, seeds: str) -> int:
    """Every tree ``trace(convention="tree")`` gives equals the truth's; returns the number of joiners."""
    truth = Truth(reg)
    cs = flyttkedja.trace(reg.moves, reg.dwellings, seeds, window=reg.window, max_gap_days=reg.max_gap_days,
                          convention="tree")
    chains = cs.chains.select("chain_id", "seed_kind", "seed_dwelling", "seed_date", "seed_move", "length", "depth",
                              "leaves", "end_reason", "end_date").to_dicts()
    links = defaultdict(list)
    for row in cs.links.select("chain_id", "move_row", "step", "parent_row", "end_reason", "joined").iter_rows():
        links[row[0]].append(row[1:])
    n_joined = 0
    for c in chains:
        want = truth.tree(c["seed_dwelling"], c["seed_date"], c["seed_move"])
        got_links = links.get(c["chain_id"], [])
        assert got_links == list(zip(want["links"], want["rounds"], want["parents"], want["reasons"],
                                     want["joined"])), c
        assert (c["length"], c["depth"], c["leaves"], c["end_reason"], c["end_date"]) == (
            len(want["links"]), want["depth"], want["leaves"], want["end_reason"], want["end_date"]), c
        if c["seed_kind"] == "new_build":  # the generator's own end reason of the chain (its spine)
            assert c["end_reason"] == truth.chain_reason[c["seed_dwelling"]], c
        n_joined += sum(want["joined"])
    if seeds == "new_builds":
        assert len(chains) == reg.truth_chains.num_rows
    return n_joined


@pytest.fixture(scope="module", params=["tiny", "metro"])
def register(request, small_register):
    """The shared tiny register, and the default preset (metro) at a small scale."""
    return small_register if request.param == "tiny" else generate("metro", scale=0.1, seed=7)


@pytest.mark.parametrize("seeds", ["new_builds", "all"])
def test_tree_tracer_recovers_generator_trees(register, seeds: str) -> None:
    n_joined = check_trees(register, seeds)
    assert n_joined > 0  # couples who moved in together are in the trees


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residents=st.integers(1500, 4000), years=st.integers(1, 2), seed=st.integers(0, 2**31),
       swap=st.sampled_from([0.0, 0.3]), empty=st.sampled_from([0.0, 0.05]),
       demolished=st.sampled_from([0.0, 0.05]), gap=st.sampled_from([30, 365]),
       together=st.sampled_from([0.5, 1.0]), couples=st.sampled_from([0.1, 0.4]))
def test_tree_tracer_recovers_truth_on_random_markets(residents, years, seed, swap, empty, demolished, gap,
                                                      together, couples) -> None:
    """Random small markets, many couples moving in together: every vacancy's tree is the truth's."""
    reg = generate({"base": "tiny", "region": {"residents": residents, "max_gap_days": gap},
                    "mobility": {"swap_share": swap},
                    "demography": {"couple_move_together": together, "couple_rate": couples},
                    "market": {"left_empty": empty, "demolished": demolished}}, years=years, seed=seed)
    check_trees(reg, "all")
    check_trees(reg, "new_builds")
