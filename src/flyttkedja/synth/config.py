"""Presets for the synthetic register: loading, merging and validation.

A preset is a TOML file (package data in ``flyttkedja/synth/presets``, or any
path). A preset may name a ``base`` preset and override parts of it; tables
are merged key by key, lists are replaced. :func:`load_config` returns a
validated :class:`SynthConfig`; any problem raises :class:`ConfigError`
naming the field, e.g. ``new_builds.tenure: shares sum to 0.9, must sum to 1``.

Example
-------
>>> cfg = load_config("tiny", years=2, scale=0.5)
>>> cfg.years, cfg.residents
(2, 3000)
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from flyttkedja.schema import AREA_TYPES, TENURES

PRESETS = ("metro", "tiny")
SEEKER_KINDS = ("internal", "leave_home", "split", "in_migrant", "immigrant")
HOUSEHOLD_KINDS = ("single", "couple", "single_parent", "couple_with_children")
N_ROOMS = 5  # rooms 1..5, where 5 means five or more


class ConfigError(ValueError):
    """A preset is invalid; the message starts with the offending field."""


@dataclass(frozen=True)
class SynthConfig:
    """A validated preset with run settings (years, scale, seed-independent)."""

    preset: str
    raw: dict[str, Any]
    scale: float

    @property
    def years(self) -> int:
        return int(self.raw["region"]["years"])

    @property
    def first_year(self) -> int:
        return int(self.raw["region"]["first_year"])

    @property
    def residents(self) -> int:
        return int(round(self.raw["region"]["residents"] * self.scale))

    @property
    def max_gap_days(self) -> int:
        return int(self.raw["region"]["max_gap_days"])

    def section(self, name: str) -> dict[str, Any]:
        return self.raw[name]

    def by_tenure(self, section: str, key: str) -> np.ndarray:
        """A ``{tenure: [...]}`` table as an array with one row per tenure."""
        table = self.raw[section][key]
        return np.array([table[t] for t in TENURES], dtype=np.float64)

    def by_area_type(self, section: str, key: str) -> np.ndarray:
        table = self.raw[section][key]
        return np.array([table[a] for a in AREA_TYPES], dtype=np.float64)


def _preset_text(name: str) -> str:
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        return path.read_text(encoding="utf-8")
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)} or a .toml path")
    return resources.files("flyttkedja.synth").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_preset(name: str) -> dict[str, Any]:
    """The raw preset ``name`` (a bundled name or a path), with its base merged in."""
    try:
        raw = tomllib.loads(_preset_text(name))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"preset {name}: not valid TOML: {exc}") from None
    base = raw.pop("base", None)
    if base is not None:
        if base == name:
            raise ConfigError(f"base: preset {name!r} names itself as base")
        raw = _merge(read_preset(base), raw)
    return raw


def load_config(
    preset: str | dict[str, Any] = "metro",
    *,
    years: int | None = None,
    scale: float = 1.0,
    overrides: dict[str, Any] | None = None,
) -> SynthConfig:
    """Read, merge and validate a preset.

    Parameters
    ----------
    preset : str or dict
        A bundled preset name (``"metro"``, ``"tiny"``), a path to a TOML file,
        or an already parsed dict (which may name a ``base``).
    years : int, optional
        Simulated years; overrides ``region.years``.
    scale : float
        Multiplies the number of residents (and so every flow); 0.05 for a
        quick run, 8-10 for a national-size one.
    overrides : dict, optional
        Nested dict merged over the preset (lists replaced), e.g.
        ``{"market": {"jitter": 1.0}}``.
    """
    if isinstance(preset, dict):
        raw = copy.deepcopy(preset)
        base = raw.pop("base", None)
        if base is not None:
            raw = _merge(read_preset(base), raw)
        name = str(base or "custom")
    else:
        raw, name = read_preset(preset), str(preset)
    if overrides:
        raw = _merge(raw, overrides)
    if years is not None:
        raw.setdefault("region", {})["years"] = years
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale: must be a positive number, got {scale!r}")
    _validate(raw)
    return SynthConfig(preset=name, raw=raw, scale=float(scale))


# ---------------------------------------------------------------------- validation
def _get(raw: dict, field: str) -> Any:
    node: Any = raw
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{field}: missing")
        node = node[part]
    return node


def _number(raw: dict, field: str, *, lo: float = 0.0, hi: float = math.inf, integer: bool = False) -> float:
    value = _get(raw, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{field}: must be a number, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(f"{field}: must be a whole number, got {value!r}")
    if value < lo:
        word = "negative" if lo == 0 else f"below {lo}"
        raise ConfigError(f"{field}: {value!r} is {word}; must be at least {lo}")
    if value > hi:
        raise ConfigError(f"{field}: {value!r} is above {hi}")
    return value


def _vector(raw: dict, field: str, length: int, *, shares: bool = False, value: Any = None) -> list[float]:
    vec = _get(raw, field) if value is None else value
    if not isinstance(vec, list) or len(vec) != length:
        raise ConfigError(f"{field}: must be a list of {length} numbers, got {vec!r}")
    for i, x in enumerate(vec):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ConfigError(f"{field}[{i}]: must be a number, got {x!r}")
        if x < 0:
            raise ConfigError(f"{field}[{i}]: {x!r} is negative")
    if shares and abs(sum(vec) - 1.0) > 1e-6:
        raise ConfigError(f"{field}: shares sum to {sum(vec):.6g}, must sum to 1")
    return vec


def _keyed(raw: dict, field: str, keys: tuple[str, ...], length: int | None, *, shares: bool) -> None:
    """A table keyed by tenure or area type: unknown keys are refused by name."""
    table = _get(raw, field)
    if not isinstance(table, dict):
        raise ConfigError(f"{field}: must be a table keyed by {', '.join(keys)}")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(f"{field}: unknown key(s) {unknown}; allowed: {', '.join(keys)}")
    missing = [k for k in keys if k not in table]
    if missing:
        raise ConfigError(f"{field}.{missing[0]}: missing")
    if length is None:  # a table of scalars that are shares
        _vector(raw, field, len(keys), shares=shares, value=[table[k] for k in keys])
        for k in keys:
            _number(raw, f"{field}.{k}")
        return
    for k in keys:
        _vector(raw, f"{field}.{k}", length, shares=shares)


SECTIONS = ("region", "municipality", "stock", "households", "income", "demography", "migration",
            "mobility", "market", "new_builds")


def _signed_vector(raw: dict, field: str, length: int) -> None:
    vec = _get(raw, field)
    if not isinstance(vec, list) or len(vec) != length:
        raise ConfigError(f"{field}: must be a list of {length} numbers, got {vec!r}")
    for i, x in enumerate(vec):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ConfigError(f"{field}[{i}]: must be a number, got {x!r}")


def _validate(raw: dict) -> None:
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; allowed: {', '.join(SECTIONS)}")
    n_at = len(AREA_TYPES)
    _number(raw, "region.first_year", lo=1900, hi=2200, integer=True)
    _number(raw, "region.years", lo=1, hi=100, integer=True)
    _number(raw, "region.residents", lo=1, integer=True)
    _number(raw, "region.persons_per_area", lo=1)
    _number(raw, "region.vacant_share", hi=0.5)
    _number(raw, "region.max_gap_days", lo=1, integer=True)
    munis = _get(raw, "municipality")
    if not isinstance(munis, list) or not munis:
        raise ConfigError("municipality: need at least one [[municipality]] table")
    codes = set()
    for i, m in enumerate(munis):
        f = f"municipality[{i}]"
        code = m.get("code") if isinstance(m, dict) else None
        if not (isinstance(code, str) and len(code) == 4 and code.isdigit()):
            raise ConfigError(f"{f}.code: must be a four-digit string, got {code!r}")
        if code in codes:
            raise ConfigError(f"{f}.code: duplicate code {code}")
        codes.add(code)
        try:
            _vector({"m": m}, "m.area_types", n_at, shares=True)
            _number({"m": m}, "m.share")
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("m.", f"{f}.", 1)) from None
    total = sum(m["share"] for m in munis)
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"municipality.share: shares sum to {total:.6g}, must sum to 1")

    _keyed(raw, "stock.tenure_by_area_type", AREA_TYPES, len(TENURES), shares=True)
    _keyed(raw, "stock.rooms_by_tenure", TENURES, N_ROOMS, shares=True)
    _keyed(raw, "stock.small_house_share", TENURES, None, shares=False)
    for k in TENURES:
        _number(raw, f"stock.small_house_share.{k}", hi=1)
    _vector(raw, "stock.public_share_by_area_type", n_at)
    _vector(raw, "stock.born_abroad_by_area_type", n_at)
    rows = _get(raw, "households.type_by_rooms")
    if not isinstance(rows, list) or len(rows) != N_ROOMS:
        raise ConfigError(f"households.type_by_rooms: must be {N_ROOMS} rows (rooms 1..5+)")
    for r, row in enumerate(rows):
        _vector(raw, f"households.type_by_rooms[{r}]", len(HOUSEHOLD_KINDS), shares=True, value=row)
    _vector(raw, "households.children", 3, shares=True)

    _vector(raw, "income.base_by_age", 5)
    for f in ("sd_permanent", "sd_yearly"):
        _number(raw, f"income.{f}", hi=3)
    _signed_vector(raw, "income.mean_by_tenure", len(TENURES))
    _signed_vector(raw, "income.mean_by_area_type", n_at)
    _number(raw, "income.born_abroad_effect", lo=-5)

    _number(raw, "demography.death_log_a", lo=-50)
    _number(raw, "demography.death_log_b", hi=1)
    for f in ("birth_rate", "separation_rate", "couple_rate", "couple_move_together", "leave_home_rate_18",
              "leave_home_rate_25", "leave_home_as_couple"):
        _number(raw, f"demography.{f}", hi=1)
    for f in ("in_migrant_households_per_1000", "immigrant_households_per_1000"):
        _number(raw, f"migration.{f}")
    for f in ("out_migration_young", "out_migration_other", "emigration_native", "emigration_born_abroad"):
        _number(raw, f"migration.{f}", hi=1)
    _vector(raw, "mobility.base_by_age", 4)
    for f in ("crowding", "downsizing", "income_rise", "swap_share"):
        _number(raw, f"mobility.{f}", hi=1)

    _keyed(raw, "market.required_income", TENURES, N_ROOMS, shares=False)
    _keyed(raw, "market.area_price", TENURES, n_at, shares=False)
    _number(raw, "market.new_build_premium", lo=0.1)
    _number(raw, "market.new_build_premium_private_rental", lo=0.1)
    _vector(raw, "market.queue_weight", 4)
    _vector(raw, "market.income_weight", 4)
    _number(raw, "market.jitter")
    _number(raw, "market.same_municipality_bonus")
    _signed_vector(raw, "market.bonus", len(SEEKER_KINDS))
    _vector(raw, "market.patience_days", len(SEEKER_KINDS))
    for f in ("cross_municipality", "cross_municipality_newcomer", "owner_preference",
              "cooperative_preference", "left_empty", "demolished", "price_cut_per_month", "price_floor"):
        _number(raw, f"market.{f}", hi=1)
    _number(raw, "market.area_reach", hi=1)
    _number(raw, "market.couple_new_build_bonus", lo=-100, hi=100)
    _number(raw, "market.starter_buying_power", lo=1, hi=10)
    _number(raw, "market.private_income_requirement", lo=0.1, hi=10)
    _number(raw, "market.scan_limit", lo=1, integer=True)
    _number(raw, "market.candidates", lo=1, integer=True)

    _number(raw, "new_builds.per_1000_dwellings")
    _keyed(raw, "new_builds.tenure", TENURES, None, shares=True)
    _keyed(raw, "new_builds.rooms", TENURES, N_ROOMS, shares=True)
    _vector(raw, "new_builds.area_types", n_at, shares=True)
    _number(raw, "new_builds.public_share", hi=1)
    _number(raw, "new_builds.project_size.multi_dwelling", lo=1, integer=True)
    _number(raw, "new_builds.project_size.small_house", lo=1, integer=True)
