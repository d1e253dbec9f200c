"""One programme through a transition model: what the scenario run's ``transition_model`` method gives it.

:meth:`TransitionModel.evaluate` (this module's :func:`evaluate`) takes a
programme as the scenario TOML writes it — ``{"name": ..., "line": [{"count":
..., "tenure": ..., "rooms": ...}, ...]}`` — and returns, as plain JSON-ready
data:

- ``rows``: the comparison rows the scenario run writes for the method
  ``transition_model`` (:func:`flyttkedja.scenario.compare.expectation_rows`,
  the same code): ``chain_length_mean``, ``moves_gross_per_100_new`` for the
  region, the programme's municipality and the rest, vacancies by tenure and
  area type, ``reached_{group}_per_100_new``, end-reason shares — per
  programme (``line`` None) and per line.
- three exact distributions of the absorbing chain, per programme:
  ``chain_length_share`` (group "0".."19", "20+": share of chains with that
  many moves); ``below_median_share_by_round`` (group k = 1..6: of the
  dwellings vacated by the k-th movers, the share in below-median-income
  areas — Mast's rounds as the tables and the microsimulation define them;
  needs a model estimated with the register's areas); and
  ``vacancies_area_{a}_share_by_round`` (the same rounds by area type *a*).
- the displacement-adjusted gross for new programmes (method :data:`NET_METHOD`):
  for a line of a kind (tenure × rooms × municipality × allocation) for which
  the run that saved the model measured a displacement ratio,
  ``displacement_ratio`` and ``moves_adjusted_per_100_new`` = the line's gross
  × that ratio; per programme when every line has one. Lines of other kinds get
  a warning and none; so do lines whose ratio's 95% interval includes 0 (the
  run did not resolve it: :func:`ratio_resolved`), which keep their ratio row.
  (The run's own net, ``moves_net_per_100_new``, is the change in all moves of
  the market; this is the model's estimate of it for a programme the market
  never ran, so the two have different names.)
- every figure has a 95% interval, computed without random draws
  (:func:`standard_errors`, docs/explorer.md "Intervals"): the delta method
  over the model's multinomial rows for the expected counts, combined with the
  cross-validated model error for gross moves; binomial with the programme's
  effective number of observed chains for the shares.
- ``warnings``: how much disclosure control withheld from a saved model, attributes the model cannot
  use, strata relaxed, sparse strata, lines without a displacement ratio.

The explorer (:mod:`flyttkedja.explorer`) computes exactly this in the browser.

Example
-------
>>> model = load_model("out/kustvik")                                     # doctest: +SKIP
>>> result = model.evaluate({"name": "small flats", "line": [
...     {"count": 100, "tenure": "rental", "rooms": 1, "municipality": "9983"}]})   # doctest: +SKIP
>>> [r["estimate"] for r in result["rows"] if r["measure"] == "moves_gross_per_100_new"][0]   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from flyttkedja.scenario import _kernels as K
from flyttkedja.scenario.compare import ADJUSTED, GROSS, RATIO, ROUNDS_MEASURE, _by_key, _model_spec, _row, \
    expectation_rows, programme_kinds, programme_municipalities, sparse_lines, t975, unused_attributes
from flyttkedja.scenario.config import Programme, _programmes
from flyttkedja.scenario.model import POOL_REASON, Z975, allocated_first_counts, attribute_label
from flyttkedja.schema import AREA_TYPES, TENURES

LENGTH_BINS = 21  # chain-length shares 0..19 and "20+" (the Monte Carlo histogram's bins)
ROUNDS = 6  # Mast's six rounds
LENGTH_MEASURE = "chain_length_share"
METHOD = "transition_model"


def as_programme(programme) -> Programme:
    """A :class:`Programme`, from one itself or from its TOML table (``{"name": ..., "line": [...]}``).

    Invalid fields raise :class:`~flyttkedja.scenario.ScenarioError` naming them."""
    if isinstance(programme, Programme):
        return programme
    return _programmes([programme])[0]


def point_probabilities(model):
    """``model.probabilities()``, computed once per model and set of count arrays (the shrinkage
    sums take most of an evaluation's time on a model of hundreds of strata; a sweep of programmes
    over one model needs them once). Count arrays changed in place are not noticed: replace them."""
    key = tuple(id(a) for a in model.counts().values())
    hit = model.__dict__.get("_point_probabilities")  # kept on the instance, like TransitionModel.levels
    if hit is None or hit[0] != key:
        hit = model.__dict__["_point_probabilities"] = (key, model.probabilities())
    return hit[1]


def model_error(model) -> float:
    """The model's relative out-of-sample error (cross-validation's ``sigma``; 0 if never measured)."""
    return float(model.meta.get("cross_validation", {}).get("sigma", 0.0) or 0.0)


def evaluate(model, programme, *, min_observations: int = 30) -> dict:
    """The transition model's figures for one programme (see the module docstring)."""
    prog = as_programme(programme)
    kinds, counts, relaxed = programme_kinds(model, prog)
    pr = point_probabilities(model)
    n = model.vacancy_records()
    munis = programme_municipalities(prog)
    sigma = model_error(model)
    rows = expectation_rows(model, prog, bootstrap=0, seed=0, model_error=sigma, probs=pr)
    _with_intervals(model, rows, standard_errors(model, pr, kinds, counts, munis), sigma)
    share = counts / counts.sum()
    n_eff = effective_chains(model, kinds, share)
    hist = sum(s * length_distribution(model, pr, w, g, f) for s, (w, g, f) in zip(share, kinds))
    for k, value in enumerate(hist):
        group = f"{k}+" if k == LENGTH_BINS - 1 else str(k)
        rows.append(_row(prog.name, METHOD, LENGTH_MEASURE, group, value, *_share_interval(value, 0.0, n_eff), n=n))
    vacated = sum(s * round_vacancies(model, pr, w, g, f) for s, (w, g, f) in zip(share, kinds))  # (ROUNDS, S)
    totals = vacated.sum(axis=1)
    if pr.B is not None:  # into below-median-income areas (the tables' definition)
        vi = np.asarray(model.vacated_income, np.float64)
        T = operators(model)["vacated"]
        for k in range(ROUNDS):
            if totals[k] > 0:
                f = vacated[k] / totals[k]
                value = float(f @ pr.B)
                extra = float(_bernoulli_variance(T, vi[:, 0], vi.sum(axis=1), f[:, None])[0])
                rows.append(_row(prog.name, METHOD, ROUNDS_MEASURE, str(k + 1), value,
                                 *_share_interval(value, extra, n_eff * totals[k]), n=n))
    if "area_type" in model.keys:
        pos = model.keys.index("area_type")
        area_of = np.array([s.split("|")[pos] for s in model.strata])
        for a in AREA_TYPES:
            inside = (vacated * (area_of == a)).sum(axis=1)
            for k in range(ROUNDS):
                if totals[k] > 0:
                    value = inside[k] / totals[k]
                    rows.append(_row(prog.name, METHOD, f"vacancies_area_{a}_share_by_round", str(k + 1), value,
                                     *_share_interval(value, 0.0, n_eff * totals[k]), n=n))
    net_rows, net_notes = net_for_lines(model, prog, rows, n)
    rows += net_rows
    warnings = (disclosure_warning(model) + unused_attributes(model, prog) + relaxed
                + sparse_lines(model, [prog], min_observations) + net_notes)
    if pr.B is None:
        warnings.append("the model holds no area incomes (estimated without the register's areas): "
                        "no rounds into below-median-income areas")
    return {"programme": prog.name, "dwellings": prog.dwellings, "municipalities": munis,
            "model_error": sigma, "rows": rows, "warnings": warnings}


# ---------------------------------------------------------------------- intervals
def _hierarchy(levels: list[np.ndarray], n: np.ndarray, k: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """How the shrunk rows of :func:`~flyttkedja.scenario.model._shrunk` rest on the raw counts.

    A fine row is ``Σ_ℓ c[ℓ, i] · p̂_ℓ(group of i at level ℓ)``, p̂_ℓ the raw share of the level's
    aggregated counts: ``c[ℓ] = λ_ℓ Π_{m<ℓ} (1 − λ_m)``, ``λ = n / (n + k)`` (the root: 1; a group
    without records: 0). Returns ``c`` (levels, S) and each level's record count per group."""
    c = np.zeros((len(levels), len(levels[0])))
    carry = np.ones(len(levels[0]))
    totals = []
    for lev_i, lev in enumerate(levels):
        tot = np.bincount(lev, np.asarray(n, np.float64), int(lev.max()) + 1 if len(lev) else 0)
        totals.append(tot)
        n_i = tot[lev]
        lam = (n_i > 0).astype(np.float64) if lev_i == len(levels) - 1 else \
            np.where(n_i > 0, n_i / np.maximum(n_i + k, 1e-300), 0.0)
        c[lev_i] = carry * lam
        carry = carry * (1 - lam)
    return c, totals


class _Operator:
    """``T``: ``(T @ x)_r = Σ_ℓ (Σ_{i in r's group at ℓ} c[ℓ, i] x_i) / n_ℓ(r's group)`` — a figure's
    gradient ``x`` with respect to the fine (shrunk) rows carried to each raw count row r, divided by
    r's records (:func:`_hierarchy`). Applied level by level with sorted group sums (O(levels × S)
    per column; a dense (S, S) product would pay for BLAS threads on every call)."""

    def __init__(self, levels: list[np.ndarray], n: np.ndarray, k: float):
        c, totals = _hierarchy(levels, n, k)
        self.parts = []
        for lev_i, lev in enumerate(levels):
            order = np.argsort(lev, kind="stable")
            bounds = np.flatnonzero(np.r_[True, lev[order][1:] != lev[order][:-1]]) if len(lev) else order
            tot = totals[lev_i]
            inv = np.where(tot > 0, 1.0 / np.maximum(tot, 1e-300), 0.0)
            self.parts.append((lev, order, bounds, lev[order][bounds], c[lev_i], inv))

    def __matmul__(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape)
        for lev, order, bounds, groups, c, inv in self.parts:
            agg = np.zeros((len(inv),) + X.shape[1:])
            agg[groups] = np.add.reduceat((c.reshape((-1,) + (1,) * (X.ndim - 1)) * X)[order], bounds, axis=0)
            out += (agg * inv.reshape((-1,) + (1,) * (X.ndim - 1)))[lev]
        return out


def operators(model) -> dict:
    """:class:`_Operator` of each count array the intervals use, once per model and set of counts (like
    :func:`point_probabilities`): later rows, first rows (unallocated and allocated to each group),
    filler groups, vacated dwellings' area incomes."""
    key = tuple(id(a) for a in model.counts().values())
    hit = model.__dict__.get("_operators")
    if hit is None or hit[0] != key:
        levels, k = model.levels(), model.shrinkage
        ops = {"later": _Operator(levels, model.later.sum(axis=1), k), "fills": _Operator(levels, model.fills, k)}
        for g in [None, *range(len(model.groups))]:
            ops[("first", g)] = _Operator(levels, _first_counts(model, g).sum(axis=1), k)
        if model.vacated_income is not None:
            ops["vacated"] = _Operator(levels, np.asarray(model.vacated_income).sum(axis=1), k)
        hit = model.__dict__["_operators"] = (key, ops)
    return hit[1]


def _first_counts(model, g):
    """The counts behind the first rows of a line (allocated to group g: its first fillers' records without
    arrivals, :func:`~flyttkedja.scenario.model.allocated_first_counts`, as ``Probabilities.allocated``)."""
    if g is None:
        return model.first
    return allocated_first_counts(model.first if model.first_group[g].sum() == 0 else model.first_group[g],
                                  model.reasons)


def _moments(counts: np.ndarray, U: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per raw count row: records n (S,), and Var(u), Var(z), Cov(u, z) (S, F) of the outcome values
    ``U``, ``Z`` (W, F; one column per figure) under the row's shares. Sums run over the non-zero
    cells only (a disclosed model's pooled counts, spread over their cells, fill many), in numba
    (``_kernels.row_moments``), two-pass: a row whose shares sit almost all in one cell has a tiny
    variance that ``E[u²] − E[u]²`` would lose."""
    counts = np.asarray(counts, np.float64)
    n = counts.sum(axis=1)
    rows, cols = np.nonzero(counts)
    start = np.searchsorted(rows, np.arange(counts.shape[0] + 1)).astype(np.int64)
    p = counts[rows, cols] / n[rows]
    vu, vz, cuz = K.row_moments(start, cols.astype(np.int64), p, np.ascontiguousarray(U, np.float64),
                                np.ascontiguousarray(Z, np.float64))
    return n, vu, vz, cuz


def _variance(T: "_Operator", mom, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Delta-method variances (sets, F) of figures whose gradients with respect to fine row i are
    ``X[i, s, f] u_f + Y[i, s, f] z_f`` (``mom``: :func:`_moments` of U, Z): each raw row multinomial,
    rows independent."""
    n, vu, vz, cuz = mom
    ax, ay = T @ X, T @ Y
    return (n[:, None, None] * (ax * ax * vu[:, None, :] + ay * ay * vz[:, None, :]
                                + 2 * ax * ay * cuz[:, None, :])).sum(axis=0)


def _pool_variance(T: "_Operator", counts: np.ndarray, U: np.ndarray, Z: np.ndarray, nh: int, X: np.ndarray,
                   Y: np.ndarray, D: np.ndarray) -> np.ndarray:
    """What the new-household pool adds to :func:`_variance` of the first rows: gradients ``X u + Y z + D e``
    with ``e`` the indicator of the outcome ``nh`` (the pool's own derivative, :func:`_pool_gradient`), less
    ``X u + Y z`` already counted: ``n (ad² Var e + 2 ax ad Cov(u, e) + 2 ay ad Cov(z, e))`` per raw row."""
    counts = np.asarray(counts, np.float64)
    n = counts.sum(axis=1)
    p = counts / np.maximum(n, 1e-300)[:, None]
    q = p[:, nh]
    ve, cue, cze = q * (1 - q), q[:, None] * (U[nh][None, :] - p @ U), q[:, None] * (Z[nh][None, :] - p @ Z)
    ax, ay, ad = T @ X, T @ Y, T @ D
    return (n[:, None, None] * (ad * ad * ve[:, None, None] + 2 * ax * ad * cue[:, None, :]
                                + 2 * ay * ad * cze[:, None, :])).sum(axis=0)


def _pool_gradient(R0: np.ndarray, f: float, nh: int, a0: np.ndarray, B: np.ndarray, Z: np.ndarray):
    """The pool's derivative on fine first rows ``R0`` (unpooled) of a line with factor ``f``: the gradient
    of ``Σ_j T(R0)_ij c_ij`` (``T`` = :func:`~flyttkedja.scenario.model.pooled_first_rows`, ``c_ij = a0_if
    B_jf + Z_jf``) with respect to row i is ``s_i c_ij + d_if·[j = nh]`` up to a constant of the row (which
    no multinomial variance sees): ``s = 1 + (1 − f) p / rest`` (p the row's new-household share, rest its
    other outcomes), ``d = c_nh (f − s) + ρ (1 − f)(rest + p) / rest`` (ρ the mean of c over the other
    outcomes). Returns ``s`` (S,) and ``d`` (S, F); rows the pool leaves alone: 1 and 0."""
    p = R0[:, nh]
    rest = R0.sum(axis=1) - p
    keep = (rest > 0) & (f != 1.0)
    safe = np.where(keep, rest, 1.0)
    sc = np.where(keep, 1.0 + (1.0 - f) * p / safe, 1.0)
    cnh = a0 * B[nh][None, :] + Z[nh][None, :]
    rho = (a0 * (R0 @ B) + R0 @ Z - p[:, None] * cnh) / safe[:, None]
    d = np.where(keep[:, None], cnh * (f - sc[:, None]) + rho * ((1.0 - f) * (rest + p) / safe)[:, None], 0.0)
    return sc, d


def _bernoulli_variance(T: "_Operator", hits: np.ndarray, n: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The same for shrunk shares ``hits / n`` (filler groups, below-median areas) with gradients
    ``X`` (S, ...): variances of shape ``X.shape[1:]``."""
    p = np.where(n > 0, hits / np.maximum(n, 1e-300), 0.0)
    ax = T @ X
    w = (n * p * (1 - p)).reshape((-1,) + (1,) * (X.ndim - 1))
    return (w * ax * ax).sum(axis=0)


def standard_errors(model, pr, kinds, counts, munis) -> np.ndarray:
    """Delta-method standard errors of :func:`~flyttkedja.scenario.compare._model_values` (same shape:
    programme, then each line × the columns of ``_model_spec``), per new dwelling; no random draws.

    Each column is an expected sum over the chain's filled vacancies of a reward ``c_ij = a_i · b_j``
    (a vacancy in stratum i with outcome j). Its gradient with respect to row i of ``P`` is
    ``Vis_i · (a_i b_j + h_j)`` (``h = N (a ∘ P b)``: the reward still to come from a vacancy in
    stratum j; ``Vis`` the expected later vacancies by stratum), and likewise for the first rows
    with the start weights. The gradient is carried through the shrinkage to the raw count rows
    (:class:`_Operator`), each multinomial with its own records and independent of the others.
    Reached groups add the binomial variance of the filler shares ``F``.

    A line with a new-household pool (:func:`~flyttkedja.scenario.model.pool_factor`) has pooled first
    rows T(P0): its expected later vacancies and first moves are the pooled rows', and the gradient with
    respect to the unpooled fine row is carried through T (:func:`_pool_gradient`, :func:`_pool_variance`),
    so the first rows' counts keep their multinomial variance. ``v`` (a register count) is taken as known.
    """
    S, W = model.n_strata, pr.P.shape[1]
    m = model.moves_flag().astype(np.float64)
    N, ops = pr.N, operators(model)
    share = counts / counts.sum()
    mats = [None, *sorted({g for _, g, _ in kinds if g is not None})]  # first rows: unallocated, allocated to g
    F0 = {g: (pr.F if g is None else pr.allocated(g)[1]) for g in mats}
    L = len(kinds)
    weights = np.hstack([share[:, None], np.eye(L)])  # (lines, sets): the programme, then each line alone
    starts = np.stack([np.asarray(w, np.float64) for w, *_ in kinds], axis=1)  # (S, lines)
    line_P0 = [pr.first_rows(g, f)[0] for _, g, f in kinds]  # each line's first rows, its pool applied
    vis = np.stack([(starts[:, li] @ line_P0[li])[:S] @ N for li in range(len(kinds))], axis=1)
    vis_w = vis @ weights
    start_w = {g: (starts * np.array([kg == g for _, kg, _ in kinds], np.float64)[None, :]) @ weights for g in mats}
    unalloc = np.array([kg is None for _, kg, _ in kinds], np.float64)
    first_moves = np.stack([p0 @ m for p0 in line_P0], axis=1)  # (S, lines)
    filled_w = (vis * (pr.P @ m)[:, None] + starts * first_moves * unalloc[None, :]) @ weights
    spec = _model_spec(model)
    masks = {"region": np.ones(S)}
    in_muni = _by_key(model, "municipality", munis)
    if in_muni is not None:
        masks["municipality"] = in_muni.max(axis=0).astype(np.float64)
        masks["rest"] = 1.0 - masks["municipality"]
    by_tenure, by_area = _by_key(model, "tenure", list(TENURES)), _by_key(model, "area_type", list(AREA_TYPES))
    # every figure as a reward a_i b_j (later rows), a0_i b_j (first rows); F columns: reached groups
    cols, A, A0, B, reach = [], [], {g: [] for g in mats}, [], []
    for col, (name, group, area, _) in enumerate(spec):
        if area not in masks:
            continue
        b = np.zeros(W)
        a, a0, gi = np.ones(S), {g: np.ones(S) for g in mats}, None
        if name == GROSS or name.startswith("reached_"):
            b = m
            a, a0 = masks[area], {g: masks[area] for g in mats}
            if name.startswith("reached_"):
                gi = model.groups.index(group)
                a, a0 = a * pr.F[:, gi], {g: masks[area] * F0[g][:, gi] for g in mats}
        elif name.startswith("vacancies_"):
            area_kind = name.startswith("vacancies_area_")
            ind = by_area if area_kind else by_tenure
            if ind is None:
                continue
            b[:S] = ind[(AREA_TYPES if area_kind else TENURES).index(group)]
        else:  # end_{reason}_share
            b[S + model.reasons.index(group)] = 1.0
        cols.append(col), A.append(a), B.append(b), reach.append((len(cols) - 1, gi, masks[area]))
        for g in mats:
            A0[g].append(a0[g])
    A, B = np.stack(A, axis=1), np.stack(B, axis=1)  # (S, F), (W, F)
    Z = np.vstack([N @ (A * (pr.P @ B)), np.zeros((W - S, len(cols)))])
    total = _variance(ops["later"], _moments(model.later, B, Z), vis_w[:, :, None] * A[:, None, :],
                      np.repeat(vis_w[:, :, None], len(cols), axis=2))
    nh = S + model.reasons.index(POOL_REASON) if POOL_REASON in model.reasons else None
    for g in mats:
        a0 = np.stack(A0[g], axis=1)
        mine = [li for li, (_, kg, f) in enumerate(kinds) if kg == g]
        if nh is None or all(kinds[li][2] == 1.0 for li in mine):
            total = total + _variance(ops[("first", g)], _moments(_first_counts(model, g), B, Z),
                                      start_w[g][:, :, None] * a0[:, None, :],
                                      np.repeat(start_w[g][:, :, None], len(cols), axis=2))
            continue
        # lines with a new-household pool: the pooled rows' gradient (_pool_gradient), line by line
        R0 = pr.first_rows(g)[0]
        xs, D = np.zeros((S, L + 1)), np.zeros((S, L + 1, len(cols)))
        for li in mine:
            sc, d = _pool_gradient(R0, kinds[li][2], nh, a0, B, Z)
            xs += (starts[:, li] * sc)[:, None] * weights[li][None, :]
            D += (starts[:, li][:, None] * d)[:, None, :] * weights[li][None, :, None]
        X, Y = xs[:, :, None] * a0[:, None, :], np.repeat(xs[:, :, None], len(cols), axis=2)
        counts_g = _first_counts(model, g)
        total = total + _variance(ops[("first", g)], _moments(counts_g, B, Z), X, Y) + _pool_variance(
            ops[("first", g)], counts_g, B, Z, nh, X, Y, D)
    for f, gi, mask in reach:
        if gi is not None:
            total[:, f] += _bernoulli_variance(ops["fills"], np.asarray(model.group_fills[:, gi], np.float64),
                                               np.asarray(model.fills, np.float64), filled_w * mask[:, None])
    out = np.full((L + 1, len(spec)), np.nan)
    out[:, cols] = np.sqrt(np.maximum(total, 0.0))
    return out


def _with_intervals(model, rows: list[dict], se: np.ndarray, sigma: float) -> None:
    """Set every expectation row's 95% interval from ``se`` (gross moves and the mean chain length:
    combined with the model's relative cross-validated error ``sigma``, as the scenario run does)."""
    col = {(name, group, area): k for k, (name, group, area, _) in enumerate(_model_spec(model))}
    scale = {k: sc for k, (_, _, _, sc) in enumerate(_model_spec(model))}
    gross = col[(GROSS, None, "region")]
    for r in rows:
        li = 0 if r["line"] is None else int(r["line"])
        if r["measure"] == "chain_length_mean":
            k, sc = gross, 1.0
        else:
            k = col.get((r["measure"], r["group"], r["area"]))
            if k is None:
                continue
            sc = scale[k]
        est, s = r["estimate"], se[li, k] * sc
        if not np.isfinite(s):
            continue
        if r["measure"] in (GROSS, "chain_length_mean"):
            s = float(np.hypot(s, sigma * est))
        lo, hi = est - Z975 * s, est + Z975 * s
        r["lower"], r["upper"] = max(lo, 0.0), (min(hi, 1.0) if r["measure"].startswith("end_") else hi)


def effective_chains(model, kinds, share: np.ndarray) -> float:
    """The programme's effective number of observed chains, ``1 / Σ_l share_l² / n_l``: ``n_l`` the
    first-vacancy records of the strata line l starts in (else all their records; a line whose strata
    hold none, as after disclosure control, borrows its parents' records as its rows do); 0 if the
    model has no records at all."""
    first = model.first.sum(axis=1).astype(np.float64)
    both = first + model.later.sum(axis=1)
    inv = 0.0
    for s, (w, *_) in zip(share, kinds):
        on = np.asarray(w) > 0
        n = 0.0
        for lev in model.levels():  # level 0: the line's own strata; then their parents, up to the root
            inside = np.isin(lev, lev[on])
            n = first[inside].sum() or both[inside].sum()
            if n > 0:
                break
        if n <= 0:
            return 0.0
        inv += s * s / n
    return 1.0 / inv if inv > 0 else 0.0


def _share_interval(p: float, extra: float, n: float) -> tuple[float | None, float | None]:
    """95% interval of a share ``p``: binomial variance p(1 − p)/n plus ``extra``, clipped to 0..1."""
    if not n > 0:
        return None, None
    half = Z975 * np.sqrt(max(p * (1 - p), 0.0) / n + extra)
    return max(p - half, 0.0), min(p + half, 1.0)


# ---------------------------------------------------------------------- net for new programmes
NET_METHOD = "gross_x_displacement"  # adjusted = the transition model's gross × the run's displacement ratio
KIND_KEYS = ("tenure", "rooms", "municipality", "target_group")


def line_kind(line) -> dict:
    """The kind of a programme line a displacement ratio is kept for: tenure, rooms ("1".."4", "5+"),
    municipality and allocation (None: not given). Landlord, building type and price level are not
    told apart."""
    return {"tenure": line.tenure, "rooms": attribute_label("rooms", line.rooms), "municipality": line.municipality,
            "target_group": line.target_group}


def displacement_by_kind(programmes, rows: list[dict]) -> list[dict]:
    """The displacement ratios (net / gross, microsimulation) a scenario run can attribute to a line kind:
    those of its programmes whose lines are all of one kind (:func:`line_kind`; a mixed programme's
    ratio belongs to the mix). One per kind (the first such programme), with its 95% interval and
    standard error; saved in ``model.json``'s ``meta["displacement"]``."""
    out = {}
    for prog in programmes:
        kinds = [line_kind(line) for line in prog.lines]
        if any(k != kinds[0] for k in kinds):
            continue
        key = tuple(str(kinds[0][k]) for k in KIND_KEYS)
        row = next((r for r in rows if r["programme"] == prog.name and r["method"] == "microsimulation"
                    and r["measure"] == RATIO and r["area"] == "region" and r["line"] is None), None)
        if key in out or row is None or row["estimate"] is None or row["upper"] is None or row["n"] < 2:
            continue
        se = (row["upper"] - row["estimate"]) / t975(row["n"] - 1)
        out[key] = {**kinds[0], "ratio": row["estimate"], "lower": row["lower"], "upper": row["upper"],
                    "se": se, "replications": row["n"], "programme": prog.name}
    return [out[k] for k in sorted(out)]


def ratio_resolved(saved: dict) -> bool:
    """Whether a saved displacement ratio's 95% interval excludes 0 (only then is gross × ratio an estimate
    of net: with 0 inside, the run could not tell whether the programme adds moves to the market at all).

    >>> ratio_resolved({"ratio": 3.5, "lower": -0.4, "upper": 7.4})
    False
    """
    return saved["lower"] is not None and saved["upper"] is not None and (saved["lower"] > 0 or saved["upper"] < 0)


def net_for_lines(model, prog, rows: list[dict], n: int) -> tuple[list[dict], list[str]]:
    """Displacement-adjusted gross rows (``moves_adjusted_per_100_new`` = gross × ratio) for the lines whose
    kind has a displacement ratio in the model that is resolved (:func:`ratio_resolved`; interval by the
    delta method: se² = (ratio·se_gross)² + (gross·se_ratio)²), per programme when every line has one;
    and warnings for the lines that have none or whose ratio's interval includes 0 (their ratio row is
    kept, the adjusted gross withheld)."""
    saved = model.meta.get("displacement")
    if saved is None:
        return [], ["the model carries no displacement ratios (it was not saved by a scenario run with a "
                    "microsimulation): the displacement-adjusted gross is not shown, only gross"]
    ratios = {tuple(str(d.get(k)) for k in KIND_KEYS): d for d in saved}
    gross = {r["line"]: r for r in rows if r["measure"] == GROSS and r["area"] == "region"}
    out, notes, parts = [], [], []
    for i, line in enumerate(prog.lines):
        kind = line_kind(line)
        d = ratios.get(tuple(str(kind[k]) for k in KIND_KEYS))
        if d is None:
            notes.append(f"programme {prog.name!r} line {i + 1}: the model carries no displacement ratio for "
                         f"{kind['tenure']}, {kind['rooms']} rooms, {kind['municipality'] or 'no municipality'}, "
                         f"{'allocated to ' + kind['target_group'] if kind['target_group'] else 'not allocated'}: "
                         "its displacement-adjusted gross is not shown")
            parts.append(None)
            continue
        g = gross[str(i + 1)]
        se_g = (g["upper"] - g["estimate"]) / Z975 if g["upper"] is not None else 0.0
        est = g["estimate"] * d["ratio"]
        se = float(np.hypot(d["ratio"] * se_g, g["estimate"] * d["se"]))
        line_id = str(i + 1)
        out.append(_row(prog.name, NET_METHOD, RATIO, None, d["ratio"], d["lower"], d["upper"], d["replications"],
                        line=line_id))
        if not ratio_resolved(d):  # gross × a ratio that may be 0 or negative is no estimate of net
            notes.append(f"programme {prog.name!r} line {i + 1}: the displacement ratio of its kind is not resolved "
                         f"(its 95% interval includes 0 after {d['replications']} replications): its "
                         "displacement-adjusted gross is not shown")
            parts.append(None)
            continue
        out.append(_row(prog.name, NET_METHOD, ADJUSTED, None, est, est - Z975 * se, est + Z975 * se, n, line=line_id))
        parts.append((line.count, est, se))
    if parts and all(p is not None for p in parts):
        total = sum(c for c, _, _ in parts)
        est = sum(c / total * e for c, e, _ in parts)
        se = float(np.sqrt(sum((c / total * s) ** 2 for c, _, s in parts)))
        out.insert(0, _row(prog.name, NET_METHOD, ADJUSTED, None, est, est - Z975 * se, est + Z975 * se, n))
    return out, notes


def disclosure_warning(model) -> list[str]:
    """A saved model whose small cells were suppressed says how much of its estimation sample is left
    (a fine model of a small register can keep almost nothing, and its figures then mean little). The
    total before suppression is not published (total − kept would be the sum of the withheld counts)."""
    if not model.suppressed_cells:
        return []
    kept = model.vacancy_records()
    return [f"disclosure control withheld {model.suppressed_cells} cells of the model (counts below "
            f"{model.threshold}): it keeps {kept} vacancy records, and its figures rest on those"]


def _first_row(pr, group, pool: float = 1.0):
    return pr.first_rows(group, pool)[0]


def length_distribution(model, pr, start: np.ndarray, group: int | None = None, pool: float = 1.0) -> np.ndarray:
    """Exact distribution of chain length (moves) of a new dwelling with stratum distribution ``start``.

    (:data:`LENGTH_BINS`,): share of chains with 0, 1, ... moves; the last bin holds every longer chain.
    A filled vacancy is a move; the chain goes on when the filler vacated a dwelling (an outcome
    that is a stratum) and ends with the filler's end reason otherwise.
    """
    S = model.n_strata
    move = model.moves_flag()[S:].astype(bool)
    hist = np.zeros(LENGTH_BINS)
    a = np.asarray(start, np.float64) @ _first_row(pr, group, pool)
    hist[0] += a[S:][~move].sum()
    hist[1] += a[S:][move].sum()
    v = a[:S]  # chains with L moves so far whose last mover left a dwelling in each stratum
    for length in range(1, LENGTH_BINS - 1):
        b = v @ pr.P
        hist[length] += b[S:][~move].sum()
        hist[length + 1] += b[S:][move].sum()
        v = b[:S]
    hist[-1] = max(1.0 - hist[:-1].sum(), 0.0)
    return hist


def round_vacancies(model, pr, start: np.ndarray, group: int | None = None, pool: float = 1.0) -> np.ndarray:
    """(ROUNDS, S): expected dwellings vacated by the k-th movers of the chain, by stratum."""
    S = model.n_strata
    out = np.zeros((ROUNDS, S))
    out[0] = (np.asarray(start, np.float64) @ _first_row(pr, group, pool))[:S]
    for k in range(1, ROUNDS):
        out[k] = out[k - 1] @ pr.P[:, :S]
    return out
