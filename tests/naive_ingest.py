"""Plain-Python reference implementations of the ingestion rules (tests only).

Readable and slow on purpose: one dictionary per person, loops everywhere.
``pair_moves`` restates the rules of ``flyttkedja.ingest._households`` for one
pair of snapshots; ``occupancy_through_events`` restates the numba kernel in
``flyttkedja.ingest._kernels``.
"""

from __future__ import annotations

import datetime as dt

ADULT_AGE = 18
NO_YOUNGEST = 2**31 - 1


def pair_moves(before: dict, after: dict, year: int, *, absent_origin="immigrant",
               absent_destination="emigrant", parent_gap=15, date=None, first_label=0) -> list[dict]:
    """Household moves between snapshots ``year - 1`` (before) and ``year`` (after).

    ``before``/``after``: person_id → dict(dwelling, birth_year, born_abroad, income,
    optional position, row); dwelling None = on no dwelling of the area, position None =
    not known; row = the person's row in that snapshot (the last tie-break; the person
    id when not given). A person missing from a dict is absent.
    """
    people = sorted(set(before) | set(after))
    attr = {}
    for p in people:
        was = before.get(p, {}).get("position")
        now = after.get(p, {}).get("position")
        # row order of the year's snapshot first, then of the previous one for persons gone
        rank = (0, after[p].get("row", p)) if p in after else (1, before[p].get("row", p))
        attr[p] = dict(after.get(p) or before[p], position=now if p in after else was,
                       position_before=was, outdated=False, rank=rank)
    moves = period_moves(
        d0={p: before[p]["dwelling"] if p in before else None for p in people},
        d1={p: after[p]["dwelling"] if p in after else None for p in people},
        attr=attr, year=year, date=date or dt.date(year, 12, 31),
        born={p for p in people if p not in before and attr[p]["birth_year"] > year - 1},
        origin_of={p: "in_migrant" if p in before else absent_origin for p in people},
        destination_of={p: "out_migrant" if p in after else absent_destination for p in people},
        order=None, parent_gap=parent_gap,
    )
    return sort_moves(moves, first_label)


def period_moves(d0, d1, attr, year, date, born, origin_of, destination_of, order, parent_gap):
    """The rules for one period: d0/d1 person → dwelling (None: none) at its start and end.

    ``order``: person → position of their event inside the period (None: unknown).
    """
    people = sorted(d0)
    stay, oldest = {}, {}
    for p in people:
        if d0[p] is not None:
            oldest[d0[p]] = min(oldest.get(d0[p], NO_YOUNGEST), attr[p]["birth_year"])
            if d0[p] == d1[p]:
                stay[d0[p]] = stay.get(d0[p], 0) + 1
    groups: dict[tuple, list[int]] = {}
    for p in people:
        if d0[p] == d1[p] or p in born:
            continue
        groups.setdefault((d0[p], d1[p]), []).append(p)
    info = {}
    for key, members in groups.items():
        head = min(members, key=lambda p: head_key(attr[p], p))
        info[key] = dict(members=members, head=head, head_by=attr[head]["birth_year"], head_rank=rank(attr[head], head),
                         last=max(order[p] for p in members) if order else 0,
                         first=min(order[p] for p in members) if order else 0)
    # the group that carries each emptied dwelling's household on (the last to leave,
    # else one moving on inside the area, else the oldest head), and each filler
    carrier, filler = {}, {}
    by_leaving = sorted(info.items(), key=lambda kv: (-kv[1]["last"], kv[0][1] is None, kv[1]["head_by"],
                                                     kv[1]["head_rank"]))
    for (a, b), g in by_leaving:
        if a is not None and stay.get(a, 0) == 0:
            carrier.setdefault(a, (a, b))
    by_arriving = sorted(info.items(), key=lambda kv: (kv[1]["first"], kv[0][0] is None, kv[1]["head_by"],
                                                       kv[1]["head_rank"]))
    for (a, b), g in by_arriving:
        if b is not None and stay.get(b, 0) == 0:
            filler.setdefault(b, (a, b))
    moves = []
    for (a, b), g in info.items():
        vacates = a is not None and carrier.get(a) == (a, b)
        fills = b is not None and filler.get(b) == (a, b)
        if (b is None and not vacates) or (a is None and not fills and stay.get(b, 0) > 0):
            continue  # a member leaving a household that stays, or joining one from outside
        was = attr[g["head"]].get("position_before")
        if was is not None:  # the family position before the move says who leaves home
            home_leaver = a is not None and not vacates and was == "child"
        else:
            home_leaver = a is not None and not vacates and g["head_by"] >= oldest[a] + parent_gap
        head = g["head"]
        if a is None:
            origin = origin_of[head]
        else:
            origin = "new_household" if home_leaver else "dwelling"
        destination = "dwelling" if b is not None else destination_of[head]
        moves.append(_move(g["members"], head, attr, year, date, None if home_leaver else a, b,
                           origin, destination, vacates, fills, g["head_rank"], parent_gap))
    return moves


def head_key(a: dict, p: int) -> tuple:
    """The head is the first member by: family position head, position not outdated,
    oldest, first in row order (never the id's value; without positions: the oldest)."""
    return (a.get("position") != "head", bool(a.get("outdated")), a["birth_year"], rank(a, p))


def rank(a: dict, p: int):
    """The person's place in the input's row order (the person id when the caller gives none)."""
    return a.get("rank", p)


def is_child(a: dict, oldest: int, parent_gap: int) -> bool:
    """By family position when known (but an outdated child), else born at least parent_gap years after the
    oldest member."""
    if a.get("position") is not None and not (a.get("outdated") and a["position"] == "child"):
        return a["position"] == "child"
    return a["birth_year"] >= oldest + parent_gap


def positions_at(p, year, step, steps, positions) -> dict:
    """Family position of person ``p`` at their event ``step`` in ``year`` (see docs/ingest.md).

    ``positions``: (person, snapshot year) → position (None: not known) for the
    snapshots the person is in; ``steps``: the person's non-birth event steps that year.
    """
    def latest(upto):
        years = [y for (q, y) in positions if q == p and y <= upto]
        return (positions[(p, max(years))], max(years)) if years else (None, None)
    now, now_year = latest(year)
    before, _ = latest(year - 1)
    use_before = step < max(steps) and before is not None
    position = before if use_before else now
    outdated = (use_before or (now_year is not None and now_year < year)) and step > min(steps)
    return dict(position=position, position_before=before, outdated=outdated and position is not None)


def day_moves(events: list[tuple], location: dict, attr: dict, *, ordered=True, parent_gap=15,
              positions: dict | None = None) -> list[dict]:
    """Reference for ``from_person_moves``: events (person, date, kind, from, to) in table order.

    ``location``: person → dwelling (None: on none) for persons present at the start;
    ``attr``: person → dict(birth_year, born_abroad, income) (income constant here);
    ``positions``: (person, snapshot year) → family position, for :func:`positions_at`.
    Each day is three periods: births followed that day by another event of the same
    person, then every other non-birth event, then the other births.
    """
    per_day: dict = {}
    for p, date, *_ in events:
        per_day[(p, date)] = per_day.get((p, date), 0) + 1

    def phase(e):
        if e[2] != "birth":
            return 1
        return 0 if per_day[(e[0], e[1])] > 1 else 2

    indexed = sorted(enumerate(events), key=lambda ie: (ie[1][1], phase(ie[1]), ie[0]))
    person_steps: dict = {}  # (person, year) → (date, phase) of their non-birth events
    for _, e in indexed:
        if e[2] != "birth":
            person_steps.setdefault((e[0], e[1].year), []).append((e[1], phase(e)))
    loc = dict(location)
    moves = []
    steps = sorted({(e[1], phase(e)) for e in events})
    for date, ph in steps:
        today = [(i, e) for i, e in indexed if (e[1], phase(e)) == (date, ph)]
        involved = {e[0] for _, e in today}
        d0 = {p: loc.get(p) for p in set(loc) | involved}
        for _, (p, _, kind, f, t) in today:
            if t is None:
                loc.pop(p, None)
            else:
                loc[p] = t
        d1 = {p: loc.get(p) for p in d0}
        kinds = {e[0]: e[2] for _, e in today}
        origin_of = {p: {"in_migration": "in_migrant", "immigration": "immigrant"}.get(kinds.get(p)) for p in d0}
        destination_of = {p: {"out_migration": "out_migrant", "emigration": "emigrant", "death": "dissolved"}.get(
            kinds.get(p)) for p in d0}
        order = {e[0]: i for i, e in today} if ordered else None
        if order is not None:
            order = {p: order.get(p, 0) for p in d0}
        now = {p: dict(a) for p, a in attr.items()}
        for i, e in today:
            if e[0] in now:  # the event's row in the events table: the last tie-break
                now[e[0]]["rank"] = i
        for p, k in kinds.items():
            if k != "birth" and positions is not None:
                now[p] = dict(now[p], **positions_at(p, date.year, (date, ph), person_steps[(p, date.year)], positions))
        moves += period_moves(d0, d1, now, date.year, date, {p for p, k in kinds.items() if k == "birth"},
                              origin_of, destination_of, order, parent_gap)
    return sort_moves(moves)


def _move(members, head, attr, year, date, a, b, origin, destination, vacates, fills, start, parent_gap):
    adults = sum(year - attr[p]["birth_year"] >= ADULT_AGE for p in members)
    size = len(members)
    oldest = min(attr[p]["birth_year"] for p in members)
    # the head is never a child of its own household (a home leaver's position may be the one before)
    children = sum(is_child(attr[p], oldest, parent_gap) for p in members if p != head)
    kind = {(1, False): "single", (2, False): "couple", (1, True): "single_parent",
            (2, True): "couple_with_children"}.get((size - children, children > 0), "other")
    return dict(
        household_id=start, move_date=date, from_dwelling=a, to_dwelling=b, origin=origin,
        destination=destination, vacates=vacates, fills=fills, size=size, adults=adults,
        age_head=year - attr[head]["birth_year"], income=sum(attr[p]["income"] for p in members),
        household_type=kind, born_abroad=attr[head]["born_abroad"], _start=start,
    )


def sort_moves(moves: list[dict], first_label: int = 0) -> list[dict]:
    """The order ``from_snapshots`` writes: date, to, from (nulls last), the head's row;
    household_id then numbers the moves from ``first_label``."""
    def key(m):
        def nl(v):
            return (v is None, v if v is not None else 0)
        return (m["move_date"], nl(m["to_dwelling"]), nl(m["from_dwelling"]), m["_start"])
    out = sorted(moves, key=key)
    for i, m in enumerate(out):
        m.pop("_start")
        m["household_id"] = first_label + i
    return out


def occupancy_through_events(events: list[tuple], location: dict, birth_year: dict):
    """Reference for the kernel: events are (person, day, from, to) sorted by day; None = no dwelling.

    Returns lists stay_from, stay_to, oldest_from, status (0 ok, 1 wrong from, 2 already housed).
    """
    residents: dict = {}
    for p, d in location.items():
        if d is not None:
            residents.setdefault(d, set()).add(p)
    location = dict(location)
    out = {"stay_from": [], "stay_to": [], "oldest_from": [], "status": []}
    days = sorted({e[1] for e in events})
    for day in days:
        today = [e for e in events if e[1] == day]
        start = {d: set(r) for d, r in residents.items()}
        leaving: dict = {}
        status = []
        for p, _, f, _t in today:
            if f is not None:
                ok = location.get(p) == f
                if ok:
                    leaving[f] = leaving.get(f, 0) + 1
                status.append(0 if ok else 1)
            else:
                status.append(2 if location.get(p) is not None else 0)
        for (p, _, f, t), s in zip(today, status):
            out["stay_from"].append(len(start.get(f, ())) - leaving.get(f, 0) if f is not None else 0)
            out["stay_to"].append(len(start.get(t, ())) - leaving.get(t, 0) if t is not None else 0)
            out["oldest_from"].append(
                min((birth_year[q] for q in start.get(f, ())), default=NO_YOUNGEST) if f is not None else NO_YOUNGEST
            )
            out["status"].append(s)
        for (p, _, f, t), s in zip(today, status):
            if s:
                continue
            if f is not None:
                residents[f].discard(p)
                location[p] = None
            if t is not None:
                residents.setdefault(t, set()).add(p)
                location[p] = t
    return out
