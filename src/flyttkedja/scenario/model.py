"""The absorbing vacancy-transition model (White 1970; Emmi & Magnusson).

A vacancy in stratum *i* (tenure × size band × area type by default) is filled
by a household leaving a dwelling in stratum *j* (the chain goes on), or the
chain ends for one of :data:`flyttkedja.schema.END_REASONS` (absorption). The
first vacancy of a new build has its own outcome distribution (``first``),
later vacancies share one (``later``); for every stratum the model also holds
how many of its fillers belong to each target group.

:func:`estimate` counts these outcomes in a :class:`~flyttkedja.core.ChainSet`;
:meth:`TransitionModel.expectations` gives exact expected values from the
fundamental matrix N = (I − Q)⁻¹; :meth:`TransitionModel.simulate` draws
Monte Carlo chains in numba. :meth:`TransitionModel.save` writes only
disclosure-controlled counts (cells below the threshold suppressed), so a
model estimated inside a secure environment can be used anywhere.

Example
-------
>>> model = estimate(chainset)                                   # doctest: +SKIP
>>> model.expectations(model.line_weights({"tenure": "rental"}))["moves"]   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from flyttkedja.analysis.disclosure import DEFAULT_THRESHOLD, primary_suppression
from flyttkedja.analysis.groups import HOUSEHOLD_COLUMNS, TARGET_GROUPS, household_frame, income_reference, \
    size_band, target_flags
from flyttkedja.io import write_json
from flyttkedja.scenario import _kernels as K
from flyttkedja.schema import END_REASONS

MOVE_REASONS = ("new_household", "in_migrant", "immigrant", "not_vacated")  # the filling move is a link
DEFAULT_STRATA = ("tenure", "size_band", "area_type")
FORMAT = "flyttkedja-transition-model/1"


class SparseStratumWarning(UserWarning):
    """A stratum the model needs has fewer observations than ``min_observations``."""


def stratum_expr(keys, prefix: str = "") -> pl.Expr:
    """Stratum label of a dwelling, e.g. ``"rental|2|mixed"``, from (prefixed) dwelling columns."""
    parts = []
    for key in keys:
        col = size_band(pl.col(f"{prefix}rooms")) if key == "size_band" else pl.col(f"{prefix}{key}").cast(pl.String)
        parts.append(col.fill_null("-"))
    return pl.concat_str(parts, separator="|")


@dataclass
class TransitionModel:
    """Outcome counts of vacancies by stratum (see the module docstring).

    ``first`` and ``later`` are (S, S+R) counts: columns 0..S-1 are the
    stratum the filling household left, then one column per end reason.
    ``fills`` (S,) counts filled vacancies and ``group_fills`` (S, G) those
    filled by each target group. ``first_group`` (G, S, S+R): first-vacancy
    outcomes when the filler is in group g (used for allocated dwellings).
    """

    keys: tuple[str, ...]
    strata: tuple[str, ...]
    groups: tuple[str, ...]
    first: np.ndarray
    later: np.ndarray
    fills: np.ndarray
    group_fills: np.ndarray
    first_group: np.ndarray
    threshold: int = DEFAULT_THRESHOLD
    suppressed_cells: int = 0
    meta: dict = field(default_factory=dict)
    records: dict | None = field(default=None, repr=False)  # chain-level, in memory only (bootstrap)

    reasons: tuple[str, ...] = END_REASONS

    # ------------------------------------------------------------------ probabilities
    @property
    def n_strata(self) -> int:
        return len(self.strata)

    def moves_flag(self) -> np.ndarray:
        flag = np.ones(self.n_strata + len(self.reasons), np.int8)
        flag[self.n_strata:] = [r in MOVE_REASONS for r in self.reasons]
        return flag

    def probabilities(self, first=None, later=None, fills=None, group_fills=None):
        """Row-normalised (P0, P, F): outcome and filler-group probabilities.

        Rows without observations fall back: ``first`` to ``later``, ``later``
        to ending ``unfilled``; filler shares to the all-strata share.
        """
        first = self.first if first is None else first
        later = self.later if later is None else later
        fills = self.fills if fills is None else fills
        group_fills = self.group_fills if group_fills is None else group_fills
        P = _close(_normalise(later.astype(np.float64), self.n_strata + self.reasons.index("unfilled")), self.n_strata)
        n0 = first.sum(axis=1, keepdims=True)
        P0 = np.where(n0 > 0, first / np.maximum(n0, 1), P)
        overall = group_fills.sum(axis=0) / max(fills.sum(), 1)
        F = np.where(fills[:, None] > 0, group_fills / np.maximum(fills, 1)[:, None], overall[None, :])
        return P0, P, np.clip(F, 0.0, 1.0)

    def line_weights(self, attrs: dict, warn: bool = True) -> np.ndarray:
        """Distribution over strata of a dwelling with the given attributes.

        Attributes that are stratum keys must match; others are ignored. Among
        matching strata the weight is the number of observed new builds (else
        of observed vacancies). ``rooms`` is turned into ``size_band``.
        """
        want = dict(attrs)
        if "rooms" in want and "size_band" not in want:
            rooms = int(want["rooms"])
            want["size_band"] = "4+" if rooms >= 4 else str(max(rooms, 1))
        parts = [s.split("|") for s in self.strata]
        match = np.array([all(want.get(k) is None or p[i] == str(want[k]) for i, k in enumerate(self.keys))
                          for p in parts], bool)
        if not match.any():
            raise ValueError(f"no stratum of the model matches {attrs}; strata are {', '.join(self.strata[:5])}...")
        for basis in (self.first.sum(axis=1), self.later.sum(axis=1) + self.first.sum(axis=1)):
            w = np.where(match, basis, 0).astype(np.float64)
            if w.sum() > 0:
                return w / w.sum()
        return match / match.sum()

    # ------------------------------------------------------------------ analytic
    def expectations(self, start: np.ndarray, group: int | None = None, probs=None) -> dict:
        """Exact expected values per new dwelling whose stratum has distribution ``start`` (S,).

        Returns ``moves`` (= expected chain length), ``vacancies`` (S,) in the
        existing stock, ``reach`` (G,) households of each group that move,
        ``ends`` (R,) end-reason probabilities. ``group``: the first filler is
        allocated to that target group.
        """
        P0, P, F = self.probabilities() if probs is None else probs
        if group is not None:
            Pg = _normalise(self.first_group[group].astype(np.float64), -1)
            P0 = np.where(self.first_group[group].sum(axis=1, keepdims=True) > 0, Pg, P0)
        return analytic(start, P0, P, F, self.moves_flag(), group)

    # ------------------------------------------------------------------ Monte Carlo
    def simulate(self, kinds: list[tuple[np.ndarray, int | None]], counts: np.ndarray, reps: int, seed: int,
                 max_length: int = 1000, n_hist: int = 21) -> dict:
        """Monte Carlo chains: ``counts[k]`` new dwellings of kind k = (start distribution, group or None).

        Returns the kernel's per-replication arrays (see ``_kernels.simulate_chains``).
        """
        P0, P, F = self.probabilities()
        S, G = self.n_strata, len(self.groups)
        start = np.stack([np.cumsum(w) for w, _ in kinds])
        first = np.empty((len(kinds), S, P.shape[1]))
        fgroup = np.empty((len(kinds), S, G))
        for k, (_, g) in enumerate(kinds):
            p0 = P0
            fgroup[k] = F
            if g is not None:
                own = self.first_group[g].sum(axis=1, keepdims=True) > 0
                p0 = np.where(own, _normalise(self.first_group[g].astype(np.float64), -1), P0)
                fgroup[k, :, g] = 1.0
            first[k] = np.cumsum(p0, axis=2 - 1)
        _finish(start), _finish(first)
        later = np.cumsum(P, axis=1)
        _finish(later)
        kind_of = np.repeat(np.arange(len(kinds)), np.asarray(counts, np.int64)).astype(np.int64)
        out = K.simulate_chains(kind_of, start, first, fgroup, later, np.ascontiguousarray(F), self.moves_flag(),
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
            out.append(fn(self.probabilities(*self._resample(rng))))
        return np.array(out)

    def _resample(self, rng):
        S, W = self.n_strata, self.first.shape[1]
        if self.records is None:
            first = _multinomial_rows(rng, self.first)
            later = _multinomial_rows(rng, self.later)
            fills = self.fills
            gf = rng.binomial(fills[:, None], np.where(fills[:, None] > 0, self.group_fills / np.maximum(fills, 1)[:, None], 0))
            return first, later, fills, gf
        rec = self.records
        w = rng.poisson(1.0, rec["n_chains"]).astype(np.float64)[rec["chain"]]
        stage0 = rec["stage"] == 0
        cell = rec["stratum"] * W + rec["outcome"]
        first = np.bincount(cell[stage0], w[stage0], S * W).reshape(S, W)
        later = np.bincount(cell[~stage0], w[~stage0], S * W).reshape(S, W)
        filled = rec["filled"]
        fills = np.bincount(rec["stratum"][filled], w[filled], S)
        gf = np.stack([np.bincount(rec["stratum"][filled], w[filled] * rec["group"][filled, g], S)
                       for g in range(len(self.groups))], axis=1) if len(self.groups) else np.zeros((S, 0))
        return first, later, fills, gf

    # ------------------------------------------------------------------ save / load
    def disclosed(self) -> "TransitionModel":
        """The model with every count of 1 to ``threshold - 1`` records suppressed (set to 0).

        A stratum's group count is also suppressed when its complement (fills
        not in the group) is that small; the stratum's fills are then dropped
        too, so that the filler shares stay consistent. No chain records.
        """
        first, later, fg = (np.where(primary_suppression(a, self.threshold), 0, a)
                            for a in (self.first, self.later, self.first_group))
        fills = np.where(primary_suppression(self.fills, self.threshold), 0, self.fills)
        gf = self.group_fills
        small = primary_suppression(gf, self.threshold) | primary_suppression(self.fills[:, None] - gf, self.threshold)
        fills = np.where(small.any(axis=1), 0, fills)
        gf = np.where(fills[:, None] == 0, 0, gf)
        # counts already withheld by an earlier call stay counted (disclosed() of a disclosed model adds none)
        suppressed = self.suppressed_cells + int(sum(((a != b).sum()) for a, b in [(first, self.first), (later, self.later),
                                                           (fg, self.first_group), (gf, self.group_fills),
                                                           (fills, self.fills)]))
        return TransitionModel(self.keys, self.strata, self.groups, first, later, fills, gf, fg, self.threshold,
                               suppressed, {k: v for k, v in self.meta.items() if k not in ("chains", "records")},
                               None, self.reasons)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`disclosed` as JSON: disclosure-controlled counts only (no ids, no microdata)."""
        m = self.disclosed()
        record = {
            "format": FORMAT, "keys": list(m.keys), "strata": list(m.strata), "groups": list(m.groups),
            "reasons": list(m.reasons), "threshold": m.threshold, "suppressed_cells": m.suppressed_cells,
            "first": m.first.astype(np.int64).tolist(), "later": m.later.astype(np.int64).tolist(),
            "fills": m.fills.astype(np.int64).tolist(), "group_fills": m.group_fills.astype(np.int64).tolist(),
            "first_group": m.first_group.astype(np.int64).tolist(),
            # chain and record totals are not published (docs/scenarios.md): only the estimation parameters
            "meta": {k: v for k, v in m.meta.items() if k not in ("chains", "records")},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json(record, path)


def load_model(path: str | os.PathLike) -> TransitionModel:
    """Read a model written by :meth:`TransitionModel.save`."""
    record = json.loads(Path(path).read_text())
    if record.get("format") != FORMAT:
        raise ValueError(f"{path}: not a flyttkedja transition model (format {record.get('format')!r})")
    S, G, W = len(record["strata"]), len(record["groups"]), len(record["strata"]) + len(record["reasons"])
    arr = lambda k, shape: np.asarray(record[k], np.int64).reshape(shape)  # noqa: E731
    return TransitionModel(
        keys=tuple(record["keys"]), strata=tuple(record["strata"]), groups=tuple(record["groups"]),
        first=arr("first", (S, W)), later=arr("later", (S, W)), fills=arr("fills", (S,)),
        group_fills=arr("group_fills", (S, G)), first_group=arr("first_group", (G, S, W)),
        threshold=record["threshold"], suppressed_cells=record["suppressed_cells"], meta=record.get("meta", {}),
        reasons=tuple(record["reasons"]))


# ---------------------------------------------------------------------- analytic core
def analytic(start, P0, P, F, moves_flag, group=None) -> dict:
    """Expected moves, vacancies (S,), reach (G,), ends (R,) per chain from the fundamental matrix."""
    S = P.shape[0]
    start = np.asarray(start, np.float64)
    Q = P[:, :S]
    N = np.linalg.inv(np.eye(S) - Q)
    first = start @ P0  # outcome distribution of the first vacancy
    visits = first[:S] @ N  # expected later vacancies in each stratum
    filled_first = start * (P0 @ moves_flag)  # by stratum of the new build
    filled = P @ moves_flag
    F0 = F.copy()
    if group is not None:
        F0[:, group] = 1.0
    return {
        "moves": float(filled_first.sum() + visits @ filled),
        "vacancies": visits,
        "reach": filled_first @ F0 + (visits * filled) @ F,
        "ends": first[S:] + visits @ P[:, S:],
    }


def _normalise(counts: np.ndarray, empty_col: int) -> np.ndarray:
    n = counts.sum(axis=-1, keepdims=True)
    out = counts / np.maximum(n, 1e-300)
    if empty_col >= 0:
        out[..., empty_col] = np.where(n[..., 0] > 0, out[..., empty_col], 1.0)
    return out


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


# ---------------------------------------------------------------------- estimation
def estimate(cs, keys=DEFAULT_STRATA, groups=None, *, threshold: int = DEFAULT_THRESHOLD,
             min_observations: int = 30) -> TransitionModel:
    """Count vacancy outcomes by stratum in a traced ChainSet (new-build and/or move seeds).

    Each link is a filled vacancy (the stratum of ``to_dwelling``) with the
    outcome: the stratum of ``from_dwelling`` when it vacated one, else the
    chain's end reason; a chain whose last vacancy was not filled adds that
    vacancy with its end reason. Vacancies at a new build's completion count
    in ``first``, all others in ``later``. Warns (:class:`SparseStratumWarning`)
    for strata of observed new builds with fewer than ``min_observations`` records.
    """
    groups = dict(TARGET_GROUPS if groups is None else groups)
    keys = tuple(keys)
    dw_cols = sorted({"rooms" if k == "size_band" else k for k in keys})
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
    to_s = np.array([index[s] for s in links["to_stratum"].to_list()], np.int64)
    from_s = np.array([index.get(s, -1) for s in links["from_stratum"].to_list()], np.int64)
    out_link = np.where(vacated, from_s, np.array([reason_code[r] for r in chain_reason[lk_chain]], np.int64)
                        if len(lk_chain) else np.zeros(0, np.int64))
    stage_link = np.where((links["step"].to_numpy() == 1) & new_build[lk_chain], 0, 1)
    # chains whose last vacancy stayed empty (or was cut): one record without a move
    open_end = ~np.isin(chain_reason, MOVE_REASONS)
    length = chains["length"].to_numpy()
    seed_s = np.array([index[s] for s in chains["stratum"].to_list()], np.int64)
    last_from = np.full(len(length), -1, np.int64)
    last_from[lk_chain[last]] = from_s[last]
    end_s = np.where(length == 0, seed_s, last_from)[open_end]
    end_out = np.array([reason_code[r] for r in chain_reason[open_end]], np.int64)
    end_stage = np.where((length == 0) & new_build, 0, 1)[open_end]
    keep = end_s >= 0

    rec = {
        "chain": np.r_[lk_chain, np.flatnonzero(open_end)[keep]].astype(np.int64),
        "stratum": np.r_[to_s, end_s[keep]], "outcome": np.r_[out_link, end_out[keep]],
        "stage": np.r_[stage_link, end_stage[keep]], "filled": np.r_[np.ones(len(to_s), bool), np.zeros(keep.sum(), bool)],
        "group": np.r_[flags, np.zeros((keep.sum(), len(groups)), np.int8)], "n_chains": len(length),
    }
    W = S + R
    cell = rec["stratum"] * W + rec["outcome"]
    s0 = rec["stage"] == 0
    first = np.bincount(cell[s0], minlength=S * W).reshape(S, W)
    later = np.bincount(cell[~s0], minlength=S * W).reshape(S, W)
    fills = np.bincount(to_s, minlength=S)
    gf = np.stack([np.bincount(to_s, flags[:, g], S) for g in range(len(groups))], axis=1).astype(np.int64)
    fg = np.stack([np.bincount(cell[: len(to_s)][flags[:, g] == 1], minlength=S * W).reshape(S, W)
                   for g in range(len(groups))]) if len(groups) else np.zeros((0, S, W), np.int64)
    model = TransitionModel(keys, tuple(labels), tuple(groups), first, later, fills, gf, fg, threshold,
                            meta={"chains": int(len(length)), "records": int(len(cell)),
                                  "params": {k: v for k, v in cs.params.items() if k != "register_dir"}},
                            records=rec)
    sparse = [labels[i] for i in np.flatnonzero((first.sum(axis=1) > 0) & (first.sum(axis=1) + later.sum(axis=1)
                                                                         < min_observations))]
    model.meta["sparse_strata"] = sparse
    if sparse:
        warnings.warn(f"{len(sparse)} new-build strata have fewer than {min_observations} observations: "
                      f"{', '.join(sparse[:5])}{' ...' if len(sparse) > 5 else ''}", SparseStratumWarning, stacklevel=2)
    return model
