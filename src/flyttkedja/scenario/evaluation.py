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
  programme (``line`` None) and per line. The gross interval is the model's
  out-of-sample error (cross-validated by municipality, ``model.json`` keeps
  it); the run's bootstrap needs the chain records, which a saved model has
  not, so ``evaluate`` gives none.
- two exact distributions of the absorbing chain, per programme:
  ``chain_length_share`` (group "0".."19", "20+": share of chains with that
  many moves) and ``vacancies_area_{a}_share_by_round`` (group k = 1..6: of
  the dwellings vacated by the k-th movers, the share in area type *a*;
  Mast's rounds, by area type since the model's strata hold no area income).
- ``warnings``: how much disclosure control withheld from a saved model, attributes the model cannot
  use, strata relaxed, sparse strata.

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

from flyttkedja.scenario.compare import _row, expectation_rows, programme_kinds, programme_municipalities, \
    sparse_lines, unused_attributes
from flyttkedja.scenario.config import Programme, _programmes
from flyttkedja.schema import AREA_TYPES

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
    n = int(model.first.sum() + model.later.sum())
    rows = expectation_rows(model, prog, bootstrap=0, seed=0, model_error=model_error(model), probs=pr)
    share = counts / counts.sum()
    hist = sum(s * length_distribution(model, pr, w, g) for s, (w, g) in zip(share, kinds))
    for k, value in enumerate(hist):
        group = f"{k}+" if k == LENGTH_BINS - 1 else str(k)
        rows.append(_row(prog.name, METHOD, LENGTH_MEASURE, group, value, n=n))
    if "area_type" in model.keys:
        vacated = sum(s * round_vacancies(model, pr, w, g) for s, (w, g) in zip(share, kinds))  # (ROUNDS, S)
        pos = model.keys.index("area_type")
        area_of = np.array([s.split("|")[pos] for s in model.strata])
        for a in AREA_TYPES:
            inside = (vacated * (area_of == a)).sum(axis=1)
            for k in range(ROUNDS):
                total = vacated[k].sum()
                if total > 0:
                    rows.append(_row(prog.name, METHOD, f"vacancies_area_{a}_share_by_round", str(k + 1),
                                     inside[k] / total, n=n))
    warnings = (disclosure_warning(model) + unused_attributes(model, prog) + relaxed
                + sparse_lines(model, [prog], min_observations))
    return {"programme": prog.name, "dwellings": prog.dwellings, "municipalities": programme_municipalities(prog),
            "model_error": model_error(model), "rows": rows, "warnings": warnings}


def disclosure_warning(model) -> list[str]:
    """A saved model whose small cells were suppressed says how much of its estimation sample is left
    (a fine model of a small register can keep almost nothing, and its figures then mean little). The
    total before suppression is not published (total − kept would be the sum of the withheld counts)."""
    if not model.suppressed_cells:
        return []
    kept = int(model.first.sum() + model.later.sum())
    return [f"disclosure control withheld {model.suppressed_cells} cells of the model (counts below "
            f"{model.threshold}): it keeps {kept} vacancy records, and its figures rest on those"]


def _first_row(pr, group):
    return pr.P0 if group is None else pr.allocated(group)[0]


def length_distribution(model, pr, start: np.ndarray, group: int | None = None) -> np.ndarray:
    """Exact distribution of chain length (moves) of a new dwelling with stratum distribution ``start``.

    (:data:`LENGTH_BINS`,): share of chains with 0, 1, ... moves; the last bin holds every longer chain.
    A filled vacancy is a move; the chain goes on when the filler vacated a dwelling (an outcome
    that is a stratum) and ends with the filler's end reason otherwise.
    """
    S = model.n_strata
    move = model.moves_flag()[S:].astype(bool)
    hist = np.zeros(LENGTH_BINS)
    a = np.asarray(start, np.float64) @ _first_row(pr, group)
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


def round_vacancies(model, pr, start: np.ndarray, group: int | None = None) -> np.ndarray:
    """(ROUNDS, S): expected dwellings vacated by the k-th movers of the chain, by stratum."""
    S = model.n_strata
    out = np.zeros((ROUNDS, S))
    out[0] = (np.asarray(start, np.float64) @ _first_row(pr, group))[:S]
    for k in range(1, ROUNDS):
        out[k] = out[k - 1] @ pr.P[:, :S]
    return out
