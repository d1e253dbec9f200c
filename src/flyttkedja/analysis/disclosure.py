"""Disclosure control: cell suppression of a whole release by linear programming, or the Cell Key Method.

Every published count is a linear functional ``a · x`` of unpublished,
non-negative cell counts ``x`` (a margin is a sum of cells, a total number
of moves is Σ length × chains, ...). A :class:`Model` holds the items of a
release (every table together), the identities between tables and the items
earlier releases published. docs/disclosure.md states the rules; in short:

*Suppression* (default): counts ``1 ≤ n < threshold`` are withheld
(primary), and zeros inside them. Secondary suppression (:func:`protect`)
solves, per withheld count not yet covered, a linear program for the
cheapest change of the cells that moves it by ``width`` while every published
count stays put (τ-ARGUS/sdcTable style), and withholds what that change
moves. :func:`attack` is the intruder: min and max of each withheld count
over all cells consistent with what is published (scipy's HiGHS).

*Cell Key Method* (as SCB from reference year 2025): each record has a key
in [0, 1); a cell's key is the fractional part of the sum of its records'
keys; the count is perturbed by the entry of :data:`PTABLE` that the cell key
selects. The same records give the same key, hence the same perturbation.

Example
-------
>>> A = np.array([[1, 0], [0, 1], [1, 1.0]])          # two cells and their total
>>> secondary_suppression(A, np.array([3, 9, 12]), threshold=5).tolist()
[True, True, False]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from threadpoolctl import threadpool_limits

DEFAULT_THRESHOLD = 5
# Cell Key Method perturbation table: count → ((perturbation, probability), ...).
# Zero-mean, variance 0.5, maximum deviation 2; zeros are never perturbed and a
# perturbed count is never negative.
PTABLE: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((0, 1.0),),
    1: ((-1, 0.25), (0, 0.50), (1, 0.25)),
}
PTABLE_DEFAULT: tuple[tuple[int, float], ...] = ((-2, 0.05), (-1, 0.20), (0, 0.50), (1, 0.20), (2, 0.05))


def primary_suppression(counts: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Counts based on at least one but fewer than ``threshold`` records."""
    counts = np.asarray(counts, dtype=np.float64)
    return (counts > 0) & (counts < threshold)


def disclosed(A: np.ndarray, suppressed: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Suppressed rows of ``A`` that lie in the span of the published rows (recomputable exactly)."""
    A = np.asarray(A, dtype=np.float64)
    pub = A[~suppressed]
    sup = A[suppressed]
    out = np.zeros(len(A), dtype=bool)
    if not len(sup):
        return out
    if not len(pub):
        return out
    _, s, vt = np.linalg.svd(pub, full_matrices=False)
    basis = vt[s > tol * max(s.max(initial=0.0), 1.0)]
    residual = sup - (sup @ basis.T) @ basis
    scale = np.maximum(np.linalg.norm(sup, axis=1), 1.0)
    out[np.flatnonzero(suppressed)] = np.linalg.norm(residual, axis=1) < 1e-7 * scale
    return out


@dataclass(frozen=True)
class Rules:
    """What counts as disclosive and how wide an attacker's interval must stay.

    ``threshold``: counts ``1 ≤ n < threshold`` are withheld (primary); below
    SCB's 5 only with ``unsafe=True``. ``width``: every withheld count must keep
    an attacker's interval (LP bounds with x ≥ 0 over every published count
    and identity of the release) at least this wide — 3 means it is never known
    exactly nor to within ±1. ``zeros``: zeros that are part of a withheld
    small count are withheld too (else "..", 0, 0 tells that all of a small
    group share one outcome). ``dominance``: (n, k) rule for sums of
    magnitudes such as incomes — a sum is withheld when its ``n`` largest
    contributions make more than ``k`` of it (no flyttkedja table publishes
    such a sum today; kept so that the rule set is complete).

    >>> Rules.named("sacro").threshold
    10
    """

    threshold: int = DEFAULT_THRESHOLD
    width: int = 3
    zeros: bool = True
    dominance: tuple[int, float] = (1, 0.5)
    name: str = "scb"
    unsafe: bool = False

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.width < 1:
            raise ValueError("threshold and width must be ≥ 1")
        if self.threshold < DEFAULT_THRESHOLD and not self.unsafe:
            raise ValueError(f"threshold {self.threshold} is below SCB's {DEFAULT_THRESHOLD}: counts of "
                             f"{self.threshold}–{DEFAULT_THRESHOLD - 1} households would be published; "
                             "pass unsafe=True (CLI: --unsafe-threshold) only inside the secure environment")

    @classmethod
    def named(cls, name: str, threshold: int | None = None, unsafe: bool = False) -> "Rules":
        """``"scb"`` (threshold 5) or ``"sacro"`` (SACRO/ACRO output checking: threshold 10, wider intervals)."""
        if name not in RULE_SETS:
            raise ValueError(f"unknown rule set {name!r}; choose from {sorted(RULE_SETS)}")
        base = RULE_SETS[name]
        return cls(**{**base, "threshold": base["threshold"] if threshold is None else int(threshold),
                      "name": name, "unsafe": unsafe})

    def as_dict(self) -> dict:
        return {"rules": self.name, "threshold": self.threshold, "interval_width": self.width,
                "zeros_in_small_counts_withheld": self.zeros, "dominance_n_k": list(self.dominance),
                "unsafe": self.unsafe}


RULE_SETS = {"scb": {"threshold": 5, "width": 3, "zeros": True},
             "sacro": {"threshold": 10, "width": 5, "zeros": True}}


def dominated(contributions: list[np.ndarray], n: int = 1, k: float = 0.5) -> np.ndarray:
    """(n, k) dominance rule: sums whose ``n`` largest contributions exceed share ``k`` of the sum.

    >>> dominated([np.array([90.0, 5, 5]), np.array([30.0, 30, 40])]).tolist()
    [True, False]
    """
    out = np.zeros(len(contributions), bool)
    for i, c in enumerate(contributions):
        c = np.sort(np.abs(np.asarray(c, np.float64)))[::-1]
        total = c.sum()
        out[i] = total > 0 and c[:n].sum() > k * total
    return out


@dataclass
class Model:
    """The protection model of a release: what an attacker knows, as linear constraints.

    ``A`` (items × cells, sparse): item i is the published count ``A[i] @ x``
    of the unknown non-negative cell counts x; ``x`` the true counts. ``E``
    (identities × cells): structural equalities ``E @ x = 0`` that hold for every
    register (e.g. chains = ended by a move + unfilled + censored + cycle is a
    margin; links at step k = chains of length ≥ k). ``G``: structural
    inequalities ``G @ x ≤ 0``. ``fixed``: items published by earlier releases
    (from the ledger): known to the attacker, never withheld now.
    """

    A: sparse.csr_matrix
    x: np.ndarray
    E: sparse.csr_matrix | None = None
    G: sparse.csr_matrix | None = None
    fixed: np.ndarray | None = None
    cell_group: np.ndarray | None = None  # seed group of each cell (−1: none); lets :func:`protect` work locally
    #: items no table shows but an attacker can compute (the difference of a count between the two chain
    #: conventions): protected like counts, never shown, and no zero is withheld for lying inside one
    derived: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.A = sparse.csr_matrix(self.A, dtype=np.float64)
        n = self.A.shape[1]
        self.E = sparse.csr_matrix((0, n)) if self.E is None else sparse.csr_matrix(self.E, dtype=np.float64)
        self.G = sparse.csr_matrix((0, n)) if self.G is None else sparse.csr_matrix(self.G, dtype=np.float64)
        self.fixed = np.zeros(self.A.shape[0], bool) if self.fixed is None else np.asarray(self.fixed, bool)
        self.derived = np.zeros(self.A.shape[0], bool) if self.derived is None else np.asarray(self.derived, bool)
        self.x = np.asarray(self.x, np.float64)

    @property
    def values(self) -> np.ndarray:
        return self.A @ self.x


@dataclass
class Protection:
    """Result of :func:`protect`: the withheld items and what it took."""

    suppressed: np.ndarray
    primary: np.ndarray
    zeros: np.ndarray
    unprotectable: np.ndarray  # withheld but already determined by earlier releases (nothing can help)
    lps: int = 0


def protect(model: Model, rules: Rules = Rules(), *, cost: np.ndarray | None = None,
            primary: np.ndarray | None = None) -> Protection:
    """Primary and secondary suppression of a whole release by linear programming.

    Primary: counts ``1 ≤ n < threshold`` (and, with ``rules.zeros``, zeros
    inside them). Secondary, as the LP heuristics behind τ-ARGUS/sdcTable
    (Kelly, Golden & Assad; Fischetti & Salazar's per-cell subproblem): for each
    withheld item p in turn (smallest first) that no deviation found so far
    already covers, solve

        min Σ_i cost_i t_i   over y (cells) and t (published items)
        s.t. A_p y = width,  −t_i ≤ A_i y ≤ t_i,  E y = 0,  G (x + y) ≤ 0,  x + y ≥ 0,
             A_j y = 0 for items fixed by earlier releases,

    and withhold every item the deviation y moves (t_i > 0). Then x and x + y
    are both consistent with everything published, so an attacker's interval
    for p is at least ``width`` wide; a deviation stays valid as more items are
    withheld, so every withheld item — primary or secondary — ends covered by
    the deviations found (up and down, combined). Items withheld as
    secondaries join the queue, so they get the same guarantee.
    ``cost`` (default: count + 1) is the loss of withholding an item.
    """
    key = _protection_key(model, rules, cost, primary)
    if key not in _PROTECTED:
        with threadpool_limits(limits=1, user_api="blas"):
            _PROTECTED[key] = _protect(model, rules, cost, primary)
        while len(_PROTECTED) > PROTECTED_KEPT:
            _PROTECTED.pop(next(iter(_PROTECTED)))
    return _copy(_PROTECTED[key])


# the same release protected again in one process (a report and its convention tables, a rerun, a test
# suite's many reports of one register) is looked up, not solved again: protection is a pure function
PROTECTED_KEPT = 32
_PROTECTED: dict[bytes, Protection] = {}


def _protection_key(model: Model, rules: Rules, cost, primary) -> bytes:
    """Content hash of everything :func:`_protect` reads."""
    h = hashlib.blake2b(digest_size=32)
    for M in (model.A, model.E, model.G):
        M = sparse.csr_matrix(M)
        for a in (np.asarray(M.shape, np.int64), M.indptr.astype(np.int64), M.indices.astype(np.int64),
                  M.data.astype(np.float64)):
            h.update(np.ascontiguousarray(a).tobytes())
    for a in (model.x, model.fixed, model.derived, cost, primary):
        h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
    h.update(repr(rules).encode())
    return h.digest()


def _copy(p: Protection) -> Protection:
    return Protection(p.suppressed.copy(), p.primary.copy(), p.zeros.copy(), p.unprotectable.copy(), p.lps)


def _protect(model: Model, rules: Rules, cost, primary) -> Protection:
    A, x, fixed = model.A, model.x, model.fixed
    values = np.rint(A @ x)
    n_items = A.shape[0]
    prim = primary_suppression(values, rules.threshold) if primary is None else np.asarray(primary, bool).copy()
    prim &= ~fixed
    zeros = _zeros_inside(A, values, prim & ~model.derived) & ~fixed if rules.zeros else np.zeros(n_items, bool)
    suppressed = prim | zeros
    cost = values + 1.0 if cost is None else np.asarray(cost, np.float64)
    up = np.zeros(n_items)    # largest upward move of each item among the deviations found
    down = np.zeros(n_items)  # largest downward move
    unprotectable = np.zeros(n_items, bool)
    if not suppressed.any():  # nothing withheld: no linear program at all
        return Protection(suppressed, prim, zeros & ~prim, unprotectable, 0)
    lps = [0]
    # global LPs first ask the cheap question of :class:`_FreeCheck` (on big releases only: on small ones the
    # full LP takes milliseconds)
    free = _FreeCheck(model) if model.A.shape[1] >= FREE_FIRST_CELLS else None
    done = np.zeros(n_items, bool)
    while True:
        todo = np.flatnonzero(suppressed & ~done)
        if not len(todo):
            break
        for p in todo[np.argsort(values[todo], kind="stable")]:
            done[p] = True
            if _opened(up[p], down[p]) >= rules.width:
                continue
            # a derived item (a difference) may move either way, below zero too: every split of the width
            value = max(values[p], rules.width) if model.derived[p] else values[p]
            found = _cover(model, p, value, rules.width, up, down, suppressed, cost, lps, free)
            if found is None:
                unprotectable[p] = True
                continue
            for y in found:
                move = A @ y
                suppressed |= (np.abs(move) > 1e-7) & ~fixed
                up = np.maximum(up, move)
                down = np.maximum(down, -move)
    return Protection(suppressed, prim, zeros & ~prim, unprotectable, lps[0])


def _opened(up: float, down: float) -> float:
    """Integer width of an attacker's interval around a count that deviations move ``up`` and ``down``.

    The interval for a count c contains [c − down, c + up]; the whole numbers
    it cannot exclude besides c number floor(up) + floor(down) (1.5 up and
    1.5 down leave c − 1 … c + 1: width 2, not 3).
    """
    return np.floor(up + 1e-7) + np.floor(down + 1e-7)


def _cover(model: Model, p: int, value: float, width: int, up, down, suppressed, cost, lps: list,
           free: "_FreeCheck | None" = None):
    """Deviations that together open item p's interval to ``width`` (None: impossible); counts LPs in ``lps``.

    The interval may open upwards, downwards (if the count is large enough)
    or partly each way; a direction the deviations found so far reach needs
    no new one. Each deviation is sought in p's neighbourhood first, then
    over every cell.
    """
    splits = [(width, 0.0), *([(0.0, width)] if value >= width else []),
              *((width - d, d) for d in range(1, int(min(value, width - 1)) + 1))]
    local = _neighbourhood(model, p, suppressed)
    for need_up, need_down in splits:
        moves = []
        for target in (need_up, -need_down):
            if target == 0 or np.floor((up if target > 0 else down)[p] + 1e-7) >= abs(target):
                continue
            for cells in ([local, None] if local is not None else [None]):
                lps[0] += 1
                # over every cell, first the cheap question "does a deviation that moves only withheld items
                # exist?" (its cost is 0, the optimum of the full LP whenever it exists), then the full LP
                y = free.deviation(p, target, suppressed) if cells is None and free is not None else None
                if y is None:
                    y = _deviation(model, p, target, suppressed, cost, cells)
                if y is not None:
                    break
            if y is None:
                break
            moves.append(y)
        else:
            return moves
    return None


def implied_zeros(A: sparse.csr_matrix, values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Items known to be 0 because every cell they count lies under a ``known`` item published as 0.

    A published zero over non-negative cells says each of its cells is 0, so
    every item over those cells is 0 too — already disclosed (by an earlier
    release), withholding it protects nothing, and it cannot be protected.

    >>> A = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1.0]]))
    >>> implied_zeros(A, np.array([0, 0, 2.0]), np.array([True, False, False])).tolist()
    [True, True, False]
    """
    A = sparse.csr_matrix(A)
    non_negative = np.asarray((A < 0).sum(axis=1)).ravel() == 0
    zero_cells = np.zeros(A.shape[1], bool)
    zero_cells[A[np.flatnonzero(known & (np.rint(values) == 0) & non_negative)].indices] = True
    pattern = (A != 0).astype(np.float64)
    cells_elsewhere = pattern @ (~zero_cells).astype(np.float64)
    return (np.diff(pattern.indptr) > 0) & (cells_elsewhere == 0)


def _zeros_inside(A: sparse.csr_matrix, values: np.ndarray, primary: np.ndarray) -> np.ndarray:
    """Zero items whose cells all lie inside a primary item's cells."""
    zero = np.flatnonzero(values == 0)
    prim = np.flatnonzero(primary)
    out = np.zeros(A.shape[0], bool)
    if not len(zero) or not len(prim):
        return out
    B = (A != 0).astype(np.float64).tocsr()
    Z, P = B[zero], B[prim]
    size = np.asarray(Z.sum(axis=1)).ravel()
    overlap = (Z @ P.T).tocsr()
    overlap.data = (overlap.data >= np.repeat(size, np.diff(overlap.indptr)) - 1e-9).astype(np.float64)
    overlap.eliminate_zeros()
    out[zero[(np.diff(overlap.indptr) > 0) & (size > 0)]] = True
    return out


# cells from which a global LP first asks :class:`_FreeCheck`: below, the full LP takes milliseconds
FREE_FIRST_CELLS = 2_000
PARTNERS = 2  # other seed groups a local deviation may use (to keep the "all" rows)


def _neighbourhood(model: Model, p: int, suppressed: np.ndarray) -> np.ndarray | None:
    """Cells of item p's seed group(s) and of :data:`PARTNERS` other groups (None: p spans many groups).

    A deviation confined to a few groups is as valid as any (cells outside
    stay unchanged) and its LP is many times smaller; the groups with the
    most withheld counts already are the cheapest partners.
    """
    g = model.cell_group
    if g is None:
        return None
    mine = np.unique(g[model.A[p].indices])
    mine = mine[mine >= 0]
    if len(mine) == 0 or len(mine) > 2:
        return None
    others = np.setdiff1d(np.unique(g[g >= 0]), mine)
    if len(others) <= PARTNERS:
        return None
    # withheld items per group (through their cells), as a cheap proxy of how easily a group can move
    A = model.A[np.flatnonzero(suppressed)]
    touched = np.bincount(np.maximum(g[A.indices], 0), minlength=g.max() + 1)
    partners = others[np.argsort(-touched[others], kind="stable")[:PARTNERS]]
    return np.flatnonzero(np.isin(g, np.r_[mine, partners]))


def _deviation(model: Model, p: int, target: float, suppressed: np.ndarray, cost: np.ndarray,
               cells: np.ndarray | None = None) -> np.ndarray | None:
    """The cheapest change y of the cells that moves item p by ``target`` (see :func:`protect`).

    ``cells``: only these cells may change (a local problem); None: all.
    """
    A, x = model.A, model.x
    n_all = A.shape[1]
    E, G = model.E, model.G
    if cells is not None:
        A, E, G = A[:, cells], E[:, cells], G[:, cells]
        x = x[cells]
        E = E[np.diff(E.indptr) > 0]
        G, b_g = G, -(model.G @ model.x)  # G (x + y) ≤ 0 with y zero outside ``cells``
    else:
        b_g = -(G @ x)
    keep_g = np.diff(G.indptr) > 0
    G, b_g = G[keep_g], b_g[keep_g]
    n = A.shape[1]
    touches = np.diff(A.indptr) > 0
    soft = np.flatnonzero(~suppressed & ~model.fixed & touches)
    hard = np.flatnonzero(model.fixed & touches)
    m = len(soft)
    eye = sparse.identity(m, format="csr")
    # variables: y (n, ≥ −x), then each published item's move split as u − v (u, v ≥ 0, each at its cost)
    rest = sparse.vstack([G, A[[p]], E, A[hard]])
    M = sparse.vstack([sparse.hstack([A[soft], -eye, eye]),
                       sparse.hstack([rest, sparse.csr_matrix((rest.shape[0], 2 * m))])]).tocsc()
    zeros = np.zeros(m + E.shape[0] + len(hard))
    lo = np.r_[zeros[:m], np.full(G.shape[0], -np.inf), target, zeros[m:]]
    hi = np.r_[zeros[:m], b_g, target, zeros[m:]]
    res = _solve(np.r_[np.zeros(n), cost[soft], cost[soft]], M, lo, hi, np.r_[-x, np.zeros(2 * m)])
    if res is None:
        return None
    y = np.zeros(n_all)
    y[slice(None) if cells is None else cells] = res[:n]
    y[np.abs(y) < 1e-9] = 0.0
    return y


class _FreeCheck:
    """Does a deviation exist that moves item p by ``target`` and no item still published? (one protection)

    The feasible set of :func:`_deviation`'s global LP with every published and
    fixed item's move fixed at 0 (no cost variables), built once per
    :func:`protect` call over every item's row. A question is asked as an
    optimum, not as a constraint: maximise p's move (minimise it, for a
    downward ``target``) with p's row capped at ``target``; the answer is yes
    when the optimum reaches the cap. Between questions only p's row bounds,
    the rows of items withheld since (freed) and the objective change, so the
    last solution stays feasible — the feasible set only grows — and HiGHS's
    primal simplex starts from it. (Asked as a constraint, ``a_p · y = target``,
    the last basis is primal infeasible and the dual simplex needed about
    1,300 pivots a question on the tiny register's second release against a
    few hundred this way; docs/performance.md.) When the answer is yes, the
    full LP's optimum is 0 and the deviation found is one of its optima; a
    release sequence's later releases mostly are (metro 0.1, third release:
    169 of 282 global LPs). A deviation that moves a published item by more
    than rounding is not taken (the full LP decides).
    """

    def __init__(self, model: Model):
        import highspy

        A, x, E, G = model.A, model.x, model.E, model.G
        self.A, self.fixed = A, model.fixed
        self.rows = np.flatnonzero(np.diff(A.indptr) > 0)  # items that count a cell: one row each
        keep_g = np.diff(G.indptr) > 0
        b_g = -(G @ x)[keep_g]
        M = sparse.vstack([A[self.rows], E, G[keep_g]]).tocsc()
        m, inf = len(self.rows), highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = M.shape[1], M.shape[0]
        lp.col_cost_ = np.zeros(M.shape[1])
        lp.col_lower_, lp.col_upper_ = -x, np.full(M.shape[1], inf)
        lp.row_lower_ = np.r_[np.zeros(m + E.shape[0]), np.full(len(b_g), -inf)]
        lp.row_upper_ = np.r_[np.zeros(m + E.shape[0]), b_g]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = M.indptr, M.indices, M.data
        self.h = _highs(presolve=False)  # presolve would drop the basis kept between questions
        self.h.setOptionValue("simplex_strategy", 4)  # primal: the last solution is feasible for the next question
        self.h.passModel(lp)
        self.free = np.zeros(m, bool)  # rows of items withheld so far: free to move
        self.costed = np.zeros(0, np.int32)  # the columns the last question's objective set
        self.inf = inf
        self.optimal = highspy.HighsModelStatus.kOptimal

    def _open(self, k: np.ndarray) -> None:
        k = np.asarray(k, np.int32)
        self.h.changeRowsBounds(len(k), k, np.full(len(k), -self.inf), np.full(len(k), self.inf))
        self.free[k] = True

    def deviation(self, p: int, target: float, suppressed: np.ndarray) -> np.ndarray | None:
        """A deviation moving item p by ``target`` and no item ``suppressed`` does not free (None: none)."""
        new = np.flatnonzero(suppressed[self.rows] & ~self.fixed[self.rows] & ~self.free)
        if len(new):
            self._open(new)
        k = int(np.searchsorted(self.rows, p))
        lower, upper = (-self.inf, target) if target > 0 else (target, self.inf)
        self.h.changeRowsBounds(1, np.array([k], np.int32), np.array([lower]), np.array([upper]))
        row = self.A[p]
        columns = np.union1d(self.costed, row.indices).astype(np.int32)  # clear the last objective, set p's
        cost = np.zeros(len(columns))
        cost[np.searchsorted(columns, row.indices)] = -np.sign(target) * row.data
        self.h.changeColsCost(len(columns), columns, cost)
        self.costed = row.indices.astype(np.int32)
        self.h.run()
        ok = self.h.getModelStatus() == self.optimal
        y = np.array(self.h.getSolution().col_value) if ok else None
        self._open([k])  # p is withheld: free from now on
        if y is None or abs(float((row @ y)[0]) - target) > 1e-7:  # the cap not reached: p cannot move that far freely
            return None
        still = self.rows[~suppressed[self.rows]]  # items still published that count a cell
        if np.abs(self.A[still] @ y).max(initial=0.0) > 1e-7:
            return None
        y[np.abs(y) < 1e-9] = 0.0
        return y


def _solve(c: np.ndarray, M: sparse.csc_matrix, row_lower: np.ndarray, row_upper: np.ndarray,
           col_lower: np.ndarray) -> np.ndarray | None:
    """min c·z s.t. row_lower ≤ M z ≤ row_upper, z ≥ col_lower, by HiGHS's dual simplex (None: no optimum).

    Without presolve: these LPs are small and solved once each, and HiGHS's
    presolve costs about as much as the simplex itself (measured: 15 vs 30 ms
    on a small register's release).
    """
    import highspy

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = M.shape[1], M.shape[0]
    lp.col_cost_ = c
    lp.col_lower_, lp.col_upper_ = col_lower, np.full(M.shape[1], inf)
    lp.row_lower_, lp.row_upper_ = np.where(np.isinf(row_lower), -inf, row_lower), row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = M.indptr, M.indices, M.data
    h = _highs(presolve=False)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value)


def _highs(presolve: bool):
    """A silent, single-threaded HiGHS instance (presolve: see :func:`_solve`).

    ``highspy._Highs`` (exported by highspy) is the solver without the
    callback layer of ``highspy.Highs``, which prints a banner on creation
    before any option can silence it.
    """
    import highspy

    h = highspy._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("presolve", "on" if presolve else "off")
    return h


def attack(model: Model, suppressed: np.ndarray, targets: np.ndarray | None = None, *,
           enough: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An attacker's exact bounds on withheld items: min and max of ``A[p] @ x`` over

    ``{x ≥ 0 : A[published] x = published values, E x = 0, G x ≤ 0}`` (HiGHS LP;
    published = not ``suppressed``). Returns (low, high) per target item
    (default every suppressed item), NaN elsewhere. Used by the tests and
    ``scripts/disclosure_attack.py`` to check :func:`protect`.

    Every solution is a point of the feasible set, so it also moves the other
    targets: with ``enough``, a target that two points found so far already
    set ``enough`` whole numbers apart is not solved for, and its (low, high) are those
    points' values — an inner bound, at least ``enough`` wide (the question
    "is any count known to within ±1?" is ``enough=3``). One HiGHS model is
    re-solved from the last basis (:class:`_Attacker`).
    """
    A, x = model.A, model.x
    targets = np.flatnonzero(suppressed) if targets is None else np.asarray(targets)
    low = np.full(A.shape[0], np.nan)
    high = np.full(A.shape[0], np.nan)
    if not len(targets):
        return low, high
    T = A[targets]
    seen_low, seen_high = T @ x, T @ x
    with threadpool_limits(limits=1, user_api="blas"):
        attacker = _Attacker(model, np.asarray(suppressed, bool))
        for i, p in enumerate(targets):
            # counts are whole numbers: what two points prove is the whole numbers between them
            if enough is not None and np.floor(seen_high[i] + 1e-6) - np.ceil(seen_low[i] - 1e-6) >= enough:
                low[p], high[p] = seen_low[i], seen_high[i]
                continue
            for sign, out in ((1.0, low), (-1.0, high)):
                status, value, point = attacker.solve(A[p], sign)
                if status == "optimal":
                    out[p] = value
                    if enough is not None:
                        values = T @ point
                        np.minimum(seen_low, values, out=seen_low)
                        np.maximum(seen_high, values, out=seen_high)
                elif status == "unbounded":
                    out[p] = -np.inf * sign
    return low, high


class _Attacker:
    """The attacker's LP over a release, built once and re-solved from the last basis.

    Variables: the cells x ≥ 0. Rows: every published item (fixed at its
    value), the identities E x = 0 and G x ≤ 0. :meth:`solve` changes only
    the objective, so the last optimal basis stays primal feasible and HiGHS
    needs a few pivots per solve, not a solve from scratch.
    """

    def __init__(self, model: Model, suppressed: np.ndarray):
        import highspy

        A, x = model.A, model.x
        published = np.flatnonzero(~np.asarray(suppressed, bool) & (np.diff(A.indptr) > 0))
        rows = sparse.vstack([A[published], model.E, model.G]).tocsc()
        inf = highspy.kHighsInf
        n, n_e, n_g = A.shape[1], model.E.shape[0], model.G.shape[0]
        values = A[published] @ x
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, rows.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, inf)
        lp.row_lower_ = np.r_[values, np.zeros(n_e), np.full(n_g, -inf)]
        lp.row_upper_ = np.r_[values, np.zeros(n_e + n_g)]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = rows.indptr, rows.indices, rows.data
        self.h = _highs(presolve=True)
        self.h.passModel(lp)
        self.previous = np.zeros(0, np.int32)
        self._status = {highspy.HighsModelStatus.kOptimal: "optimal", highspy.HighsModelStatus.kUnbounded: "unbounded"}

    def solve(self, row: sparse.csr_matrix, sign: float) -> tuple[str, float | None, np.ndarray | None]:
        """(status, min of sign · row @ x times sign, the optimal x) — sign −1: the max."""
        idx = np.union1d(self.previous, row.indices).astype(np.int32)  # clear the last objective, set this one
        cost = np.zeros(len(idx))
        cost[np.searchsorted(idx, row.indices)] = sign * row.data
        self.h.changeColsCost(len(idx), idx, cost)
        self.previous = row.indices.astype(np.int32)
        self.h.run()
        status = self._status.get(self.h.getModelStatus(), "failed")
        if status != "optimal":
            return status, None, None
        return status, sign * self.h.getInfo().objective_function_value, np.asarray(self.h.getSolution().col_value)


def secondary_suppression(
    A: np.ndarray,
    counts: np.ndarray,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    primary: np.ndarray | None = None,
    protected: np.ndarray | None = None,
    width: int = 3,
) -> np.ndarray:
    """Suppression mask of one table by :func:`protect` (no identities beyond the table's own rows).

    ``A`` (items × cells): item i is ``A[i] @ x``; ``counts`` the items' values,
    from which cell counts consistent with them are recovered (least squares
    on non-negative cells); ``protected`` items (group totals shared by many
    tables) cost a thousand times more to withhold.
    """
    A = np.asarray(A, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    x = _cells_from_items(A, counts)
    cost = counts + 1.0
    if protected is not None:
        cost = np.where(np.asarray(protected, bool), cost * 1000.0, cost)
    rules = Rules(threshold=threshold, width=width, zeros=False, unsafe=threshold < DEFAULT_THRESHOLD)
    return protect(Model(A, x), rules, cost=cost, primary=primary).suppressed


def _cells_from_items(A: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Non-negative cell counts with ``A x = counts`` (the items of a table are consistent by construction).

    A table whose margins do not add up (e.g. absolute differences between two
    reports, :mod:`flyttkedja.analysis.conventions`) but that has a row of its
    own for every cell takes those rows as the cells.
    """
    res = linprog(np.zeros(A.shape[1]), A_eq=A, b_eq=counts, bounds=(0, None), method="highs")
    if res.status == 0:
        return res.x
    unit = np.flatnonzero(((A != 0).sum(axis=1) == 1) & (A.sum(axis=1) == 1))
    x = np.full(A.shape[1], np.nan)
    x[np.argmax(A[unit] != 0, axis=1)] = counts[unit]
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError("counts are not consistent with any non-negative cell counts")
    return x


def cell_key_perturbation(counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
    """Perturbation (int) of each count from its cell key in [0, 1) by :data:`PTABLE`.

    >>> cell_key_perturbation(np.array([0, 10, 10]), np.array([0.3, 0.01, 0.5])).tolist()
    [0, -2, 0]
    """
    counts = np.asarray(counts).astype(np.int64)
    keys = np.asarray(cell_keys, dtype=np.float64) % 1.0
    out = np.zeros(len(counts), dtype=np.int64)
    for c in np.unique(counts):
        rows = counts == c
        table = PTABLE.get(int(c), PTABLE_DEFAULT)
        values = np.array([d for d, _ in table])
        bounds = np.cumsum([p for _, p in table])
        out[rows] = values[np.minimum(np.searchsorted(bounds, keys[rows], side="right"), len(values) - 1)]
    return out
