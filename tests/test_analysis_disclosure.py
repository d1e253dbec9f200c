"""Disclosure control: no suppressed cell can be recomputed from what is published."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyttkedja.analysis._engine import items_of, prepare
from flyttkedja.analysis.disclosure import PTABLE, PTABLE_DEFAULT, cell_key_perturbation, secondary_suppression
from flyttkedja.analysis.tabulation import TABLES, build_specs
from naive_analysis import random_chainset, recomputable


def hypercube(shape):
    """Functionals of every cell and every margin (sum over any subset of axes) of a table of ``shape``."""
    cells = list(itertools.product(*[range(s) for s in shape]))
    index = {c: i for i, c in enumerate(cells)}
    rows = []
    for key in itertools.product(*[[*range(s), None] for s in shape]):
        row = np.zeros(len(cells))
        for c in cells:
            if all(k is None or k == v for k, v in zip(key, c)):
                row[index[c]] = 1
        rows.append(row)
    return np.array(rows)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_no_suppressed_cell_recomputable_from_margins(data, shape):
    A = hypercube(shape)
    x = np.array(data.draw(st.lists(st.integers(0, 9), min_size=A.shape[1], max_size=A.shape[1])))
    counts = A @ x
    suppressed = secondary_suppression(A, counts, threshold=5)
    assert suppressed[(counts > 0) & (counts < 5)].all()
    assert recomputable(A, suppressed) == []


# each table alone, by the LP protection; test_disclosure_attack attacks the whole release (fewer examples here:
# every table's LPs over its zero-completed cells are what this costs)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40))
def test_published_tables_leak_no_suppressed_count(seed, n):
    cs, areas = random_chainset(seed, n_chains=n, max_length=4)
    b, specs = build_specs(prepare(cs, areas=areas), TABLES, 3)
    totals = np.bincount(np.concatenate([f.records["_cell"].to_numpy() + o for f, o in zip(
        b.families, np.cumsum([0] + [f.cells.height for f in b.families]))]), minlength=b.n_cells)
    for spec in specs:
        items, _, den = items_of(spec.rows)
        A = np.zeros((items.n_items, b.n_cells))
        np.add.at(A, (items.item, items.cell), items.coef)
        A = A[:, A.any(axis=0)]
        counts = np.rint(np.bincount(items.item, weights=totals[items.cell] * items.coef, minlength=items.n_items))
        protected = np.zeros(items.n_items, bool)
        protected[den] = True
        suppressed = secondary_suppression(A, counts, protected=protected)
        assert recomputable(A, suppressed) == [], spec.name


def test_suppression_example_two_by_two():
    # cells 3 9 / 6 8 with all margins: hiding the 3 takes at least four suppressions
    A = hypercube([2, 2])
    counts = A @ np.array([3, 9, 6, 8])
    suppressed = secondary_suppression(A, counts)
    assert suppressed[0] and suppressed.sum() >= 4
    assert recomputable(A, suppressed) == []


def test_ptable_rows_are_distributions_with_zero_mean():
    for table in [*PTABLE.values(), PTABLE_DEFAULT]:
        probs = np.array([p for _, p in table])
        values = np.array([d for d, _ in table])
        assert probs.sum() == pytest.approx(1.0)
        assert (values * probs).sum() == pytest.approx(0.0)


def test_cell_key_perturbation_never_negative_and_deterministic():
    counts = np.repeat(np.arange(6), 200)
    keys = np.tile(np.linspace(0, 0.999, 200), 6)
    d = cell_key_perturbation(counts, keys)
    assert (counts + d >= 0).all() and np.abs(d).max() <= 2
    assert (d[counts == 0] == 0).all()
    assert np.array_equal(d, cell_key_perturbation(counts, keys))


@pytest.mark.parametrize("bad", [{"replicates": 10**8}, {"replicates": 2.5}, {"rounds": 0}, {"rounds": 10**6},
                                 {"seed": -1}, {"threshold": True}, {"level": 1.5}])
def test_report_options_refused_with_one_clear_line(bad):
    """Out-of-range options give one ValueError naming the option before any work (10**8 replicates used
    to end in a raw MemoryError from the bootstrap's allocation)."""
    from flyttkedja.analysis import Report

    cs, areas = random_chainset(1, n_chains=8)
    (name, value), = bad.items()
    with pytest.raises(ValueError, match=rf"^{name} must .*got {value!r}$"):
        Report(cs, areas=areas, **bad)
