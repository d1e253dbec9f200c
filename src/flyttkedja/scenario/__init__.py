"""Scenarios: test a new-build programme before it is built.

- :mod:`flyttkedja.scenario.config` — scenario TOML files (:func:`load_scenario`);
- :mod:`flyttkedja.scenario.model` — the absorbing vacancy-transition model
  (:func:`estimate`, :func:`load_model`), exact expectations and Monte Carlo chains;
- :mod:`flyttkedja.scenario.microsim` — paired synthetic-market runs with and
  without a programme (common random numbers);
- :func:`run` — both methods for every programme, as one comparison table
  (:func:`read_comparison`). docs/scenarios.md describes the method.
"""

from flyttkedja.scenario.config import Line, Programme, Scenario, ScenarioError, load_scenario, parse_scenario
from flyttkedja.scenario.model import TransitionModel, estimate, load_model
from flyttkedja.scenario.compare import COMPARISON_COLUMNS, read_comparison, run
from flyttkedja.scenario._comparison import Comparison, load_comparison

__all__ = ["COMPARISON_COLUMNS", "Comparison", "load_comparison", "Line", "Programme", "Scenario", "ScenarioError", "TransitionModel", "estimate", "load_model",
           "load_scenario", "parse_scenario", "read_comparison", "run"]
