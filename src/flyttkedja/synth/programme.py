"""A new-build programme for the synthetic market: a declarative spec the simulator builds.

A :class:`Programme` is a list of :class:`ProgrammeLine` s -- *count*
dwellings alike (tenure, landlord, rooms, building type, where, when, rent or
price level, allocation rule) -- that :func:`flyttkedja.synth.simulate.simulate`
adds to the regular new builds. Scenario code (the paired microsimulation)
passes one in; it never touches the simulator's arrays.

The programme's dwellings draw from their own random stream and have their
own stable keys, so the regular new builds, the arrivals and every draw of
households the programme's effects did not reach are the same as without it
(docs/synthetic.md, "Random streams").

Example
-------
>>> from flyttkedja.synth.programme import Programme, ProgrammeLine
>>> prog = Programme((ProgrammeLine(count=40, tenure="rental", rooms=2, landlord="public",
...                                 municipality="9983", allocation="seniors"),), years=2)
>>> prog.dwellings
40
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flyttkedja.schema import AREA_TYPES, BUILDING_TYPES, LANDLORDS, TENURES
from flyttkedja.synth import _state as K
from flyttkedja.synth.config import N_ROOMS, ConfigError, SynthConfig

ALLOCATIONS = K.ALLOCATIONS  # open, seniors (head 65+), young_adults (head 18-29), low_income, families
DEFAULT_INCOME_CEILING = 250_000  # SEK/year household income: the low_income rule's default ceiling


@dataclass(frozen=True)
class ProgrammeLine:
    """``count`` new dwellings alike.

    Parameters
    ----------
    count : int
        Dwellings in the line.
    tenure : str
        ``rental``, ``cooperative`` or ``owner``.
    rooms : int
        1 to 5 (5 = five or more).
    landlord : str, optional
        ``public`` or ``private`` for rentals (a rental without one is private).
    building_type : str
        ``multi_dwelling`` or ``small_house``.
    municipality : str, optional
        Four-digit code of one of the preset's municipalities; None: anywhere.
    area_type : str, optional
        A RegSO area type; None: any. With ``area_id`` the area itself (1-based, as published).
    completion_years : tuple of int, optional
        Calendar years in which the line is completed, spread evenly over them;
        None: spread evenly over the programme's first ``years`` years.
    level : float
        Multiplies the preset's new-build rent or price level (income needed).
    allocation : str
        Who may get the dwellings, at completion and at every re-letting:
        ``open``, ``seniors`` (head 65+), ``young_adults`` (head 18-29),
        ``low_income`` (household income below ``income_ceiling``),
        ``families`` (with children). See docs/synthetic.md, "Allocated housing".
    income_ceiling : int, optional
        SEK/year, for ``low_income`` (default 250,000).
    """

    count: int
    tenure: str
    rooms: int
    landlord: str | None = None
    building_type: str = "multi_dwelling"
    municipality: str | None = None
    area_type: str | None = None
    area_id: int | None = None
    completion_years: tuple[int, ...] | None = None
    level: float = 1.0
    allocation: str = "open"
    income_ceiling: int | None = None


@dataclass(frozen=True)
class Programme:
    """Lines of new dwellings; ``years``: how many first years of the window the lines are spread over."""

    lines: tuple[ProgrammeLine, ...]
    years: int = 1
    name: str = "programme"

    @property
    def dwellings(self) -> int:
        return sum(line.count for line in self.lines)

    def validate(self, cfg: SynthConfig) -> None:
        """Raise :class:`ConfigError` naming the line and field of the first problem."""
        codes = [m["code"] for m in cfg.section("municipality")]
        if not isinstance(self.years, int) or self.years < 0:
            raise ConfigError(f"programme {self.name!r}: years must be a non-negative whole number")
        for i, line in enumerate(self.lines):
            where = f"programme {self.name!r} line {i}"
            if not isinstance(line.count, (int, np.integer)) or line.count < 0:
                raise ConfigError(f"{where}: count must be a non-negative whole number, got {line.count!r}")
            for field, value, allowed in (("tenure", line.tenure, TENURES),
                                          ("building_type", line.building_type, BUILDING_TYPES),
                                          ("allocation", line.allocation, ALLOCATIONS)):
                if value not in allowed:
                    raise ConfigError(f"{where}: {field} {value!r} is not one of {', '.join(allowed)}")
            if line.landlord is not None and line.landlord not in LANDLORDS:
                raise ConfigError(f"{where}: landlord {line.landlord!r} is not one of {', '.join(LANDLORDS)}")
            if line.area_type is not None and line.area_type not in AREA_TYPES:
                raise ConfigError(f"{where}: area_type {line.area_type!r} is not one of {', '.join(AREA_TYPES)}")
            if not 1 <= line.rooms <= N_ROOMS:
                raise ConfigError(f"{where}: rooms must be 1..{N_ROOMS}, got {line.rooms!r}")
            if line.municipality is not None and line.municipality not in codes:
                raise ConfigError(f"{where}: municipality {line.municipality} is not in the preset; "
                                  f"choose one of {', '.join(codes)}")
            if not line.level > 0:
                raise ConfigError(f"{where}: level must be positive, got {line.level!r}")
            window = range(cfg.first_year, cfg.first_year + cfg.years)
            for year in line.completion_years or ():
                if year not in window:
                    raise ConfigError(f"{where}: completion year {year} is outside the window "
                                      f"{window.start}-{window.stop - 1}")

    def count_in_year(self, line: ProgrammeLine, year_index: int, first_year: int) -> int:
        """Dwellings of ``line`` completed in the window's year ``year_index`` (spread evenly)."""
        if line.completion_years:
            years = sorted(set(line.completion_years))
            year = first_year + year_index
            if year not in years:
                return 0
            k = years.index(year)
            return line.count * (k + 1) // len(years) - line.count * k // len(years)
        if year_index >= self.years:
            return 0
        return line.count * (year_index + 1) // self.years - line.count * year_index // self.years


def placement(line: ProgrammeLine, area_type, municipality, area_id=None) -> np.ndarray:
    """Share of the line's dwellings each area gets: evenly over the areas that match the line.

    The one placement rule of a programme line (the simulator draws its
    dwellings' areas uniformly from the matching areas; the transition model
    averages over the same areas when a line leaves its area open).
    ``area_type`` and ``municipality``: one label per area (str; ``area_id``:
    1-based ids, needed only for lines that name one). Returns (areas,)
    weights summing to 1, or all zeros when no area matches.

    >>> placement(ProgrammeLine(count=10, tenure="rental", rooms=2, municipality="9983"),
    ...           ["mixed", "good", "mixed"], ["9983", "9983", "9980"]).tolist()
    [0.5, 0.5, 0.0]
    """
    ok = np.ones(len(area_type), bool)
    if line.area_id is not None:
        ok &= np.asarray(area_id) == line.area_id
    if line.municipality is not None:
        ok &= np.asarray(municipality, dtype=object) == line.municipality
    if line.area_type is not None:
        ok &= np.asarray(area_type, dtype=object) == line.area_type
    return ok / ok.sum() if ok.any() else ok.astype(np.float64)


def _areas(line: ProgrammeLine, region, codes: list[str], name: str) -> np.ndarray:
    weight = placement(line, np.array(AREA_TYPES, dtype=object)[region.area_type],
                       np.array(codes, dtype=object)[region.area_muni], np.arange(1, len(region.area_muni) + 1))
    if not weight.any():
        raise ConfigError(f"programme {name!r}: no area of type {line.area_type} in municipality "
                          f"{line.municipality}" + (f" with area_id {line.area_id}" if line.area_id else ""))
    return np.flatnonzero(weight)


def programme_dwellings(cfg: SynthConfig, programme: Programme, year_index: int, rng: np.random.Generator,
                        region, day0: int, ndays: int, building_start: int):
    """The programme's completions in one year, in the form of :func:`population.new_builds`."""
    from flyttkedja.synth.population import FLOOR_AREA_BY_ROOMS, buildings, dwelling_rows, new_build_premium

    codes = [m["code"] for m in cfg.section("municipality")]
    size = cfg.section("new_builds")["project_size"]
    parts = []
    for li, line in enumerate(programme.lines):
        n = programme.count_in_year(line, year_index, cfg.first_year)
        if n == 0:
            continue
        area = rng.choice(_areas(line, region, codes, programme.name), size=n)
        tenure = np.full(n, TENURES.index(line.tenure))
        rooms = np.full(n, line.rooms)
        d, _, _ = dwelling_rows(cfg, rng, area, region.area_type[area], tenure, rooms, region.area_muni[area],
                                np.full(n, 1.0 if line.landlord == "public" else 0.0))
        btype = np.full(n, BUILDING_TYPES.index(line.building_type), np.int8)
        floor = np.maximum(FLOOR_AREA_BY_ROOMS[rooms - 1] + 20 * btype + rng.normal(0, 8, n), 15).astype(np.int16)
        d[:, K.D_COST] = (d[:, K.D_COST] * new_build_premium(cfg, d) * line.level).astype(np.int64)
        d[:, K.D_STATE] = K.DS_FUTURE
        d[:, K.D_ALLOC] = ALLOCATIONS.index(line.allocation)
        d[:, K.D_CEILING] = line.income_ceiling if line.income_ceiling is not None else DEFAULT_INCOME_CEILING
        d[:, K.D_LINE] = li
        parts.append((d, btype, floor, area * 3 + tenure))
    if not parts:
        return (np.empty((0, K.D_NCOL), np.int64), np.empty(0, np.int8), np.empty(0, np.int16),
                np.empty(0, np.int64), np.empty(0, np.int64))
    d, btype, floor, group = (np.concatenate(x) for x in zip(*parts))
    building = buildings(group, btype, size["multi_dwelling"], size["small_house"], building_start)
    days = day0 + rng.integers(0, ndays, int(building.max()) - building_start + 1)
    return d, btype, floor, building, days[building - building_start]
