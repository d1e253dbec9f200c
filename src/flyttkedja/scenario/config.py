"""Scenario files: what to learn from, which programmes to compare, how many replications.

A scenario is a TOML file (``examples/*.toml``; every field in docs/scenarios.md).
:func:`load_scenario` returns a validated :class:`Scenario`; any problem raises
:class:`ScenarioError` naming the field, e.g.
``programme[1].line[0].tenure: 'hyresrätt' is not one of rental, cooperative, owner``.

Example
-------
>>> sc = load_scenario("examples/kustvik_rental_share.toml")   # doctest: +SKIP
>>> [p.name for p in sc.programmes]                             # doctest: +SKIP
['0% rental', '30% rental', '50% rental']
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flyttkedja import store
from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, LANDLORDS, TENURES

TARGET_GROUP_NAMES = ("young_adults", "seniors", "low_income", "lowest_quintile", "families", "born_abroad")
STRATUM_KEYS = ("tenure", "rooms", "size_band", "area_type", "landlord", "building_type", "municipality")
TOP = ("name", "seed", "replications", "max_replications", "chain_replications", "source", "model", "run",
       "programme")


class ScenarioError(ValueError):
    """A scenario file is invalid; the message starts with the offending field."""


@dataclass(frozen=True)
class Line:
    """One new-build line: ``count`` dwellings alike (rent/price ``level`` multiplies the preset's cost)."""

    count: int
    tenure: str
    rooms: int
    building_type: str = "multi_dwelling"
    landlord: str | None = None
    municipality: str | None = None
    area_type: str | None = None
    level: float = 1.0
    target_group: str | None = None
    written: tuple[str, ...] = field(default=(), compare=False)  # the fields the file gave (not defaults)


@dataclass(frozen=True)
class Programme:
    name: str
    lines: tuple[Line, ...]

    @property
    def dwellings(self) -> int:
        return sum(line.count for line in self.lines)


@dataclass(frozen=True)
class Source:
    """The register to learn from: a directory, or a synthetic preset (+ scale, years, seed)."""

    register: str | None = None
    preset: str | None = "metro"
    scale: float = 1.0
    years: int = 5
    seed: int = 7


@dataclass(frozen=True)
class ModelSettings:
    strata: tuple[str, ...] = ("tenure", "rooms", "municipality", "area_type")
    threshold: int = 5
    min_observations: int = 30
    bootstrap: int = 200
    shrinkage: float = 20.0
    cross_validation: bool = True


@dataclass(frozen=True)
class Execution:
    """Where the microsimulation's replications run: ``workers`` local processes (None: one per CPU,
    0: in this process) or the Dask ``scheduler`` at an address such as ``tcp://host:8786``."""

    workers: int | None = None
    scheduler: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    programmes: tuple[Programme, ...]
    source: Source = field(default_factory=Source)
    model: ModelSettings = field(default_factory=ModelSettings)
    seed: int = 7
    replications: int = 5
    chain_replications: int = 1000
    max_replications: int = 5
    execution: Execution = field(default_factory=Execution)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario (every default filled in), for ``scenario.json``."""
        return asdict(self)


# ---------------------------------------------------------------------- validation helpers
def _int(value: Any, where: str, lo: int = 0, hi: int = 2**62) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}: {value!r} is outside {lo}..{hi}")
    return value


def _float(value: Any, where: str, lo: float, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{where}: must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}: {value!r} is outside {lo}..{hi}")
    return float(value)


def _choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ScenarioError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _table(raw: Any, where: str, allowed: tuple[str, ...]) -> dict:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ScenarioError(f"{where}.{unknown[0]}: unknown field; allowed: {', '.join(allowed)}")
    return raw


LINE_FIELDS = ("count", "tenure", "rooms", "building_type", "landlord", "municipality", "area_type", "level",
               "target_group")


def _line(raw: Any, where: str) -> Line:
    raw = _table(raw, where, LINE_FIELDS)
    for key in ("count", "tenure", "rooms"):
        if key not in raw:
            raise ScenarioError(f"{where}.{key}: missing")
    tenure = _choice(raw["tenure"], f"{where}.tenure", TENURES)
    landlord = raw.get("landlord")
    if tenure == "rental":
        landlord = _choice(landlord if landlord is not None else "public", f"{where}.landlord", LANDLORDS)
    elif landlord is not None:
        raise ScenarioError(f"{where}.landlord: only rental dwellings have a landlord (tenure is {tenure})")
    muni = raw.get("municipality")
    if muni is not None and not (isinstance(muni, str) and len(muni) == 4 and muni.isdigit()):
        raise ScenarioError(f"{where}.municipality: must be a four-digit string, got {muni!r}")
    atype = raw.get("area_type")
    if atype is not None:
        _choice(atype, f"{where}.area_type", AREA_TYPES)
    group = raw.get("target_group")
    if group is not None:
        _choice(group, f"{where}.target_group", TARGET_GROUP_NAMES)
    return Line(
        count=_int(raw["count"], f"{where}.count", 1, 10_000_000),
        tenure=tenure,
        rooms=_int(raw["rooms"], f"{where}.rooms", 1, 5),
        building_type=_choice(raw.get("building_type", "multi_dwelling"), f"{where}.building_type", BUILDING_TYPES),
        landlord=landlord, municipality=muni, area_type=atype,
        level=_float(raw.get("level", 1.0), f"{where}.level", 0.1, 10.0),
        target_group=group, written=tuple(sorted(raw)),
    )


def _programmes(raw: Any) -> tuple[Programme, ...]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("programme: need at least one [[programme]] table")
    out, names = [], set()
    for p, prog in enumerate(raw):
        where = f"programme[{p}]"
        prog = _table(prog, where, ("name", "line"))
        name = _str(prog.get("name"), f"{where}.name")
        if name in names:
            raise ScenarioError(f"{where}.name: duplicate programme name {name!r}")
        names.add(name)
        lines = prog.get("line")
        if not isinstance(lines, list) or not lines:
            raise ScenarioError(f"{where}.line: need at least one [[programme.line]] table")
        out.append(Programme(name, tuple(_line(x, f"{where}.line[{i}]") for i, x in enumerate(lines))))
    return tuple(out)


def _source(raw: Any, base: Path | None) -> Source:
    raw = _table(raw if raw is not None else {}, "source", ("register", "preset", "scale", "years", "seed"))
    register = raw.get("register")
    if register is not None:
        register = _str(register, "source.register")
        path = Path(register) if base is None or Path(register).is_absolute() else base / register
        if not store.is_register(path):
            raise ScenarioError(f"source.register: {path} holds no {store.register_file(path, 'moves').name}")
        register = str(path)
    return Source(
        register=register,
        preset=None if register else _str(raw.get("preset", "metro"), "source.preset"),
        scale=_float(raw.get("scale", 1.0), "source.scale", 1e-4, 100.0),
        years=_int(raw.get("years", 5), "source.years", 1, 100),
        seed=_int(raw.get("seed", 7), "source.seed"),
    )


def _model(raw: Any) -> ModelSettings:
    raw = _table(raw if raw is not None else {}, "model", ("strata", "threshold", "unsafe_threshold",
                                                           "min_observations", "bootstrap", "shrinkage",
                                                           "cross_validation"))
    strata = raw.get("strata", list(ModelSettings.strata))
    if not isinstance(strata, list) or not strata:
        raise ScenarioError(f"model.strata: must be a non-empty list, got {strata!r}")
    for i, key in enumerate(strata):
        _choice(key, f"model.strata[{i}]", STRATUM_KEYS)
    threshold = _int(raw.get("threshold", 5), "model.threshold", 1, 1000)
    unsafe = raw.get("unsafe_threshold", False)
    if not isinstance(unsafe, bool):
        raise ScenarioError(f"model.unsafe_threshold: must be true or false, got {unsafe!r}")
    if threshold < 5 and not unsafe:  # SCB's rule; lower only for models that stay in the secure environment
        raise ScenarioError(f"model.threshold: {threshold} is below SCB's 5; add unsafe_threshold = true only "
                            "for a model that stays inside the secure environment")
    return ModelSettings(
        strata=tuple(strata),
        threshold=threshold,
        min_observations=_int(raw.get("min_observations", 30), "model.min_observations", 0),
        bootstrap=_int(raw.get("bootstrap", 200), "model.bootstrap", 0, 100_000),
        shrinkage=_float(raw.get("shrinkage", 20.0), "model.shrinkage", 0.0, 1e6),
        cross_validation=_bool(raw.get("cross_validation", True), "model.cross_validation"),
    )


def _execution(raw: Any) -> Execution:
    raw = _table(raw if raw is not None else {}, "run", ("workers", "scheduler"))
    workers = raw.get("workers")
    scheduler = raw.get("scheduler")
    return Execution(workers=None if workers is None else _int(workers, "run.workers", 0, 4096),
                     scheduler=None if scheduler is None else _str(scheduler, "run.scheduler"))


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: must be true or false, got {value!r}")
    return value


def parse_scenario(raw: dict[str, Any], base: Path | None = None) -> Scenario:
    """Validate a parsed scenario dict (``base``: directory relative register paths start from)."""
    unknown = sorted(set(raw) - set(TOP))
    if unknown:
        raise ScenarioError(f"{unknown[0]}: unknown field; allowed: {', '.join(TOP)}")
    reps = _int(raw.get("replications", 5), "replications", 1, 10_000)
    return Scenario(
        name=_str(raw.get("name"), "name"),
        programmes=_programmes(raw.get("programme")),
        source=_source(raw.get("source"), base),
        model=_model(raw.get("model")),
        seed=_int(raw.get("seed", 7), "seed"),
        replications=reps,
        chain_replications=_int(raw.get("chain_replications", 1000), "chain_replications", 1, 1_000_000),
        max_replications=_int(raw.get("max_replications", reps), "max_replications", reps, 100_000),
        execution=_execution(raw.get("run")),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"scenario file {path} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path.name}: not valid TOML: {exc}") from None
    return parse_scenario(raw, path.parent)


def replace_source(scenario: Scenario, source: Source, municipality: str | None = None) -> Scenario:
    """The same scenario learning from another source (e.g. ``tiny`` for a quick run); with
    ``municipality``, every line is moved to that municipality."""
    from dataclasses import replace

    programmes = scenario.programmes
    if municipality is not None:
        programmes = tuple(replace(p, lines=tuple(replace(line, municipality=municipality) for line in p.lines))
                           for p in programmes)
    return replace(scenario, source=source, programmes=programmes)
