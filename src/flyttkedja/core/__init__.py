"""The chain tracer: numba kernels (private modules) behind a small public API.

- :func:`trace` — the chains started by chosen seeds, as a :class:`ChainSet`;
- :func:`trace_register` — the same, from a register directory (window and gap from ``register.json``);
- :func:`vacancy_statistics` — length, end reason and condition counts for every vacancy at once;
- :func:`read_chainset` — load a written ChainSet with its register;
- :func:`retrace` — a ChainSet's register traced again under the other convention.

The rule is in ``docs/chains.md``.
"""

from flyttkedja.core.chainset import ChainSet, read_chainset
from flyttkedja.core.register import trace_register
from flyttkedja.core.trace import retrace, trace, vacancy_statistics

__all__ = ["ChainSet", "read_chainset", "retrace", "trace", "trace_register", "vacancy_statistics"]
