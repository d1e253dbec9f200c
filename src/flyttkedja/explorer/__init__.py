"""The planner's scenario explorer: one offline HTML file that evaluates new-build programmes in the browser.

``flyttkedja explore DIR --out explorer.html`` (DIR: a scenario output or a
saved model) writes :func:`explorer_html`; the report's scenario section
carries the same explorer (:func:`explorer_body`). The page's
``window.flyttkedja.evaluate(programme)`` returns what
:meth:`flyttkedja.scenario.TransitionModel.evaluate` returns (docs/explorer.md).
"""

from flyttkedja.explorer.page import explorer_body, explorer_data, explorer_html, write_explorer

__all__ = ["explorer_body", "explorer_data", "explorer_html", "write_explorer"]
