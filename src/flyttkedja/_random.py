"""The one counter-based random number generator of flyttkedja (private).

Every random draw of a kernel is a pure function of a stream key and a
counter: ``u01(key, a, b)`` hashes (key, a, b) with the splitmix64 finaliser
and returns a uniform in [0, 1). There is no generator state, so a draw
depends on what it is *about*, never on the order draws are taken, the
thread that takes them or the position of a row in an array.

Conventions (docs/synthetic.md, "Random streams"):

* ``key`` names the stream: the seed and the kind of draw
  (:func:`stream_key` derives it in Python, e.g. ``stream_key(seed, 2, year)``);
* ``a`` is a stable identity -- a person, household or dwelling key that does
  not change when a scenario adds dwellings -- and ``b`` (and ``c``) the draw
  index, a day or a second identity.

Also the sequential form used by the bootstrap and the transition model:
:func:`splitmix_next` (one step of a splitmix64 sequence) and
:func:`stream_output` (output ``i`` of the sequence seeded with ``seed``).

The hash constants are frozen: changing them changes every stream of every
kernel, and the tests pin values (tests/test_random.py). numba's cache does
not see edits here from the modules that inline these functions; a changed
file must come with cleared caches (``flyttkedja._kernel_cache`` stamps the
sources of each kernel group -- synth, analysis, scenario -- including this file).

:func:`u01`, :func:`u01x` and :func:`normal` are compiled once each, for
their one signature (:func:`flyttkedja._jit.kernel`), and called rather than
inlined by numba at each of their two dozen call sites; LLVM still inlines
them into the compiled callers (docs/performance.md, "First-run compilation").

Example
-------
>>> from flyttkedja._random import u01, stream_key
>>> key = stream_key(7, 1)
>>> 0.0 <= u01(key, 12345, 3) < 1.0
True
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from flyttkedja._jit import kernel

GOLD = np.uint64(0x9E3779B97F4A7C15)   # 2**64 / golden ratio: the splitmix64 increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SECOND = np.uint64(0xD6E8FEB86659FD93)  # multiplier of the second counter
_THIRD = np.uint64(0xA0761D6478BD642F)   # multiplier of the third counter
_TO_UNIT = 1.0 / 9007199254740992.0      # 2**-53
M64 = (1 << 64) - 1
F8, U8, I8 = types.float64, types.uint64, types.int64


@njit(inline="always", cache=True)
def mix(z):
    """splitmix64 finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always", cache=True)
def hash3(key, a, b):
    """uint64 hash of stream ``key``, identity ``a`` and counter ``b``."""
    z = mix(np.uint64(key) ^ (np.uint64(a) * GOLD))
    return mix(z ^ (np.uint64(b) * _SECOND))


@njit(inline="always", cache=True)
def hash4(key, a, b, c):
    """uint64 hash of stream ``key``, identity ``a`` and counters ``b``, ``c``."""
    return mix(hash3(key, a, b) ^ (np.uint64(c) * _THIRD))


@kernel(F8, U8, I8, I8, python=True)
def u01(key, a, b):
    """Uniform in [0, 1) for identity ``a``, draw ``b`` of stream ``key``."""
    return np.float64(hash3(key, a, b) >> np.uint64(11)) * _TO_UNIT


@kernel(F8, U8, I8, I8, I8, python=True)
def u01x(key, a, b, c):
    """Uniform in [0, 1) for identity ``a`` and counters ``b``, ``c`` of stream ``key``."""
    return np.float64(hash4(key, a, b, c) >> np.uint64(11)) * _TO_UNIT


@kernel(F8, U8, I8, I8)
def normal(key, a, b):
    """Standard normal (Box-Muller) from draws ``b`` and ``b + 1000003`` of identity ``a``."""
    u1 = u01(key, a, b) + 1e-12
    u2 = u01(key, a, b + 1000003)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(inline="always", cache=True)
def splitmix_next(state):
    """(new state, uniform in [0, 1)): one step of the splitmix64 sequence."""
    state = state + GOLD
    return state, np.float64(mix(state) >> np.uint64(11)) * _TO_UNIT


@njit(inline="always", cache=True)
def stream_output(seed, index):
    """Output ``index`` (1-based) of the splitmix64 sequence seeded with ``seed`` (a uint64)."""
    return mix(seed + np.uint64(index) * GOLD)


# ---------------------------------------------------------------- Python side
def mix_int(z: int) -> int:
    """:func:`mix` on a Python int (mod 2**64)."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def stream_key(seed: int, *parts: int) -> np.uint64:
    """The key of a stream: ``seed`` and the integers naming the kind of draw (and e.g. a year)."""
    z = mix_int(int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019)
    for part in parts:
        z = mix_int(z ^ ((int(part) + 1) * 0xD6E8FEB86659FD93))
    return np.uint64(z)


def mix_array(z: np.ndarray) -> np.ndarray:
    """:func:`mix` on a uint64 numpy array (wrapping arithmetic)."""
    z = z.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def u01_array(key: np.uint64, a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """:func:`u01` element-wise over identities ``a`` (and counters ``b``): vectorised draws keyed to ids."""
    a = np.asarray(a).astype(np.uint64)
    b = np.asarray(b).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = mix_array(np.uint64(key) ^ (a * GOLD))
        z = mix_array(z ^ (b * _SECOND))
    return (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def seed_scramble(seed: int) -> int:
    """A *partial* scramble of a seed (a Python int < 2**64): the analysis record keys' seed term.

    ``seed * GOLD + 0x632BE59BD9B4E019`` (as :func:`stream_key` starts) through
    the first round and a half of the finaliser only -- the ``x ^ (x >> 30)``,
    ``* _M1``, ``x ^ (x >> 27)`` steps, without ``* _M2`` and ``x ^ (x >> 31)``.
    Not a full mix: kept as it is because every record key (and so the order in
    which disclosure control ranks records) depends on it
    (:func:`flyttkedja.analysis._engine.record_keys`; pinned in tests/test_random.py).
    New streams use :func:`stream_key`.
    """
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    return (x ^ (x >> 27)) & M64
