"""The chain tracer: numba kernels (private modules) behind a small public API."""

from flyttkedja.core.chainset import ChainSet

__all__ = ["ChainSet"]
