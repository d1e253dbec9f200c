"""Plain-Python references for the synthetic register (slow, obviously correct).

* :func:`chain_truth` recomputes the ground truth from the moves and dwellings
  alone, by the chain rule of the briefing, event by event. If the simulator's
  causal bookkeeping agrees with it, a correct tracer recovers the truth.
* :func:`replay_occupancy` replays the moves over the initial snapshot and
  checks the occupancy invariants.
* :func:`replay_panel` replays the person events over each snapshot and
  returns the next year's dwelling per person.
* :func:`snapshot_rows` states the year-end snapshot row by row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

REASON_BY_ORIGIN = {"new_household": "new_household", "in_migrant": "in_migrant", "immigrant": "immigrant"}


def chain_truth(moves: list[dict], dwellings: list[dict], window: tuple[dt.date, dt.date], max_gap: int):
    """(filled_after, filled_new_build, chains) by the chain rule.

    ``filled_after[row]`` is the vacating row whose vacancy move ``row`` filled
    (None otherwise); ``chains`` maps seed dwelling → (length, end_reason,
    end_date, [move rows]).
    """
    start, end = window
    events = defaultdict(list)  # dwelling -> [(date, order, row, kind)]
    for dw in dwellings:
        c = dw["completed"]
        if c is not None and start <= c <= end:
            events[dw["dwelling_id"]].append((c, 0, -1, "completion"))
        if dw["demolished"] is not None and start <= dw["demolished"] <= end:
            events[dw["dwelling_id"]].append((dw["demolished"], 2, 10**18, "demolition"))
    for row, m in enumerate(moves):
        if not (start <= m["move_date"] <= end):
            continue
        if m["vacates"]:
            events[m["from_dwelling"]].append((m["move_date"], 0, row, "departure"))
        if m["fills"]:
            events[m["to_dwelling"]].append((m["move_date"], 1, row, "arrival"))
    filled_after = [None] * len(moves)
    filled_new = [False] * len(moves)
    vacancy_end = {}  # (dwelling, row or -1) -> filling row or an end reason
    for dwelling, evs in events.items():
        evs.sort(key=lambda e: (e[0], e[1], e[2]))
        for i, (date, _, row, kind) in enumerate(evs):
            if kind not in ("completion", "departure"):
                continue
            nxt = evs[i + 1] if i + 1 < len(evs) else None
            if nxt is not None and nxt[3] == "arrival" and (nxt[0] - date).days <= max_gap:
                vacancy_end[(dwelling, row)] = nxt[2]
                if kind == "completion":
                    filled_new[nxt[2]] = True
                else:
                    filled_after[nxt[2]] = row
            elif nxt is None and (end - date).days < max_gap:
                vacancy_end[(dwelling, row)] = "censored"
            else:
                vacancy_end[(dwelling, row)] = "unfilled"
    chains = {}
    seeds = sorted((dw["completed"], dw["dwelling_id"]) for dw in dwellings
                   if dw["completed"] is not None and start <= dw["completed"] <= end)
    for seed_date, seed in seeds:
        links, end_date, key = [], seed_date, (seed, -1)
        while True:
            nxt = vacancy_end[key]
            if isinstance(nxt, str):
                reason = nxt
                break
            if nxt in links:
                reason = "cycle"
                break
            links.append(nxt)
            m = moves[nxt]
            end_date = m["move_date"]
            if m["from_dwelling"] is None:
                reason = REASON_BY_ORIGIN[m["origin"]]
                break
            if not m["vacates"]:
                reason = "not_vacated"
                break
            key = (m["from_dwelling"], nxt)
        chains[seed] = (len(links), reason, end_date, links)
    return filled_after, filled_new, chains


def replay_occupancy(moves: list[dict], initial: dict[int, int]) -> list[str]:
    """Replay household moves over ``initial`` (household → dwelling); list every violation.

    Within a date all departures come before all arrivals, as in the chain
    rule; that is what lets a swap's two households trade places.
    """
    problems = []
    occupants = defaultdict(set)
    for h, dw in initial.items():
        occupants[dw].add(h)
    for dw, hs in occupants.items():
        if len(hs) > 1:
            problems.append(f"dwelling {dw} starts with {len(hs)} households")
    by_date = defaultdict(list)
    for row, m in enumerate(moves):
        by_date[m["move_date"]].append((row, m))
        if (m["origin"] == "dwelling") != (m["from_dwelling"] is not None):
            problems.append(f"row {row}: origin {m['origin']} with from_dwelling {m['from_dwelling']}")
        if (m["destination"] == "dwelling") != (m["to_dwelling"] is not None):
            problems.append(f"row {row}: destination {m['destination']} with to_dwelling {m['to_dwelling']}")
    for date in sorted(by_date):
        rows = by_date[date]
        seen = set()
        for row, m in rows:
            h = m["household_id"]
            if h in seen:
                problems.append(f"row {row}: household moves twice on {date}")
            seen.add(h)
            src = m["from_dwelling"]
            if src is None:
                continue
            if m["vacates"]:
                if occupants[src] != {h}:
                    problems.append(f"row {row}: vacates {src} held by {sorted(occupants[src])}, not only the mover")
                occupants[src].discard(h)
            elif not occupants[src]:
                problems.append(f"row {row}: leaves {src} without vacating it, but it is empty")
        for row, m in rows:
            dst = m["to_dwelling"]
            if dst is None:
                continue
            if m["fills"]:
                if occupants[dst]:
                    problems.append(f"row {row}: fills {dst}, which holds {len(occupants[dst])} household(s)")
                occupants[dst].add(m["household_id"])
            elif not occupants[dst]:
                problems.append(f"row {row}: joins {dst}, which is empty")
    return problems


def replay_panel(snapshot: dict[int, int], events: list[dict]) -> dict[int, int]:
    """Apply one year's person events (in order) to person → dwelling; return the new map."""
    state = dict(snapshot)
    for e in events:
        q = e["person_id"]
        if e["event"] in ("birth", "in_migration", "immigration"):
            assert q not in state, f"person arrives twice: event {e}"
        else:
            assert state.get(q) == e["from_dwelling"], f"event {e} does not start where the person is"
        if e["to_dwelling"] is None:
            state.pop(q, None)
        else:
            state[q] = e["to_dwelling"]
    return state


def snapshot_rows(households: list[dict], persons: list[dict], income_cap: int) -> list[tuple]:
    """(person, household, dwelling, capped income, family position) of each person in a household.

    Position: head 0, partner 1, child 2, other 3 -- the first that holds.
    """
    rows = []
    for q, person in enumerate(persons):
        h = person["household"]
        if h < 0:
            continue
        hh = households[h]
        if hh["head"] == q:
            position = 0
        elif hh["partner"] == q:
            position = 1
        elif person["child"]:
            position = 2
        else:
            position = 3
        rows.append((q, h, hh["dwelling"], min(person["income"], income_cap), position))
    return rows


# ---------------------------------------------------------------- kernel references
M64 = (1 << 64) - 1


def stable_argsort(keys: list[int]) -> list[int]:
    """Indices that sort ``keys``, ties in their original order (Python's sort is stable)."""
    return sorted(range(len(keys)), key=lambda i: keys[i])


def mix(z: int) -> int:
    """splitmix64 finaliser on Python ints."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def hash3(key: int, a: int, b: int) -> int:
    z = mix(key ^ ((a * 0x9E3779B97F4A7C15) & M64))
    return mix(z ^ ((b * 0xD6E8FEB86659FD93) & M64))


def u01(key: int, a: int, b: int) -> float:
    """Uniform for stream ``key``, identity ``a``, draw ``b`` (flyttkedja._random.u01)."""
    return (hash3(key, a, b) >> 11) * (1.0 / 9007199254740992.0)


def u01x(key: int, a: int, b: int, c: int) -> float:
    """Uniform for stream ``key``, identity ``a``, counters ``b``, ``c`` (flyttkedja._random.u01x)."""
    z = mix(hash3(key, a, b) ^ ((c * 0xA0761D6478BD642F) & M64))
    return (z >> 11) * (1.0 / 9007199254740992.0)


def ident(kind: int, a: int, b: int) -> int:
    """Stable identity key (flyttkedja.synth._state.ident)."""
    return hash3(0x2545F4914F6CDD1D ^ kind, a & M64, b & M64) >> 1


def seeker_segments(tenure: int, rooms: int, broad: bool) -> list[int]:
    """Segments (tenure * 5 + rooms - 1) a vacancy looks in, in order."""
    out = [(tenure, rooms)]
    if rooms > 1:
        out.append((tenure, rooms - 1))
    if broad:
        if rooms < 5:
            out.append((tenure, rooms + 1))
        if tenure != 0:
            other = 2 if tenure == 1 else 1
            out.append((other, rooms))
            if rooms > 1:
                out.append((other, rooms - 1))
    return [t * 5 + r - 1 for t, r in out]


def couple_state(own: int, partner: int) -> int:
    """State of a couple's seeker (0 gone, 1 usable, 2 not today) from the seeker's own and the partner's
    (a single waiting in its own dwelling, or a young adult waiting at home): gone when either is (the
    single has a partner already, the young adult left home alone), not today when either moved today."""
    if own == 0 or partner == 0:
        return 0
    return 2 if 2 in (own, partner) else 1


N_ATYPE, N_BAND, BAND_BASE, BAND_STEP = 5, 12, 100_000.0, 1.17  # flyttkedja.synth._state


def income_band(x: float) -> int:
    """Income band of what one can pay (flyttkedja.synth._state.N_BAND)."""
    if x < BAND_BASE:
        return 0
    return min(N_BAND - 1, 1 + int(math.log(x / BAND_BASE) / math.log(BAND_STEP)))


def reach_radius(u: float, reach: float) -> int:
    """Area-type steps a seeker looks from its own: the largest k <= 4 with u < reach ** k."""
    k = 0
    while k < N_ATYPE - 1 and u < reach ** (k + 1):
        k += 1
    return k


def asking(dwelling: dict, day: int, par: dict) -> float:
    """Income (times buying power) a seeker needs for a vacancy today: the asking level falls by ``cut`` a
    month down to ``floor``; a private landlord's rental asks ``private`` times that."""
    cut = max(par["floor"], 1.0 - par["cut"] * (day - dwelling["vacday"]) / 30.0)
    need = dwelling["cost"] * cut
    if dwelling["tenure"] == 0 and dwelling.get("landlord", 0) != 0:
        need *= par.get("private", 1.0)
    return need


def seeker_lists(dwelling: dict, broad: bool, band_low: int) -> list[tuple]:
    """The seeker lists a vacancy walks, in order, as (segment, wide, area type or None for arrivals, reach,
    band): per segment, bands from the top down to ``band_low``; per band its municipality's seekers, then
    those who look everywhere; per scope the own area type (reach 0, 1, ...), arrivals, then one step away
    (poorer first, then richer) with reach 1, 2, ..., two steps away with reach 2, ..."""
    out = []
    a0 = dwelling["atype"]
    for seg in seeker_segments(dwelling["tenure"], dwelling["rooms"], broad):
        for band in range(N_BAND - 1, band_low - 1, -1):
            for wide in (False, True):
                out += [(seg, wide, a0, radius, band) for radius in range(N_ATYPE)]
                out.append((seg, wide, None, 0, band))
                for step in range(1, N_ATYPE):
                    for a in (a0 - step, a0 + step):
                        if 0 <= a < N_ATYPE:
                            out += [(seg, wide, a, radius, band) for radius in range(step, N_ATYPE)]
    return out


def find_seeker(seekers: list[dict], dwelling: dict, day: int, key: int, par: dict, broad: bool):
    """Index of the winning seeker for a vacancy, or None.

    ``seekers`` in list order, each with seg, state (0 gone, 1 usable, 2 not today), kind, income, muni,
    queue, index, key (stable), age and kids of the head's household, atype (-1: arriving), reach, wide
    and pay (income times buying power for its target tenure, rounded up). A seeker is in the lists of its
    segment, scope (own municipality, or every one if ``wide``), area type and reach, and band of ``pay``;
    the vacancy walks :func:`seeker_lists` in order, each oldest first. A seeker who cannot pay
    (:func:`asking`) is passed over and not counted; at most ``scan`` seekers who can pay are examined and
    at most ``candidates`` compatible ones (usable today, eligible); the highest score wins. The
    dwelling's allocation rule (``alloc``: 0 open, 1 seniors, 2 young adults, 3 low income below
    ``ceiling``, 4 families) admits only eligible seekers; the jitter is keyed to both stable keys.
    """
    need = asking(dwelling, day, par)
    t = dwelling["tenure"]
    cls = (0 if dwelling["landlord"] == 0 else 1) if t == 0 else t + 1
    best, best_score, scanned, found = None, -1e300, 0, 0
    for seg, wide, a, radius, band in seeker_lists(dwelling, broad, income_band(need)):
        for s in seekers:
            if s["seg"] != seg or s["wide"] != wide or income_band(s["pay"]) != band:
                continue
            if not wide and s["muni"] != dwelling["muni"]:
                continue
            if a is None:
                if s["atype"] >= 0:
                    continue
            elif s["atype"] != a or s["reach"] != radius:
                continue
            if scanned >= par["scan"] or found >= par["candidates"]:
                return best
            if s["state"] == 0 or s["income"] * buying_power(par, s["kind"], t) < need:
                continue
            scanned += 1
            if s["state"] != 1 or not eligible(dwelling.get("alloc", 0), dwelling.get("ceiling", 0), s):
                continue
            found += 1
            score = (par["qw"][cls] * (day - s["queue"]) / 365.0
                     + par["iw"][cls] * math.log(max(s["income"], 1000))
                     + par["bonus"][s["kind"]] + par["jitter"] * u01x(key, s["key"], dwelling["key"], DR_JITTER))
            if s["muni"] == dwelling["muni"]:
                score += par["same_muni"]
            if s.get("couple", False) and dwelling.get("new", False):
                score += par["couple_new"]
            if score > best_score:
                best, best_score = s["index"], score
    return best


DR_CROSS, DR_JITTER, DR_AREA = 70, 80, 130  # draw counters of flyttkedja.synth._state


def buying_power(par: dict, kind: int, tenure: int) -> float:
    """Leave-home (kind 1) and split (kind 2) seekers buy (tenure 1, 2) with ``help`` times their income."""
    return par.get("help", 1.0) if tenure != 0 and kind in (1, 2) else 1.0


def reaches(s: dict, dwelling: dict) -> bool:
    """Whether a seeker looks where the dwelling is: its own municipality (every one if ``wide``), and its own
    area type or one at most ``reach`` steps away (an arrival, ``atype`` -1, looks in every area type)."""
    if not s.get("wide", False) and s["muni"] != dwelling["muni"]:
        return False
    a = s.get("atype", -1)
    return a < 0 or abs(dwelling.get("atype", 0) - a) <= s.get("reach", N_ATYPE - 1)


def eligible(alloc: int, ceiling: int, s: dict) -> bool:
    """The allocation rules of docs/synthetic.md, "Allocated housing": an arrival (kind 3 in-migrant,
    4 immigrant) never gets an allocated dwelling; the others by the rule."""
    if alloc == 0:
        return True
    if s["kind"] >= 3:
        return False
    if alloc == 1:
        return s["age"] >= 65
    if alloc == 2:
        return 18 <= s["age"] <= 29
    if alloc == 3:
        return s["income"] < ceiling
    return s["kids"] > 0


def pick(hazards: list[float], key: int, h: int, slot: int, day0: int, ndays: int) -> tuple[int, int]:
    """Competing risks: which hazard fires this year (-1: none) and on which day."""
    total = sum(hazards)
    if total <= 0 or u01(key, h, 10 * slot) >= 1.0 - math.exp(-total):
        return -1, 0
    x = u01(key, h, 10 * slot + 1) * total
    acc = 0.0
    for kind, hz in enumerate(hazards):
        acc += hz
        if x < acc:
            break
    return kind, day0 + int(u01(key, h, 10 * slot + 2) * ndays)


def choose_target(cost, p_owner, p_coop, kind, size, kids, core, age, income, cur_tenure, cur_rooms, u1, u2, u3,
                  help=1.0):
    """(tenure, rooms) a seeker looks for: rooms from household size, tenure from income (times ``help`` for
    leave-home and split seekers buying)."""
    buy = income * help if kind in (1, 2) else income
    if size <= 1:
        rooms = 2 if income > cost[0][3] * 1.6 and u1 < 0.6 else 1
    elif size == 2:
        rooms = 3 if kids == 0 and income > cost[1][2] * 1.3 and u1 < 0.5 else 2
    else:
        rooms = min(size, 5)
    if kind == 0 and cur_rooms > rooms and age < 65 and size <= cur_rooms:
        rooms = cur_rooms
    if kind == 0 and cur_rooms >= rooms and age < 65 and u3 < 0.5:
        rooms = min(cur_rooms + 1, 5)
    settled = kids > 0 or core >= 2 or age >= 40
    if cur_tenure == 2:
        p_owner = 0.5 + 0.5 * p_owner
    if buy >= cost[2][rooms - 1] and settled and u2 < p_owner:
        return 2, rooms
    p_coop = p_coop * (0.5 if age < 25 else 1.0)
    if cur_tenure == 1:
        p_coop = 0.5 + 0.5 * p_coop
    if buy >= cost[1][rooms - 1] and u3 < p_coop:
        return 1, rooms
    return 0, rooms


def joined_moves(moves: list[dict]) -> list:
    """Per move: the row of the move that filled its to_dwelling the same day, if it joins it there."""
    fills = {(m["to_dwelling"], m["move_date"]): row for row, m in enumerate(moves)
             if m["fills"] and m["to_dwelling"] is not None}
    return [fills.get((m["to_dwelling"], m["move_date"])) if not m["fills"] and m["to_dwelling"] is not None
            else None for m in moves]


def find_vacancy(vacancies: list[dict], seeker: dict, day: int, par: dict):
    """Index of the open vacancy a new seeker takes, or None.

    ``vacancies`` in the order they were listed, each with seg (tenure * 5 + rooms - 1), live (still
    open), cost, vacday, muni, atype, landlord, alloc, ceiling and index; ``seeker`` with seg, kind,
    income, muni, atype, reach, wide, age, kids. In the seeker's own segment, then the one with one room
    more (not beyond 5 rooms): the vacancy lists of each municipality it looks in (ascending) and area type
    within its reach (ascending), each walked to its first vacancy the seeker can pay and may take; the
    one listed first of those wins. At most ``scan`` live entries are examined in all.
    """
    t, r0 = divmod(seeker["seg"], 5)
    scanned = 0
    a = seeker["atype"]
    lo, hi = (0, N_ATYPE - 1) if a < 0 else (max(0, a - seeker["reach"]), min(N_ATYPE - 1, a + seeker["reach"]))
    for rooms in (r0 + 1, r0 + 2):
        if rooms > 5:
            break
        firsts = []
        for mu in sorted({v["muni"] for v in vacancies} | {seeker["muni"]}):
            if not seeker["wide"] and mu != seeker["muni"]:
                continue
            for at in range(lo, hi + 1):
                for v in vacancies:
                    if v["seg"] != t * 5 + rooms - 1 or v["muni"] != mu or v["atype"] != at or not v["live"]:
                        continue
                    if scanned >= par["scan"]:
                        break
                    scanned += 1
                    if (seeker["income"] * buying_power(par, seeker["kind"], t) >= asking(v, day, par)
                            and eligible(v["alloc"], v["ceiling"], seeker)):
                        firsts.append(v["index"])
                        break
        if firsts:
            return min(firsts)
    return None
