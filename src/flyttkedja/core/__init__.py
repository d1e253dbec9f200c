"""The chain tracer: numba kernels (private modules) behind a small public API.

- :func:`trace` — the chains started by chosen seeds, as a :class:`ChainSet`;
- :func:`trace_register` — the same, from a register directory (window and gap from ``register.json``);
- :func:`vacancy_statistics` — length, end reason and condition counts for every vacancy at once;
- :func:`read_chainset` — load a written ChainSet with its register.

The rule is in ``docs/chains.md``.
"""

from flyttkedja.core.chainset import ChainSet, read_chainset
from flyttkedja.core.register import trace_register
from flyttkedja.core.trace import trace, vacancy_statistics

__all__ = ["ChainSet", "read_chainset", "trace", "trace_register", "vacancy_statistics"]
