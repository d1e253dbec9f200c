"""Shared pytest fixtures."""

import pytest


@pytest.fixture(scope="session")
def small_register():
    """A small synthetic register (tiny preset, 3 years, seed 11) with ground truth.

    Built once per test session by :func:`flyttkedja.synth.generate`; treat it as
    read-only.
    """
    from flyttkedja.synth import generate

    return generate("tiny", years=3, seed=11)
