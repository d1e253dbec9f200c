"""The absorbing vacancy-transition model (White 1970; Emmi & Magnusson).

A vacancy in stratum *i* (tenure × rooms × municipality × area type by
default) is filled by a household leaving a dwelling in stratum *j* (the chain
goes on), or the chain ends for one of :data:`flyttkedja.schema.END_REASONS`
(absorption). The first vacancy of a new build has its own outcome
distribution (``first``), later vacancies share one (``later``); for every
stratum the model also holds how many of its fillers belong to each target
group, and for first vacancies filled by a member of group *g* their outcomes
and their fillers' whole group profile (allocated dwellings). Estimated with
the register's areas, it also counts, per stratum, how many of the dwellings
movers vacated there lie in below-median-income areas
(:func:`flyttkedja.analysis.groups.area_income_classes`, the tables' rounds
definition), so that Mast's rounds can be evaluated for new programmes.

A programme line's first vacancies share the new households who start a home
in its kind with the kind's own vacancies (the new-household pool,
:func:`pool_factor`: the outcome ``new_household`` times v / (v + n), v the
kind's filled vacancies over the register's window, kept as ``flow``; n the
programme's dwellings of the kind; :func:`pooled_first_rows`).

Sparse strata borrow strength from coarser ones (hierarchical shrinkage):
a stratum's row is ``(n·p̂ + k·p_parent) / (n + k)`` where the parent drops
the last stratum key (area type, then municipality, then rooms, then tenure
by default) and ``k`` is :attr:`TransitionModel.shrinkage` records.

:func:`estimate` counts these outcomes in a :class:`~flyttkedja.core.ChainSet`;
:meth:`TransitionModel.expectations` gives exact expected values from the
fundamental matrix N = (I − Q)⁻¹; :meth:`TransitionModel.simulate` draws
Monte Carlo chains in numba; :meth:`TransitionModel.cross_validate` measures
the model's error by municipality. :meth:`TransitionModel.save` writes only
disclosure-controlled counts (cells below the threshold suppressed), so a
model estimated inside a secure environment can be used anywhere.

Example
-------
>>> model = estimate(chainset)                                   # doctest: +SKIP
>>> w, _ = model.line_weights({"tenure": "rental", "rooms": 2})  # doctest: +SKIP
>>> model.expectations(w)["moves"]                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja import store
from flyttkedja.analysis.disclosure import DEFAULT_THRESHOLD, Rules, primary_suppression
from flyttkedja.analysis.groups import BELOW_MEDIAN, HOUSEHOLD_COLUMNS, TARGET_GROUPS, area_income_classes, \
    household_frame, income_reference, size_band, target_flags
from flyttkedja.io import write_json
from flyttkedja.scenario import _kernels as K
from flyttkedja.schema import END_REASONS

MOVE_REASONS = ("new_household", "in_migrant", "immigrant", "not_vacated")  # the filling move is a link
# ends whose filler came from outside the region: allocated housing is let only to households already in the
# region (the market's rule, docs/synthetic.md "Allocated housing"), so an allocated line's first filler is none
ARRIVAL_ENDS = ("in_migrant", "immigrant")
# coarsest first: a sparse row borrows from the same municipality (any area type) before the region
# (cross-validated by municipality on metro scale 1, 5 years: sigma 8.3% against 8.5%, bias -5.1% against
# -5.6% with area type before municipality; docs/scenarios.md)
DEFAULT_STRATA = ("tenure", "rooms", "municipality", "area_type")
DEFAULT_SHRINKAGE = 20.0  # records: a stratum with 20 records is half its own, half its parent's
FORMAT = "flyttkedja-transition-model/3"  # /3: withheld counts of first and later pooled into coarser cells
FORMATS = ("flyttkedja-transition-model/1", "flyttkedja-transition-model/2", FORMAT)
POOLED_ARRAYS = ("first", "later")  # the outcome counts whose withheld cells are pooled, not dropped
POOL_FIELDS = ("row_level", "row", "col_level", "col", "value")
TOP_ROOMS = 5  # the rooms key: 1..4, "5+"
Z975 = 1.959963984540054


class SparseStratumWarning(UserWarning):
    """A stratum the model needs has fewer observations than ``min_observations``."""


def rooms_label(rooms: pl.Expr) -> pl.Expr:
    """Stratum label of exact rooms: "1".."4", "5+" (0 rooms counts as "1")."""
    r = rooms.cast(pl.Int64).clip(1, TOP_ROOMS)
    return pl.when(r >= TOP_ROOMS).then(pl.lit(f"{TOP_ROOMS}+")).otherwise(r.cast(pl.String))


def stratum_expr(keys, prefix: str = "") -> pl.Expr:
    """Stratum label of a dwelling, e.g. ``"rental|2|mixed|9983"``, from (prefixed) dwelling columns."""
    parts = []
    for key in keys:
        if key == "size_band":
            col = size_band(pl.col(f"{prefix}rooms"))
        elif key == "rooms":
            col = rooms_label(pl.col(f"{prefix}rooms"))
        else:
            col = pl.col(f"{prefix}{key}").cast(pl.String)
        parts.append(col.fill_null("-"))
    return pl.concat_str(parts, separator="|")


def attribute_label(key: str, value) -> str | None:
    """The stratum label a line attribute takes under ``key`` (rooms → "5+" or a size band)."""
    if value is None:
        return None
    if key == "rooms":
        r = min(max(int(value), 1), TOP_ROOMS)
        return f"{TOP_ROOMS}+" if r >= TOP_ROOMS else str(r)
    if key == "size_band":
        r = int(value)
        return "4+" if r >= 4 else str(max(r, 1))
    return str(value)


COUNT_ARRAYS = ("first", "later", "fills", "group_fills", "first_group", "first_cogroup", "vacated_income")
POOL_REASON = "new_household"  # the first vacancy's outcome the new-household pool shares out


def pool_factor(v, n) -> float:
    """The new-household pool's factor ``v / (v + n)`` (the one definition; docs/scenarios.md, "Saturation").

    The new households who start a home in a kind (tenure × rooms × municipality) over the register's window
    are a fixed pool, shared by the kind's ``v`` filled vacancies there (:func:`vacancy_flow`) and a
    programme's ``n`` dwellings of the kind (built over a window as long): the chance that one of the
    programme's first vacancies goes to a new household is the model's times this factor. ``n`` = 0 (or
    no ``v``): 1, the model as estimated.

    >>> pool_factor(1800, 600), pool_factor(1800, 0), pool_factor(None, 600)
    (0.75, 1.0, 1.0)
    """
    if v is None or n <= 0 or v + n <= 0:
        return 1.0
    return float(v) / float(v + n)


def pooled_first_rows(P0: np.ndarray, factor: float, reasons, S: int) -> np.ndarray:
    """First-vacancy rows (S, S+R) with the new-household pool applied: the outcome :data:`POOL_REASON`
    times ``factor``, the row's other outcomes scaled up in proportion so that the row keeps its sum
    (a row with no other outcome is left as it is). ``factor`` = 1 (or a model without new households)
    returns ``P0`` itself. ``explorer/evaluate.js`` (pooledFirstRows) does the same.

    >>> pooled_first_rows(np.array([[0.5, 0.3, 0.2]]), 0.5, ("new_household", "unfilled"), 1).round(4).tolist()
    [[0.6071, 0.15, 0.2429]]
    """
    if factor == 1.0 or POOL_REASON not in reasons:
        return P0
    nh = S + list(reasons).index(POOL_REASON)
    out = np.array(P0, np.float64)
    lost = out[:, nh] * (1.0 - factor)
    rest = out.sum(axis=1) - out[:, nh]
    keep = rest > 0
    scale = np.where(keep, 1.0 + lost / np.where(keep, rest, 1.0), 1.0)
    nh_col = np.where(keep, out[:, nh] * factor, out[:, nh])
    out *= scale[:, None]
    out[:, nh] = nh_col
    return out


@dataclass
class TransitionModel:
    """Outcome counts of vacancies by stratum (see the module docstring).

    ``first`` and ``later`` are (S, S+R) counts: columns 0..S-1 are the
    stratum the filling household left, then one column per end reason.
    ``fills`` (S,) counts filled vacancies and ``group_fills`` (S, G) those
    filled by each target group. ``first_group`` (G, S, S+R): outcomes of
    first vacancies whose filler is in group g; ``first_cogroup`` (G, S, G):
    of those fillers, how many are in each group h (their whole profile: an
    allocated dwelling's first filler is in g, and in h as often as g's
    members are). ``vacated_income`` (S, 2), or None when estimated without
    areas: of the later vacancies in each stratum (each a dwelling a mover
    vacated) that ``later`` keeps, how many lie in a below-median-income area
    (column 0) and how many not (column 1, areas of unknown income included,
    as the tables count them). Its row sums are ``later``'s, so it publishes
    no margin of ``later`` that disclosure control withheld; ``later_below``
    (S, S+R), in memory only: the below-median part of each ``later`` cell.

    A disclosed model (:meth:`disclosed`, or loaded from ``model.json``) also
    holds ``pooled``: per array of :data:`POOLED_ARRAYS`, the withheld counts
    pooled into coarser cells (:func:`_pool`), and ``fine``: that array's
    published fine counts. Its ``first`` and ``later`` are then the fine counts
    with every pooled count spread back over its cells (:func:`_expand`): floats
    that keep the estimation sample's totals.
    """

    keys: tuple[str, ...]
    strata: tuple[str, ...]
    groups: tuple[str, ...]
    first: np.ndarray
    later: np.ndarray
    fills: np.ndarray
    group_fills: np.ndarray
    first_group: np.ndarray
    first_cogroup: np.ndarray | None = None
    threshold: int = DEFAULT_THRESHOLD
    suppressed_cells: int = 0
    meta: dict = field(default_factory=dict)
    records: dict | None = field(default=None, repr=False)  # chain-level, in memory only (bootstrap, CV)
    reasons: tuple[str, ...] = END_REASONS
    shrinkage: float = DEFAULT_SHRINKAGE
    vacated_income: np.ndarray | None = None
    later_below: np.ndarray | None = field(default=None, repr=False)
    pooled: dict | None = field(default=None, repr=False)
    fine: dict | None = field(default=None, repr=False)
    flow: dict | None = None  # (tenure, rooms label, municipality or "*") -> v, the kind's filled vacancies

    def __post_init__(self):
        if self.first_cogroup is None:  # hand-built models: profile unknown, only g itself is certain
            G, S = len(self.groups), len(self.strata)
            self.first_cogroup = np.zeros((G, S, G), np.int64)
            for g in range(G):
                self.first_cogroup[g, :, g] = self.first_group[g].sum(axis=1)

    # ------------------------------------------------------------------ structure
    @property
    def n_strata(self) -> int:
        return len(self.strata)

    def moves_flag(self) -> np.ndarray:
        flag = np.ones(self.n_strata + len(self.reasons), np.int8)
        flag[self.n_strata:] = [r in MOVE_REASONS for r in self.reasons]
        return flag

    def levels(self) -> list[np.ndarray]:
        """Stratum → group index at each level of the hierarchy: [fine (identity), ..., root (all 0)].

        Level ℓ keeps the first ``len(keys) − ℓ`` keys."""
        if "_levels" not in self.__dict__:
            parts = [s.split("|") for s in self.strata]
            out = []
            for lev in range(len(self.keys) + 1):
                labels = ["|".join(p[: len(self.keys) - lev]) for p in parts]
                _, inv = np.unique(np.array(labels, dtype=object), return_inverse=True)
                out.append(inv.astype(np.int64).reshape(-1))
            self.__dict__["_levels"] = out
        return self.__dict__["_levels"]

    def counts(self) -> dict:
        return {k: getattr(self, k) for k in COUNT_ARRAYS}

    # ------------------------------------------------------------------ probabilities
    def probabilities(self, counts: dict | None = None) -> "Probabilities":
        """Row-normalised, shrunk probabilities (unpacks as ``P0, P, F``; see :class:`Probabilities`).

        Rows shrink towards their parent stratum (``shrinkage`` records); at
        the root ``first`` falls back to ``later`` and ``later`` to ending
        ``unfilled`` when nothing was observed.
        """
        return Probabilities(self, self.counts() if counts is None else counts)

    def line_weights(self, attrs: dict) -> tuple[np.ndarray, list[str]]:
        """Distribution over strata of a dwelling with the given attributes, and the keys relaxed.

        Attributes that are stratum keys must match. Where the line leaves its
        area type or municipality open and the model knows the region's areas
        (``meta["placement"]``, :func:`placement_cells`), the distribution is
        the mixture over the areas the programme spec places the line in
        (:func:`flyttkedja.synth.programme.placement`): one component per
        (municipality, area type) with the share of the line's dwellings there.
        Otherwise, among matching strata the weight is the number of observed
        new builds (else of observed vacancies). ``rooms`` gives the ``rooms``
        or ``size_band`` key. If no stratum matches, the last given key is
        dropped (area type first by default; never the first key) until one does; the
        dropped keys are returned (the caller warns).
        """
        cells = self.placement_of(attrs)
        if cells is None:
            return self._matching_weights(attrs)
        w, relaxed = np.zeros(self.n_strata), []
        for muni, area_type, share in cells:
            wc, rc = self._matching_weights({**attrs, "municipality": muni, "area_type": area_type})
            w += share * wc
            relaxed += [k for k in rc if k not in relaxed]
        return w, relaxed

    def placement_of(self, attrs: dict) -> list | None:
        """The (municipality, area type, share) cells of a line that leaves its area open, or None
        (the line names both, or the model has no placement for its municipality)."""
        table = self.meta.get("placement")
        if not table or not {"area_type", "municipality"} & set(self.keys):
            return None
        muni, area_type = attrs.get("municipality"), attrs.get("area_type")
        if muni is not None and area_type is not None:
            return None
        return table["cells"].get(f"{'*' if muni is None else muni}|{'*' if area_type is None else area_type}")

    def _matching_weights(self, attrs: dict) -> tuple[np.ndarray, list[str]]:
        want = {k: attribute_label(k, attrs.get("rooms" if k == "size_band" else k)) for k in self.keys}
        if "_parts" not in self.__dict__:  # (S, keys) labels, like levels(): kept on the instance
            self.__dict__["_parts"] = np.array([s.split("|") for s in self.strata], dtype=object).reshape(
                self.n_strata, len(self.keys))
        parts = self.__dict__["_parts"]
        relaxed: list[str] = []
        given = [k for k in self.keys if want[k] is not None]
        while True:
            match = np.ones(self.n_strata, bool)
            for i, k in enumerate(self.keys):
                if want[k] is not None and k not in relaxed:
                    match &= parts[:, i] == want[k]
            if match.any():
                break
            left = [k for k in given if k not in relaxed and k != self.keys[0]]  # never the first key
            if not left:
                raise ValueError(f"no stratum of the model matches {attrs}; strata are "
                                 f"{', '.join(self.strata[:5])}...")
            relaxed.append(left[-1])
        for basis in (self.first.sum(axis=1), self.later.sum(axis=1) + self.first.sum(axis=1)):
            w = np.where(match, basis, 0).astype(np.float64)
            if w.sum() > 0:
                return w / w.sum(), relaxed
        return match / match.sum(), relaxed

    # ------------------------------------------------------------------ analytic
    def expectations(self, start: np.ndarray, group: int | None = None, probs=None, pool: float = 1.0) -> dict:
        """Exact expected values per new dwelling whose stratum has distribution ``start`` (S,).

        Returns ``moves`` (= expected chain length), ``vacancies`` (S,) in the
        existing stock, ``reach`` (G,) households of each group that move,
        ``ends`` (R,) end-reason probabilities, ``moves_by_stratum`` (S,) and
        ``reach_by_stratum`` (S, G) by stratum of the filled vacancy.
        ``group``: the first filler is allocated to that target group (its
        outcomes and whole group profile are those of first fillers in g). ``pool``: the line's
        new-household pool factor (:func:`pool_factor`; 1: none), applied to its first rows.
        """
        pr = self.probabilities() if probs is None else probs
        P0, F0 = pr.first_rows(group, pool)
        return analytic(start, P0, pr.P, pr.F, self.moves_flag(), F0, pr.N)

    # ------------------------------------------------------------------ a programme
    def evaluate(self, programme, *, min_observations: int = 30) -> dict:
        """The figures the scenario run's ``transition_model`` method gives one programme (its TOML table
        ``{"name": ..., "line": [...]}`` or a :class:`~flyttkedja.scenario.Programme`), as JSON-ready rows
        and warnings; :mod:`flyttkedja.scenario.evaluation` lists them. The explorer computes the same.

        >>> load_model("out/kustvik").evaluate({"name": "a", "line": [{"count": 10, "tenure": "rental",
        ...                                                           "rooms": 2}]})["rows"][0]  # doctest: +SKIP
        """
        from flyttkedja.scenario.evaluation import evaluate

        return evaluate(self, programme, min_observations=min_observations)

    # ------------------------------------------------------------------ Monte Carlo
    def simulate(self, kinds: list[tuple[np.ndarray, int | None, float]], counts: np.ndarray, reps: int, seed: int,
                 max_length: int = 1000, n_hist: int = 21) -> dict:
        """Monte Carlo chains: ``counts[k]`` new dwellings of kind k = (start distribution, group or None,
        new-household pool factor; :func:`flyttkedja.scenario.compare.programme_kinds`).

        Returns the kernel's per-replication arrays (see ``_kernels.simulate_chains``).
        """
        pr = self.probabilities()
        S, G = self.n_strata, len(self.groups)
        start = np.stack([np.cumsum(w) for w, *_ in kinds])
        first = np.empty((len(kinds), S, pr.P.shape[1]))
        fgroup = np.empty((len(kinds), S, G))
        for k, (_, g, pool) in enumerate(kinds):
            p0, f0 = pr.first_rows(g, pool)
            fgroup[k] = f0
            first[k] = np.cumsum(p0, axis=1)
        _finish(start), _finish(first)
        later = np.cumsum(pr.P, axis=1)
        _finish(later)
        kind_of = np.repeat(np.arange(len(kinds)), np.asarray(counts, np.int64)).astype(np.int64)
        out = K.simulate_chains(kind_of, start, first, fgroup, later, np.ascontiguousarray(pr.F), self.moves_flag(),
                                int(reps), np.uint64(seed), int(max_length), int(n_hist))
        return dict(zip(("moves", "vacancies", "reach", "ends", "hist"), out))

    # ------------------------------------------------------------------ bootstrap
    def bootstrap(self, fn, replicates: int, seed: int) -> np.ndarray:
        """``fn(probs)`` over bootstrap replicates of the estimation sample: (replicates, ...) array.

        With the chain records in memory (a freshly estimated model), chains
        are resampled (Poisson(1) weights per chain). A loaded model holds only
        counts; then each row is redrawn multinomially from its own counts
        (parametric bootstrap).
        """
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,)))
        out = []
        for _ in range(replicates):  # a loop over replicates (hundreds), not over chains
            if self.records is None:
                counts = self._parametric(rng)
            else:
                counts = self.recount(rng.poisson(1.0, self.records["n_chains"]).astype(np.float64))
            out.append(fn(self.probabilities(counts)))
        return np.array(out)

    def _parametric(self, rng) -> dict:
        fills = self.fills
        share = np.where(fills[:, None] > 0, self.group_fills / np.maximum(fills, 1)[:, None], 0)
        return {"first": _multinomial_rows(rng, self.first), "later": _multinomial_rows(rng, self.later),
                "fills": fills, "group_fills": rng.binomial(fills[:, None], np.clip(share, 0, 1)),
                "first_group": self.first_group, "first_cogroup": self.first_cogroup,
                "vacated_income": None if self.vacated_income is None else _multinomial_rows(rng, self.vacated_income)}

    def recount(self, chain_weight: np.ndarray) -> dict:
        """Every count array from the chain records, each chain weighted (bootstrap, cross-validation)."""
        if self.records is None:
            raise ValueError("this model holds counts only (loaded or disclosed): no chain records to recount")
        out = _count(self.records, chain_weight, self.n_strata, self.first.shape[1], len(self.groups))
        del out["later_below"]
        if self.vacated_income is None:
            out["vacated_income"] = None
        return out

    # ------------------------------------------------------------------ cross-validation
    def cross_validate(self, min_chains: int = 30) -> dict:
        """Model error by municipality: estimate without the chains of municipality m's new builds,
        predict m's traced new builds (all, by tenure and by tenure × size band), compare.

        Returns aggregates only: ``sigma`` (root mean square relative error of
        the predicted mean chain length, each case's traced sampling variance
        removed), ``bias`` (mean relative error), ``cases``, ``municipalities``
        and ``coverage`` — the share of cases whose traced mean lies in the 95%
        interval ``prediction × (1 ± 1.96·sqrt(sigma_{−m}² + se²))``, with
        ``sigma_{−m}`` estimated without m's own cases and ``se`` the case's
        traced relative standard error. Needs the chain records and a
        ``municipality`` column on the seeds.
        """
        rec = self.records
        if rec is None or rec.get("seed_muni") is None:
            raise ValueError("cross-validation needs a freshly estimated model with seed municipalities")
        muni, kinds = rec["seed_muni"], rec["seed_kind"]
        new = rec["new_build"]
        length = rec["length"].astype(np.float64)
        seed_s = rec["seed_stratum"]
        cases = []  # (municipality, label, predicted, traced, relative se)
        for m in sorted(set(muni[new].tolist())):
            own = new & (muni == m)
            pr = self.probabilities(self.recount((~own).astype(np.float64)))
            for label in sorted(set(kinds[own].tolist())) + ["all"]:
                sel = own if label == "all" else own & (kinds == label)
                n = int(sel.sum())
                if n < min_chains:
                    continue
                start = np.bincount(seed_s[sel], minlength=self.n_strata) / n
                pred = analytic(start, pr.P0, pr.P, pr.F, self.moves_flag(), None, pr.N)["moves"]
                traced = float(length[sel].mean())
                se = float(length[sel].std(ddof=1) / np.sqrt(n) / max(traced, 1e-12))
                cases.append((m, label, pred, traced, se, n))
        if not cases:
            return {"cases": 0}
        muni_c = np.array([c[0] for c in cases], dtype=object)
        rel = np.array([(c[3] - c[2]) / c[2] for c in cases])
        se = np.array([c[4] for c in cases])

        def sigma(mask):
            return float(np.sqrt(max(np.mean(rel[mask] ** 2) - np.mean(se[mask] ** 2), 0.0))) if mask.any() else 0.0

        covered = np.array([abs(rel[i]) <= Z975 * np.sqrt(sigma(muni_c != muni_c[i]) ** 2 + se[i] ** 2)
                            for i in range(len(cases))])
        by_muni = {}
        for m in sorted(set(muni_c.tolist())):
            sel = muni_c == m
            by_muni[str(m)] = {"cases": int(sel.sum()), "mean_relative_error": float(rel[sel].mean())}
        return {"sigma": sigma(np.ones(len(cases), bool)), "bias": float(rel.mean()), "cases": len(cases),
                "municipalities": len(by_muni), "coverage": float(covered.mean()),
                "relative_error_range": [float(rel.min()), float(rel.max())], "min_chains": min_chains,
                "by_municipality": by_muni,
                "definition": "relative error = (traced − predicted) / predicted of the mean chain length of a "
                              "held-out municipality's new builds (all, by tenure, by tenure × size band)"}

    # ------------------------------------------------------------------ save / load
    def disclosed(self) -> "TransitionModel":
        """The model as ``model.json`` publishes it: no count of 1 to ``threshold - 1`` records.

        ``first`` and ``later``: a withheld count is pooled with the other withheld
        counts of its row into the cell of a coarser outcome (the filler left a
        dwelling of the same tenure × rooms × municipality, ..., any stratum), and
        failing that of a coarser row (the row's parent strata), as soon as the pool
        holds at least ``threshold`` records and pins none of its cells
        (:func:`_pool`); the model then reads the pooled counts spread over their
        cells (:func:`_expand`), so it keeps the records instead of losing them.
        Other arrays: withheld counts are set to 0. A stratum's group count is
        also suppressed when its complement (fills not in the group) is that
        small; the stratum's fills are then dropped too, so that the filler
        shares stay consistent. The same rule holds for the first fillers' group
        profile, and for ``first_group`` against ``first`` (a cell's first fillers
        outside g). A margin that would pin a withheld cell down (``fills`` of the
        filled cells of ``first`` and ``later`` not accounted for in the stratum's
        own row; the profile's diagonal of ``first_group``'s row: the withheld
        cells sum to 1 or 2, or lie in fewer than two zero cells) is withheld too;
        the stratum then borrows its filler shares from its parent stratum. No
        chain records. A disclosed model is returned as it is.
        """
        if self.pooled is not None:
            return self
        levels, S, t = self.levels(), self.n_strata, self.threshold
        pools = {name: _pool(getattr(self, name), levels, S, t) for name in POOLED_ARRAYS}
        first, later = pools["first"][0], pools["later"][0]
        # counted in the stratum's own row: published cells, and withheld ones in a pool of that row
        own_first, own_later = (np.where(p[2], getattr(self, n), p[0]) for n, p in pools.items())
        fg = np.where(primary_suppression(self.first_group, t), 0, self.first_group)
        # a cell's first fillers in group g and the cell's other first fillers: both kept, or neither
        fg = np.where(primary_suppression(first[None] - fg, t) | (first[None] == 0), 0, fg)
        # first fillers in g that fg withholds pool like first's counts, their complement checked
        cap = np.where(first > 0, first, t - 1)  # a withheld count in g is at most the cell's (published) count
        group_pools = [_pool(self.first_group[g], levels, S, t, kept=fg[g], cap=cap,
                             other=self.first - self.first_group[g]) for g in range(len(self.groups))]
        own_fg = np.stack([np.where(p[2], self.first_group[g], fg[g]) for g, p in enumerate(group_pools)]) \
            if len(self.groups) else fg
        fills = np.where(primary_suppression(self.fills, t), 0, self.fills)
        gf = self.group_fills
        small = primary_suppression(gf, t) | primary_suppression(self.fills[:, None] - gf, t)
        fills = np.where(small.any(axis=1), 0, fills)
        # fills is the margin of the filled cells of first and later: less what the row publishes, it sums the
        # withheld ones; a stratum whose withheld sum is 1 or 2 (or in one zero cell) publishes no fills, and its
        # filler shares come from its parent stratum (the shrinkage fallback) instead
        filled = self.moves_flag().astype(bool)
        fills = np.where(_narrow_margin(self.fills, np.c_[self.first[:, filled], self.later[:, filled]],
                                        np.c_[own_first[:, filled], own_later[:, filled]]), 0, fills)
        gf = np.where(fills[:, None] == 0, 0, gf)
        cg = self.first_cogroup
        diag = np.stack([cg[g, :, g] for g in range(len(self.groups))])[:, :, None] if len(self.groups) else cg
        small = primary_suppression(cg, t) | primary_suppression(diag - cg, t)
        # the profile's diagonal is the margin of first_group's row: the same rule
        small |= _narrow_margin(diag[..., 0], self.first_group, own_fg)[..., None] if len(self.groups) else small
        cg = np.where(small.any(axis=2, keepdims=True), 0, cg)
        vi = self.vacated_income
        if vi is not None:
            if self.later_below is not None:  # counted over the later cells kept: no withheld margin leaves
                kept_below = np.where(later > 0, self.later_below, 0).sum(axis=1)
                vi = np.stack([kept_below, later.sum(axis=1) - kept_below], axis=1).astype(np.int64)
            # a stratum's below-median count and its complement: both kept, or neither
            vi = np.where(primary_suppression(vi, t).any(axis=1, keepdims=True), 0, vi)
        pairs = [(first, self.first), (later, self.later), (fg, self.first_group), (gf, self.group_fills),
                 (fills, self.fills), (cg, self.first_cogroup)]
        if vi is not None:
            pairs.append((vi, self.vacated_income))
        flow, flow_withheld = _disclosed_flow(self.flow, t)
        suppressed = self.suppressed_cells + int(sum((a != b).sum() for a, b in pairs)) + flow_withheld
        fine = {"first": first, "later": later, "first_group": fg}
        pooled = {name: p[1] for name, p in pools.items()}
        pooled["first_group"] = {k: np.concatenate([np.zeros(0, np.int64)] + [p[1][k] for p in group_pools])
                                 for k in POOL_FIELDS}
        pooled["first_group"]["group"] = np.concatenate([np.zeros(0, np.int64)] + [np.full(len(p[1]["value"]), g)
                                                        for g, p in enumerate(group_pools)]).astype(np.int64)
        ef, el, efg = _expand_all(fine, pooled, levels, S)
        return TransitionModel(self.keys, self.strata, self.groups, ef, el, fills, gf, efg, cg, t,
                               suppressed, _published_meta(self.meta), None, self.reasons, self.shrinkage, vi,
                               pooled=pooled, fine=fine, flow=flow)

    def vacancy_records(self) -> int:
        """Vacancy records the model's ``first`` and ``later`` rest on: all of them estimated; disclosed, the
        published fine counts and pools (whole numbers, whatever the spreading of the pools)."""
        if self.fine is not None:
            return int(sum(int(np.asarray(self.fine[n]).sum()) + int(np.asarray(self.pooled[n]["value"]).sum())
                           for n in POOLED_ARRAYS))  # first_group's pools lie under first's
        return int(np.floor(self.first.sum() + self.later.sum() + 0.5))

    def published(self, name: str) -> np.ndarray | None:
        """Count array ``name`` as ``model.json`` holds it: the fine counts of a disclosed model's pooled
        arrays (without the pooled counts spread over them), else the array itself."""
        if self.fine is not None and name in self.fine:
            return self.fine[name]
        return getattr(self, name)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`disclosed` as JSON: disclosure-controlled counts only (no ids, no microdata).

        Count arrays are stored sparse (``shape``, flat ``index`` and ``value`` of non-zero cells); ``pooled``
        holds, per array of :data:`POOLED_ARRAYS`, the pooled counts (:func:`_pool`: their row level and group,
        column level and group, value)."""
        m = self.disclosed()
        record = {"format": FORMAT, "keys": list(m.keys), "strata": list(m.strata), "groups": list(m.groups),
                  "reasons": list(m.reasons), "threshold": m.threshold, "suppressed_cells": m.suppressed_cells,
                  "shrinkage": m.shrinkage, "meta": _published_meta(m.meta)}
        for name in COUNT_ARRAYS:
            if m.published(name) is None:  # vacated_income of a model estimated without areas
                continue
            a = np.asarray(m.published(name)).astype(np.int64)
            nz = np.flatnonzero(a)
            record[name] = {"shape": list(a.shape), "index": nz.tolist(), "value": a.ravel()[nz].tolist()}
        record["pooled"] = {name: {k: np.asarray(v).astype(np.int64).tolist() for k, v in pools.items()}
                            for name, pools in m.pooled.items()}
        if m.flow is not None:  # the new-household pool's v per kind (aggregates, withheld ones left out)
            kinds = sorted(m.flow)
            record["vacancy_flow"] = {"kind": [list(k) for k in kinds], "value": [int(m.flow[k]) for k in kinds]}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json(record, path)


class Probabilities:
    """Shrunk outcome and filler-group probabilities of one set of counts.

    ``P0`` (S, S+R) first vacancies, ``P`` (S, S+R) later ones, ``F`` (S, G)
    filler-group shares; :meth:`allocated` gives the first-vacancy outcomes
    and first fillers' group profile for a dwelling allocated to group g;
    ``N`` is the fundamental matrix (I − Q)⁻¹, computed once. Unpacks as
    ``P0, P, F``.
    """

    def __init__(self, model: TransitionModel, counts: dict):
        self.model, self.counts = model, counts
        S, k, levels = model.n_strata, model.shrinkage, model.levels()
        unfilled = S + model.reasons.index("unfilled")
        later = np.asarray(counts["later"], np.float64)
        self.P = _close(_shrunk(later, later.sum(axis=1), levels, k, fallback=_unit(later.shape[1], unfilled)), S)
        first = np.asarray(counts["first"], np.float64)
        if first.sum() > 0:
            self.P0 = _shrunk(first, first.sum(axis=1), levels, k)
        else:  # no new-build records at all (e.g. move seeds only)
            self.P0 = self.P
        fills = np.asarray(counts["fills"], np.float64)
        self.F = np.clip(_shrunk(np.asarray(counts["group_fills"], np.float64), fills, levels, k,
                                 fallback=np.zeros(len(model.groups))), 0.0, 1.0)
        vi = counts.get("vacated_income")
        # B (S,): share of the dwellings vacated in each stratum that lie in below-median-income areas
        self.B = None if vi is None or np.asarray(vi).sum() == 0 else np.clip(_shrunk(
            np.asarray(vi, np.float64)[:, :1], np.asarray(vi, np.float64).sum(axis=1), levels, k)[:, 0], 0.0, 1.0)
        self._alloc: dict[int, tuple] = {}
        self._pooled: dict[tuple, np.ndarray] = {}
        self._N = None

    def __iter__(self):
        return iter((self.P0, self.P, self.F))

    @property
    def N(self) -> np.ndarray:
        if self._N is None:
            S = self.P.shape[0]
            self._N = np.linalg.inv(np.eye(S) - self.P[:, :S])
        return self._N

    def first_rows(self, group: int | None = None, pool: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(P0, F0) of a line: its first rows (unallocated, or :meth:`allocated` to ``group``) with the
        new-household pool factor ``pool`` applied (:func:`pooled_first_rows`; 1: as estimated), and its
        first fillers' group profile (the stratum's: the pool changes how often a new household fills the
        first vacancy, not the profile of the fillers)."""
        P0, F0 = (self.P0, self.F) if group is None else self.allocated(group)
        if pool == 1.0:
            return P0, F0
        key = (group, float(pool))
        if key not in self._pooled:
            self._pooled[key] = pooled_first_rows(P0, pool, self.model.reasons, self.model.n_strata)
        return self._pooled[key], F0

    def allocated(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """(P0_g, F0_g): outcomes of first vacancies whose filler is in g and already lived in the
        region (:func:`allocated_first_counts`), and the first filler's share in every group h (column
        g is exactly 1; of all g's first fillers), shrunk like the other rows; with no such record at
        all, the unallocated first rows without arrivals and the fillers' shares with column g set to 1."""
        if g not in self._alloc:
            fg = np.asarray(self.counts["first_group"][g], np.float64)
            cg = np.asarray(self.counts["first_cogroup"][g], np.float64)
            levels, k = self.model.levels(), self.model.shrinkage
            first = allocated_first_counts(fg if fg.sum() > 0 else self.counts["first"], self.model.reasons)
            P0 = _shrunk(first, first.sum(axis=1), levels, k) if first.sum() > 0 else self.P0
            if fg.sum() > 0:
                F0 = np.clip(_shrunk(cg, cg[:, g], levels, k), 0.0, 1.0)
            else:
                F0 = self.F.copy()
            F0 = F0.copy()
            F0[:, g] = 1.0
            self._alloc[g] = (P0, F0)
        return self._alloc[g]


def allocated_first_counts(first: np.ndarray, reasons) -> np.ndarray:
    """First-vacancy outcome counts (S, S+R) as an allocated line's first rows use them: without the
    vacancies filled by an arrival (ends ``in_migrant``, ``immigrant``; :data:`ARRIVAL_ENDS`).

    The market lets allocated housing only to households already in the region (docs/synthetic.md,
    "Allocated housing"), so of the register's first fillers in the group only those who lived in the
    region say who takes an allocated dwelling first.

    >>> allocated_first_counts(np.array([[3, 1, 2, 4]]), ("in_migrant", "immigrant", "unfilled"))
    array([[3., 0., 0., 4.]])
    """
    out = np.array(first, np.float64)
    S = out.shape[1] - len(reasons)
    out[:, [S + list(reasons).index(r) for r in ARRIVAL_ENDS if r in reasons]] = 0.0
    return out


def _pool(raw: np.ndarray, levels: list[np.ndarray], S: int, threshold: int, width: int = Rules().width, *,
          kept: np.ndarray | None = None, cap: np.ndarray | None = None, other: np.ndarray | None = None):
    """Pool the withheld counts of an (S, S+R) outcome array into coarser cells (local recoding).

    A count of 1 to ``threshold − 1`` records is withheld (written as 0). The
    withheld counts of a row whose outcome is a stratum are pooled by the
    outcome's parent strata, level by level (``levels``, :meth:`TransitionModel.levels`:
    same tenure × rooms × municipality, ..., any stratum); what no pool of the row
    can publish is pooled over the row's parent strata (any outcome stratum), and
    an end reason's withheld counts over the row's parent strata straight away. A
    pool is published when it holds at least ``threshold`` records and pins none
    of its cells: an attacker sees its value V over its ``n`` cells written as 0
    (outside the pools published before it), each of 0 to ``threshold − 1`` records
    to him, so a cell is at least ``V − (n − 1)(threshold − 1)``; V ≤
    n(threshold − 1) − ``width`` keeps every cell's interval ``width`` wide. A pool
    never overlaps a published one.

    ``first_group``'s counts of group g (:meth:`TransitionModel.disclosed`) pass
    ``kept`` (its published cells: every other count is withheld and pools),
    ``cap`` (what an attacker knows a cell written as 0 holds at most: the cell's
    count in ``first`` where that is published, else ``threshold − 1``) and
    ``other`` (the cells' first fillers outside g). A pool is then published when
    V ≥ ``threshold`` and V ≤ Σ cap − ``width``, its cells but the largest can
    hold ``width`` (so no cell's interval is narrower), and the same cells'
    ``other`` obeys the same bounds (the complement rule).

    Returns ``(kept, pools, own)``: the published fine counts (S, S+R), the
    published pools (arrays of :data:`POOL_FIELDS`: row level and group — the
    group index of ``levels[row_level]``; column level and group — level 0 a fine
    column, level b ≥ 1 a group of ``levels[b]`` among the stratum columns; value),
    and (S, S+R) bool, the withheld cells in a pool of their own row.

    >>> lv = [np.arange(4), np.array([0, 0, 1, 1]), np.zeros(4, np.int64)]
    >>> raw = np.zeros((4, 5), np.int64); raw[0, :4] = [9, 3, 2, 4]
    >>> kept, pools, own = _pool(raw, lv, 4, 5)
    >>> kept[0].tolist(), pools["col_level"].tolist(), pools["value"].tolist()  # 2 + 4 in two cells would pin them
    ([9, 0, 0, 0, 0], [2], [9])
    """
    raw = np.asarray(raw, np.int64)
    n_rows, W = raw.shape
    withheld = primary_suppression(raw, threshold) if kept is None else (raw > 0) & (kept == 0)
    kept = np.where(withheld, 0, raw) if kept is None else kept
    cap = np.full(raw.shape, threshold - 1, np.int64) if cap is None else np.asarray(cap, np.int64)
    alive = withheld.copy()  # withheld counts not yet in a published pool
    covered = np.zeros_like(withheld)  # cells inside a published pool
    own = np.zeros_like(withheld)
    out = {k: [] for k in POOL_FIELDS}
    top = len(levels) - 1
    rows = np.arange(n_rows)[:, None]
    cols = np.arange(W)[None, :]
    n_groups = [int(lv.max()) + 1 if len(lv) else 1 for lv in levels]
    stratum_col, reason_col = np.s_[:, :S], np.s_[:, S:]
    R = W - S
    stages = [(0, b) for b in range(1, top + 1)] + [(a, top) for a in range(1, top + 1)]
    for a, b in stages:  # outcomes that are strata: the column's parents, then the row's
        key = rows * n_groups[b] + levels[b][None, :S] if a == 0 else np.broadcast_to(levels[a][:, None], (n_rows, S))
        got = _publish_pools(raw[stratum_col], alive[stratum_col], (kept[stratum_col] == 0) & ~covered[stratum_col],
                             key, threshold, width, cap[stratum_col], None if other is None else other[stratum_col])
        for k, v in zip(*got[:2]):
            out["row_level"].append(a), out["value"].append(v)
            if a == 0:
                out["row"].append(k // n_groups[b]), out["col_level"].append(b), out["col"].append(k % n_groups[b])
            else:
                out["row"].append(k), out["col_level"].append(top), out["col"].append(0)
        mask = np.zeros_like(withheld)
        mask[stratum_col] = got[2]
        alive &= ~mask
        covered |= mask
        if a == 0:
            own |= mask & withheld
    for a in range(1, top + 1):  # end reasons: the row's parents
        key = levels[a][:, None] * R + (cols[:, S:] - S)
        got = _publish_pools(raw[reason_col], alive[reason_col], (kept[reason_col] == 0) & ~covered[reason_col],
                             key, threshold, width, cap[reason_col], None if other is None else other[reason_col])
        for k, v in zip(*got[:2]):
            out["row_level"].append(a), out["row"].append(k // R), out["col_level"].append(0)
            out["col"].append(S + k % R), out["value"].append(v)
        mask = np.zeros_like(withheld)
        mask[reason_col] = got[2]
        alive &= ~mask
        covered |= mask
    return kept, {k: np.asarray(v, np.int64) for k, v in out.items()}, own


def _publish_pools(raw, alive, free, key, threshold: int, width: int, cap, other=None):
    """The pools (``key`` groups of cells) that :func:`_pool` publishes at one stage: (keys, values, and
    the cells they cover: every cell written as 0 in them, so that no later pool counts it again).

    ``alive``: withheld counts not yet pooled; ``free``: cells an attacker sees as 0 outside every
    published pool (each 0 to ``cap`` records to him); ``other``: counts whose sum over a pool's
    cells must obey the same bounds (a complement)."""
    key = np.asarray(key).ravel()
    a, f = alive.ravel(), free.ravel()
    if not a.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(alive.shape, bool)
    n_keys = int(key.max()) + 1
    value = np.bincount(key[a], raw.ravel()[a], n_keys).astype(np.int64)
    c = np.asarray(cap).ravel()
    room = np.bincount(key[f], c[f], n_keys)
    largest = np.zeros(n_keys)
    if f.any():  # the largest cap of each pool's cells (by sorted keys: ufunc.at is slow)
        kf = key[f]
        order = np.argsort(kf, kind="stable")
        starts = np.flatnonzero(np.r_[True, kf[order][1:] != kf[order][:-1]])
        largest[kf[order][starts]] = np.maximum.reduceat(c[f][order], starts)
    ok = (value >= threshold) & (value <= room - width) & (room - largest >= width)
    if other is not None:
        rest = np.bincount(key[f], np.asarray(other).ravel()[f], n_keys)
        ok &= (rest >= threshold) & (rest <= room - width)
    cells = (f & ok[key]).reshape(alive.shape)  # the pool's cells: its withheld counts and its zeros
    keys = np.flatnonzero(ok)
    return keys, value[keys], cells


def _expand_all(fine: dict, pooled: dict, levels: list[np.ndarray], S: int) -> tuple[np.ndarray, ...]:
    """``first``, ``later`` and ``first_group`` (each group's pools on its own) with their pooled counts
    spread over their cells (:func:`_expand`); the weight of a stratum is its published fine records
    (first and later)."""
    weight = (np.asarray(fine["first"]).sum(axis=1) + np.asarray(fine["later"]).sum(axis=1)).astype(np.float64)
    first, later = (_expand(fine[name], pooled.get(name), levels, S, weight) for name in ("first", "later"))
    fg = np.asarray(fine["first_group"], np.float64).copy()
    pools = pooled.get("first_group")
    for g in range(fg.shape[0]):
        sel = None if pools is None else np.asarray(pools["group"]) == g
        if sel is not None and sel.any():
            fg[g] = _expand(fg[g], {k: np.asarray(pools[k])[sel] for k in POOL_FIELDS}, levels, S, weight)
    return first, later, fg


def _expand(fine: np.ndarray, pools: dict | None, levels: list[np.ndarray], S: int, weight: np.ndarray) -> np.ndarray:
    """Float counts: the fine counts plus every pool of :func:`_pool` spread over the cells it can hold.

    Pools are read in the order they were formed; a pool's cells are those of its row and column
    groups written as 0 and in no earlier pool (as :func:`_pool` formed it). A pool goes to them in
    proportion to ``weight`` (S,) of the row's stratum times the column's share in the published
    fine counts of the row group's parent (the next coarser level whose counts hold any of the
    pool's columns; else ``weight`` of the column's stratum), and evenly where all of that is 0.
    ``explorer/evaluate.js`` (expandPools) does the same in the same order.
    """
    fine = np.asarray(fine, np.float64)
    out = fine.copy()
    if pools is None or not len(pools["value"]):
        return out
    n_groups = [int(lv.max()) + 1 for lv in levels]
    profile = []  # per level: the published fine counts of the stratum columns summed over the level's groups
    for lv, n in zip(levels, n_groups):
        order = np.argsort(lv, kind="stable")
        starts = np.flatnonzero(np.r_[True, lv[order][1:] != lv[order][:-1]])
        agg = np.zeros((n, S))
        agg[lv[order][starts]] = np.add.reduceat(fine[order, :S], starts, axis=0)  # whole numbers: exact
        profile.append(agg)
    members = [{g: np.flatnonzero(lv == g) for g in range(n)} for lv, n in zip(levels, n_groups)]
    covered = np.zeros(fine.shape, bool)
    for a, r, b, c, v in zip(*(pools[k].tolist() for k in POOL_FIELDS)):
        ri = members[a][r]
        ci = np.array([c]) if b == 0 else members[b][c]
        cw = weight[ci] if b > 0 else np.ones(1)
        for lev in range(a + 1, len(levels)) if b > 0 else ():
            shares = profile[lev][levels[lev][ri[0]], ci]
            if shares.sum() > 0:
                cw = shares
                break
        block = np.ix_(ri, ci)
        free = (fine[block] == 0) & ~covered[block]
        w = weight[ri][:, None] * cw[None, :] * free
        total = w.sum()
        if total <= 0:  # nothing weighs: evenly over the pool's cells
            w, total = free.astype(np.float64), float(free.sum())
        out[block] += v * (w / total)
        covered[block] |= free
    return out


def _narrow_margin(margin: np.ndarray, raw: np.ndarray, kept: np.ndarray, width: int = Rules().width) -> np.ndarray:
    """Margins (over the last axis of ``raw``) that would pin a withheld cell down: the withheld cells
    (``raw`` − ``kept``) sum to 1 … ``width`` − 1, or lie in fewer than two zero cells of ``kept``
    (a withheld cell is written as 0, like a true zero: an attacker knows only that the zeros share the sum).

    >>> _narrow_margin(np.array([9, 9]), np.array([[7, 2, 0], [5, 4, 0]]), np.array([[7, 0, 0], [5, 0, 0]])).tolist()
    [True, False]
    """
    withheld = (raw - kept).sum(axis=-1)
    zeros = (kept == 0).sum(axis=-1)
    return (margin > 0) & (withheld > 0) & ((withheld < width) | (zeros < 2))


def _disclosed_flow(flow: dict | None, threshold: int) -> tuple[dict | None, int]:
    """:func:`vacancy_flow` as ``model.json`` publishes it, and how many kinds it withholds: a municipality's
    count below ``threshold`` is withheld, and so is the region's (``"*"``) of a tenure × rooms with any
    municipality withheld (the region less the published municipalities would give it away). A withheld
    kind is left out, like a kind never seen: its lines get no pool."""
    if flow is None:
        return None, 0
    small = {k for k, v in flow.items() if k[2] != "*" and v < threshold}
    out = {}
    for k, v in flow.items():
        if k in small or v < threshold:
            continue
        if k[2] == "*" and any(s[:2] == k[:2] for s in small):
            continue
        out[k] = int(v)
    return out, len(flow) - len(out)


def _published_meta(meta: dict) -> dict:
    """The model's metadata without the chain and record totals (not published, docs/scenarios.md)."""
    return {k: v for k, v in meta.items() if k not in ("chains", "records")}


def load_model(path: str | os.PathLike) -> TransitionModel:
    """Read a model written by :meth:`TransitionModel.save` (this format or the previous dense one).

    ``path``: the model's JSON file, or a directory holding it as ``model.json`` (a scenario output)."""
    path = Path(path)
    if path.is_dir():
        path = store.scenario_file(path, "model")
        if not path.exists():
            raise FileNotFoundError(f"{path.parent}: no {path.name} (not a scenario output or a saved model)")
    record = json.loads(path.read_text())
    if record.get("format") not in FORMATS:
        raise ValueError(f"{path}: not a flyttkedja transition model (format {record.get('format')!r})")
    S, G, W = len(record["strata"]), len(record["groups"]), len(record["strata"]) + len(record["reasons"])
    shapes = {"first": (S, W), "later": (S, W), "fills": (S,), "group_fills": (S, G), "first_group": (G, S, W),
              "first_cogroup": (G, S, G), "vacated_income": (S, 2)}

    def arr(name):
        raw = record.get(name)
        if raw is None:
            return None
        if isinstance(raw, dict):
            out = np.zeros(int(np.prod(raw["shape"])), np.int64)
            out[np.asarray(raw["index"], np.int64)] = raw["value"]
            return out.reshape(raw["shape"])
        return np.asarray(raw, np.int64).reshape(shapes[name])

    model = TransitionModel(
        keys=tuple(record["keys"]), strata=tuple(record["strata"]), groups=tuple(record["groups"]),
        first=arr("first"), later=arr("later"), fills=arr("fills"), group_fills=arr("group_fills"),
        first_group=arr("first_group"), first_cogroup=arr("first_cogroup"),
        threshold=record["threshold"], suppressed_cells=record["suppressed_cells"], meta=record.get("meta", {}),
        reasons=tuple(record["reasons"]), shrinkage=float(record.get("shrinkage", 0.0)),
        vacated_income=arr("vacated_income"))
    flow = record.get("vacancy_flow")  # absent in a model saved before the new-household pool: no pool
    model.flow = None if flow is None else {tuple(str(x) for x in k): int(v) for k, v in zip(flow["kind"], flow["value"])}
    raw_pools = record.get("pooled") or {}  # format /3; earlier formats dropped the withheld counts
    fields = {**{name: POOL_FIELDS for name in POOLED_ARRAYS}, "first_group": (*POOL_FIELDS, "group")}
    model.pooled = {name: {k: np.asarray(raw_pools.get(name, {}).get(k, []), np.int64) for k in f}
                    for name, f in fields.items()}
    model.fine = {name: getattr(model, name) for name in fields}
    model.first, model.later, model.first_group = _expand_all(model.fine, model.pooled, model.levels(),
                                                              model.n_strata)
    return model


# ---------------------------------------------------------------------- analytic core
def analytic(start, P0, P, F, moves_flag, F0=None, N=None) -> dict:
    """Expected moves, vacancies (S,), reach (G,), ends (R,) per chain from the fundamental matrix.

    ``F0`` (S, G): group shares of first fillers (default ``F``); ``N``: (I − Q)⁻¹ if already known.
    """
    S = P.shape[0]
    start = np.asarray(start, np.float64)
    if N is None:
        N = np.linalg.inv(np.eye(S) - P[:, :S])
    F0 = F if F0 is None else F0
    first = start @ P0  # outcome distribution of the first vacancy
    visits = first[:S] @ N  # expected later vacancies in each stratum
    filled_first = start * (P0 @ moves_flag)  # by stratum of the new build
    filled = visits * (P @ moves_flag)
    by_stratum = filled_first[:, None] * F0 + filled[:, None] * F
    return {
        "moves": float(filled_first.sum() + filled.sum()),
        "vacancies": visits,
        "reach": by_stratum.sum(axis=0),
        "ends": first[S:] + visits @ P[:, S:],
        "moves_by_stratum": filled_first + filled,
        "reach_by_stratum": by_stratum,
    }


def _unit(n: int, i: int) -> np.ndarray:
    out = np.zeros(n)
    out[i] = 1.0
    return out


def _shrunk(num: np.ndarray, den: np.ndarray, levels: list[np.ndarray], k: float,
            fallback: np.ndarray | None = None) -> np.ndarray:
    """Rows ``num / den`` shrunk towards their parents: p_ℓ = (num_ℓ + k·p_{ℓ+1}) / (den_ℓ + k).

    ``levels[ℓ]`` maps each fine row to its group at level ℓ (0 = itself,
    last = the root). A group without records takes its parent's row; the
    root takes ``fallback`` (default: zeros) when it has none.
    """
    X = num.shape[1]
    p = None
    for lev_i in range(len(levels) - 1, -1, -1):
        lev = levels[lev_i]
        n_groups = int(lev.max()) + 1 if len(lev) else 0
        agg = np.zeros((n_groups, X))
        np.add.at(agg, lev, num)
        n = np.bincount(lev, den, n_groups)
        if p is None:  # root
            base = np.zeros(X) if fallback is None else fallback
            p = np.where(n[:, None] > 0, agg / np.maximum(n, 1e-300)[:, None], base[None, :])
            continue
        parent_of = np.zeros(n_groups, np.int64)
        parent_of[lev] = levels[lev_i + 1]
        parent = p[parent_of]
        p = np.where(n[:, None] > 0, (agg + k * parent) / np.maximum(n + k, 1e-300)[:, None], parent)
    return p[levels[0]]


def _close(P: np.ndarray, S: int) -> np.ndarray:
    """Give strata from which no chain can end (possible after suppression) the pooled end distribution.

    Such strata form a closed class and make I − Q singular; their rows are
    mixed with the average end distribution of the other rows in proportion
    to the average end probability. Other rows are left exactly as estimated.
    """
    ends_here = P[:, S:].sum(axis=1) > 0
    reach = ends_here.copy()
    for _ in range(S):  # strata that can reach an end, by backward search (S iterations at most)
        more = reach | (P[:, :S][:, reach] > 0).any(axis=1)
        if (more == reach).all():
            break
        reach = more
    closed = ~reach & ~ends_here
    if not closed.any() or (~closed).sum() == 0:
        return P
    pooled = P[~closed, S:].mean(axis=0)
    a = pooled.sum()
    P = P.copy()
    P[closed, :S] *= 1 - a
    P[closed, S:] = pooled
    return P


def _finish(cum: np.ndarray) -> None:
    """Make cumulative rows end at exactly 1 (rounding; all-zero rows end in their last column)."""
    cum[..., -1] = 1.0


def _multinomial_rows(rng, counts: np.ndarray) -> np.ndarray:
    n = counts.sum(axis=-1)
    p = counts / np.maximum(n, 1)[..., None]
    return np.array([rng.multinomial(int(k), row) if k > 0 else np.zeros_like(row) for k, row in
                     zip(n.ravel(), p.reshape(-1, counts.shape[-1]))]).reshape(counts.shape)


def _count(rec: dict, chain_weight: np.ndarray | None, S: int, W: int, G: int) -> dict:
    """Count arrays of the model from vacancy records, each record weighted by its chain's weight."""
    w = np.ones(len(rec["chain"])) if chain_weight is None else np.asarray(chain_weight, np.float64)[rec["chain"]]
    cell = rec["stratum"] * W + rec["outcome"]
    s0 = rec["stage"] == 0
    filled = rec["filled"]
    first = np.bincount(cell[s0], w[s0], S * W).reshape(S, W)
    later = np.bincount(cell[~s0], w[~s0], S * W).reshape(S, W)
    fills = np.bincount(rec["stratum"][filled], w[filled], S)
    flags = rec["group"]
    gf = np.stack([np.bincount(rec["stratum"][filled], w[filled] * flags[filled, g], S) for g in range(G)],
                  axis=1) if G else np.zeros((S, 0))
    first_filled = s0 & filled
    fg = np.zeros((G, S, W))
    cg = np.zeros((G, S, G))
    for g in range(G):  # first vacancies filled by a member of g: their outcomes and the filler's profile
        sel = first_filled & (flags[:, g] == 1)
        fg[g] = np.bincount(cell[sel], w[sel], S * W).reshape(S, W)
        for h in range(G):
            cg[g, :, h] = np.bincount(rec["stratum"][sel], w[sel] * flags[sel, h], S)
    sel = ~s0 & (rec["below_median"] if "below_median" in rec else np.zeros(len(s0), bool))
    later_below = np.bincount(cell[sel], w[sel], S * W).reshape(S, W)
    vi = np.stack([later_below.sum(axis=1), later.sum(axis=1) - later_below.sum(axis=1)], axis=1)
    if chain_weight is None:
        first, later, fills, gf, fg, cg, vi, later_below = (a.astype(np.int64) for a in
                                                            (first, later, fills, gf, fg, cg, vi, later_below))
    return {"first": first, "later": later, "fills": fills, "group_fills": gf, "first_group": fg,
            "first_cogroup": cg, "vacated_income": vi, "later_below": later_below}


def placement_cells(dwellings) -> dict | None:
    """Where the programme spec puts a line that leaves its area open, as (municipality, area type) shares.

    ``dwellings``: the register's dwellings (``area_id``, ``area_type``,
    ``municipality``); its areas are the region's. For every municipality (and
    ``*``, anywhere) with the area type open, and every area type with the
    municipality open, the shares come from the one placement rule,
    :func:`flyttkedja.synth.programme.placement`. Keys ``"{municipality}|{area_type}"``
    with ``*`` for open; cells sorted. Kept in ``meta["placement"]`` (area counts
    of the region's geography only: no household enters). None without those columns.

    >>> placement_cells(dwellings)["cells"]["9983|*"][:1]   # doctest: +SKIP
    [['9983', 'good', 0.25]]
    """
    from flyttkedja.synth.programme import ProgrammeLine, placement

    cols = {"area_id", "area_type", "municipality"}
    if not cols <= set(dwellings.column_names if hasattr(dwellings, "column_names") else dwellings.columns):
        return None
    areas = (pl.from_arrow(dwellings.select(sorted(cols))) if hasattr(dwellings, "column_names")
             else dwellings.select(sorted(cols)))
    areas = areas.drop_nulls().unique(subset=["area_id"], keep="first").sort("area_id")
    if areas.height == 0:
        return None
    atype = areas["area_type"].cast(pl.String).to_numpy().astype(object)
    muni = areas["municipality"].cast(pl.String).to_numpy().astype(object)
    specs = [(None, None), *((m, None) for m in sorted(set(muni))), *((None, a) for a in sorted(set(atype)))]
    cells = {}
    for m, a in specs:
        share = placement(ProgrammeLine(count=1, tenure="rental", rooms=1, municipality=m, area_type=a),
                          atype, muni, areas["area_id"].to_numpy())
        agg: dict[tuple[str, str], float] = {}
        for i in np.flatnonzero(share):
            agg[(muni[i], atype[i])] = agg.get((muni[i], atype[i]), 0.0) + float(share[i])
        cells[f"{m or '*'}|{a or '*'}"] = [[k[0], k[1], v] for k, v in sorted(agg.items())]
    return {"rule": "flyttkedja.synth.programme.placement: a line's dwellings go evenly to the areas that "
                    "match it", "areas": int(areas.height), "cells": cells}


# ---------------------------------------------------------------------- estimation
def estimate(cs, keys=DEFAULT_STRATA, groups=None, *, threshold: int = DEFAULT_THRESHOLD,
             min_observations: int = 30, shrinkage: float = DEFAULT_SHRINKAGE, areas=None) -> TransitionModel:
    """Count vacancy outcomes by stratum in a traced ChainSet (new-build and/or move seeds).

    Each link is a filled vacancy (the stratum of ``to_dwelling``) with the
    outcome: the stratum of ``from_dwelling`` when it vacated one, else the
    chain's end reason; a chain whose last vacancy was not filled adds that
    vacancy with its end reason. Vacancies at a new build's completion count
    in ``first``, all others in ``later``. Target groups are those of
    :mod:`flyttkedja.analysis.groups` (income reference: per calendar year).
    Warns (:class:`SparseStratumWarning`) for strata of observed new builds
    with fewer than ``min_observations`` records. ``areas`` (the register's
    areas table, optional): also count, per stratum, the vacated dwellings in
    below-median-income areas (``vacated_income``).
    """
    groups = dict(TARGET_GROUPS if groups is None else groups)
    keys = tuple(keys)
    dw_cols = sorted({"rooms" if k in ("size_band", "rooms") else k for k in keys} | ({"area_id"} if areas is not None
                                                                                     else set()))
    chains = cs.chains.with_columns(stratum=stratum_expr(keys))
    links = cs.link_attributes(list(HOUSEHOLD_COLUMNS), dw_cols)
    links = links.with_columns(to_stratum=stratum_expr(keys, "to_"), from_stratum=stratum_expr(keys, "from_"))
    ref = income_reference(cs.moves)
    flags = target_flags(household_frame(links, ref), groups).to_numpy().astype(np.int8)
    labels = sorted(set(chains["stratum"].to_list()) | set(links["to_stratum"].to_list())
                    | set(links.filter(pl.col("from_dwelling").is_not_null())["from_stratum"].to_list()))
    index = {s: i for i, s in enumerate(labels)}
    S, R = len(labels), len(END_REASONS)
    reason_code = {r: S + i for i, r in enumerate(END_REASONS)}

    chain_reason = chains["end_reason"].to_numpy()
    new_build = (chains["seed_kind"] == "new_build").to_numpy()
    lk_chain = links["chain_id"].to_numpy()
    last = np.r_[lk_chain[1:] != lk_chain[:-1], True] if len(lk_chain) else np.zeros(0, bool)
    vacated = links["from_dwelling"].is_not_null().to_numpy()
    to_s = _codes(links["to_stratum"], index)
    from_s = _codes(links["from_stratum"], index, missing=-1)
    out_link = np.where(vacated, from_s, _codes(pl.Series(chain_reason[lk_chain]), reason_code)
                        if len(lk_chain) else np.zeros(0, np.int64))
    stage_link = np.where((links["step"].to_numpy() == 1) & new_build[lk_chain], 0, 1)
    # chains whose last vacancy stayed empty (or was cut): one record without a move
    open_end = ~np.isin(chain_reason, MOVE_REASONS)
    length = chains["length"].to_numpy()
    seed_s = _codes(chains["stratum"], index)
    last_from = np.full(len(length), -1, np.int64)
    last_from[lk_chain[last]] = from_s[last]
    end_s = np.where(length == 0, seed_s, last_from)[open_end]
    end_out = _codes(pl.Series(chain_reason[open_end]), reason_code)
    end_stage = np.where((length == 0) & new_build, 0, 1)[open_end]
    keep = end_s >= 0
    if areas is not None:  # the tables' definition: below median = the bottom quintile and the lower middle
        from flyttkedja.io import to_arrow

        classes = area_income_classes(to_arrow(areas, "areas"), cs.dwellings)
        below_ids = classes.filter(pl.col("income_class").is_in(list(BELOW_MEDIAN)))["area_id"].to_numpy()
        to_below = np.isin(links["to_area_id"].fill_null(-1).to_numpy(), below_ids)
        from_below = np.isin(links["from_area_id"].fill_null(-1).to_numpy(), below_ids)
        last_below = np.zeros(len(length), bool)
        last_below[lk_chain[last]] = from_below[last]
        below = np.r_[to_below, last_below[open_end][keep]]
    else:
        below = None

    rec = {
        "chain": np.r_[lk_chain, np.flatnonzero(open_end)[keep]].astype(np.int64),
        "stratum": np.r_[to_s, end_s[keep]], "outcome": np.r_[out_link, end_out[keep]],
        "stage": np.r_[stage_link, end_stage[keep]], "filled": np.r_[np.ones(len(to_s), bool), np.zeros(keep.sum(), bool)],
        "group": np.r_[flags, np.zeros((keep.sum(), len(groups)), np.int8)], "n_chains": len(length),
        **({} if below is None else {"below_median": below}),
        # per chain, for cross-validation by municipality
        "new_build": new_build, "length": length, "seed_stratum": seed_s,
        "seed_muni": chains["municipality"].cast(pl.String).fill_null("-").to_numpy()
        if "municipality" in chains.columns else None,
        "seed_kind": chains.select(pl.concat_str([pl.col("tenure").cast(pl.String).fill_null("-"),
                                                  size_band(pl.col("rooms"))], separator=" "))
        .to_series().to_numpy()
        if {"tenure", "rooms"} <= set(chains.columns) else np.full(len(length), "all", dtype=object),
    }
    W = S + R
    c = _count(rec, None, S, W, len(groups))
    model = TransitionModel(keys, tuple(labels), tuple(groups), c["first"], c["later"], c["fills"],
                            c["group_fills"], c["first_group"], c["first_cogroup"], threshold,
                            meta={"chains": int(len(length)), "records": int(len(rec["chain"])),
                                  "params": {k: v for k, v in cs.params.items() if k != "register_dir"}},
                            records=rec, shrinkage=float(shrinkage),
                            vacated_income=None if below is None else c["vacated_income"],
                            later_below=None if below is None else c["later_below"])
    first = c["first"]
    sparse = [labels[i] for i in np.flatnonzero((first.sum(axis=1) > 0) & (first.sum(axis=1) + c["later"].sum(axis=1)
                                                                         < min_observations))]
    model.meta["sparse_strata"] = sparse
    placement = placement_cells(cs.dwellings)
    if placement is not None:
        model.meta["placement"] = placement
    model.flow = vacancy_flow(cs)
    if sparse:
        warnings.warn(f"{len(sparse)} new-build strata have fewer than {min_observations} observations "
                      f"(their rows shrink towards coarser strata): "
                      f"{', '.join(sparse[:5])}{' ...' if len(sparse) > 5 else ''}", SparseStratumWarning, stacklevel=2)
    return model


def vacancy_flow(cs) -> dict[tuple[str, str, str], int]:
    """v of the new-household pool (:func:`pool_factor`): per kind (tenure, rooms label "1".."5+",
    municipality; ``"*"`` the region), the moves that filled a vacant dwelling of the kind over the register's
    window — :func:`flyttkedja.scenario.compare.supply_by_kind`'s second count, kept in the model
    (``flow``; ``model.json``'s ``vacancy_flow``, disclosure-controlled by :func:`_disclosed_flow`)."""
    from flyttkedja.scenario.compare import supply_by_kind

    return {k: int(fills) for k, (_, fills) in supply_by_kind(cs).items() if fills > 0}


def _codes(series: pl.Series, index: dict, missing: int | None = None) -> np.ndarray:
    """Integer codes of string labels (one dictionary lookup per distinct label, not per row)."""
    if len(series) == 0:
        return np.zeros(0, np.int64)
    s = series.cast(pl.String)
    uniq = s.unique(maintain_order=True)
    mapping = pl.DataFrame({"_k": uniq, "_v": [index.get(u, missing) for u in uniq.to_list()]},
                           schema={"_k": pl.String, "_v": pl.Int64})
    return s.to_frame("_k").join(mapping, on="_k", how="left", maintain_order="left")["_v"].fill_null(
        -1 if missing is None else missing).to_numpy().astype(np.int64)
