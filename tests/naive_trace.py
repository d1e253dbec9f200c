"""Plain-Python reference tracer: the chain rule of docs/chains.md, line by line.

Readable on purpose: dicts, lists and loops, no numpy, no cleverness. The numba
tracer in ``flyttkedja.core`` must give exactly the same chains, links, end
reasons and vacancy statistics (``tests/test_trace_naive.py``).

Input: plain lists of dicts (one per move / dwelling, in table order) with dates
as ``datetime.date``. The row number of a move is its index in the list.
"""

from __future__ import annotations

from datetime import date, timedelta

DEPARTURE, ARRIVAL, DEMOLITION = 0, 1, 2   # same-day order at one dwelling


def dwelling_events(moves: list[dict], dwellings: list[dict], window: tuple[date, date]) -> dict:
    """Rule items 1, 2 and 4: every dwelling's events in its own order.

    An event is a tuple (date, order, row, kind, ref): completions and vacating
    departures first on a date, then filling arrivals, then the demolition;
    ties in table order, a completion before any move.
    """
    start, end = window
    events: dict[int, list] = {d["dwelling_id"]: [] for d in dwellings}
    for d in dwellings:
        if d.get("completed") is not None and start <= d["completed"] <= end:
            events[d["dwelling_id"]].append((d["completed"], DEPARTURE, -1, "completion", d["dwelling_id"]))
        if d.get("demolished") is not None and start <= d["demolished"] <= end:
            events[d["dwelling_id"]].append((d["demolished"], DEMOLITION, -1, "demolition", d["dwelling_id"]))
    for row, m in enumerate(moves):
        if not (start <= m["move_date"] <= end):
            continue  # only moves inside the window are events
        if m["from_dwelling"] is not None and m["vacates"]:
            events[m["from_dwelling"]].append((m["move_date"], DEPARTURE, row, "departure", row))
        if m["to_dwelling"] is not None and m["fills"]:
            events[m["to_dwelling"]].append((m["move_date"], ARRIVAL, row, "arrival", row))
    for dwelling_id in events:
        events[dwelling_id].sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def fill_vacancies(events: dict, window: tuple[date, date], max_gap_days: int) -> tuple[dict, int]:
    """Rule item 3: what became of each vacancy.

    Returns ``{vacancy: (filling move row or None, end reason if unfilled)}`` where
    a vacancy is ``("completion", dwelling_id)`` or ``("move", row)``, and the
    number of inconsistent vacancies (next event is another departure).
    """
    outcome = {}
    inconsistent = 0
    for dwelling_id, evs in events.items():
        for i, (day, order, row, kind, ref) in enumerate(evs):
            if order != DEPARTURE:
                continue
            vacancy = ("completion", dwelling_id) if kind == "completion" else ("move", row)
            if i + 1 < len(evs):
                next_day, next_order, next_row, next_kind, _ = evs[i + 1]
                if next_kind == "arrival" and (next_day - day).days <= max_gap_days:
                    outcome[vacancy] = (next_row, None)
                else:
                    if next_order == DEPARTURE:
                        inconsistent += 1
                    outcome[vacancy] = (None, "unfilled")
            elif (window[1] - day).days < max_gap_days:
                outcome[vacancy] = (None, "censored")
            else:
                outcome[vacancy] = (None, "unfilled")
    return outcome, inconsistent


def walk(vacancy, outcome: dict, moves: list[dict], max_length: int) -> tuple[list[int], str]:
    """Rule item 5: follow one chain from ``vacancy``; returns (link rows, end reason)."""
    links: list[int] = []
    while True:
        filler, reason = outcome[vacancy]
        if filler is None:
            return links, reason
        if filler in links:
            return links, "cycle"
        if len(links) == max_length:
            return links, "max_length"
        links.append(filler)
        m = moves[filler]
        if m["from_dwelling"] is None:
            return links, m["origin"]
        if not m["vacates"]:
            return links, "not_vacated"
        vacancy = ("move", filler)


def seeds_of(kind: str, moves: list[dict], dwellings: list[dict], window, selected=None) -> list:
    """Seed vacancies in chain-id order (seed_date, seed_dwelling, completion first, move row)."""
    start, end = window
    out = []
    for d in dwellings:
        if d.get("completed") is not None and start <= d["completed"] <= end:
            if kind == "new_builds" or kind == "all" or d["dwelling_id"] in (selected or ()):
                out.append((d["completed"], d["dwelling_id"], -1, ("completion", d["dwelling_id"])))
    if kind != "new_builds":
        for row, m in enumerate(moves):
            if start <= m["move_date"] <= end and m["from_dwelling"] is not None and m["vacates"]:
                if kind == "all" or m["from_dwelling"] in (selected or ()):
                    out.append((m["move_date"], m["from_dwelling"], row, ("move", row)))
    out.sort(key=lambda s: (s[0], s[1], s[2]))
    return out


def trace(moves, dwellings, seeds="new_builds", window=None, max_gap_days=365, max_length=1000):
    """All chains from the seeds: list of dicts with seed, links, length, end reason, end date."""
    if window is None:
        days = [m["move_date"] for m in moves]
        window = (min(days), max(days))
    events = dwelling_events(moves, dwellings, window)
    outcome, inconsistent = fill_vacancies(events, window, max_gap_days)
    kind = seeds if isinstance(seeds, str) else "selection"
    chains = []
    for seed_date, dwelling_id, seed_move, vacancy in seeds_of(kind, moves, dwellings, window, seeds if kind == "selection" else None):
        links, reason = walk(vacancy, outcome, moves, max_length)
        chains.append({
            "seed_kind": "new_build" if seed_move == -1 else "move",
            "seed_dwelling": dwelling_id,
            "seed_date": seed_date,
            "seed_move": None if seed_move == -1 else seed_move,
            "length": len(links),
            "end_reason": reason,
            "end_date": moves[links[-1]]["move_date"] if links else seed_date,
            "links": links,
        })
    reasons = [reason for _, reason in outcome.values()]
    arrivals = sum(e[3] == "arrival" for evs in events.values() for e in evs)
    return chains, {"inconsistent_vacancies": inconsistent, "vacancies": len(outcome),
                    "filled": reasons.count(None), "unfilled": reasons.count("unfilled"),
                    "censored": reasons.count("censored"),
                    "orphan_fills": arrivals - reasons.count(None)}  # filling arrivals that filled nothing


# ------------------------------------------------------------------ trees
def filling_members(moves: list[dict], outcome: dict) -> dict[int, list[int]]:
    """Tree rule: the members of every filling. The arrivals at one dwelling on one day
    form one filling: the move that filled the vacancy, then every other move into that
    dwelling on that day, in table order (whatever its ``fills`` flag)."""
    arrivals: dict[tuple, list[int]] = {}
    for row, m in enumerate(moves):
        if m["to_dwelling"] is not None:
            arrivals.setdefault((m["to_dwelling"], m["move_date"]), []).append(row)
    members = {}
    for filler, _ in outcome.values():
        if filler is not None:
            m = moves[filler]
            members[filler] = [filler] + [r for r in arrivals[(m["to_dwelling"], m["move_date"])] if r != filler]
    return members


def walk_tree(vacancy, outcome: dict, moves: list[dict], members: dict, max_length: int) -> dict:
    """Tree rule: breadth first from ``vacancy``, round by round.

    Every member of a filling is a link of the next round; a member that vacated a
    dwelling opens a vacancy whose filling (if any) is the round after. A member is a
    leaf when its own move ends there (origin, not vacated), its vacancy went
    unfilled or censored, its vacancy's filler is already in the tree (cycle), or it
    is in round ``max_length``. The spine follows the filler of each vacancy: the path.
    """
    filler, reason = outcome[vacancy]
    if filler is None:
        return {"links": [], "rounds": [], "parents": [], "reasons": [], "joined": [], "depth": 0,
                "end_reason": reason, "leaves": 1}
    queue = [(row, 1, None, row != filler) for row in members[filler]]
    in_tree = set(members[filler])
    reasons = []
    spine, spine_reason = filler, None
    i = 0
    while i < len(queue):
        row, k, parent, joined = queue[i]
        m = moves[row]
        nxt = None
        if m["from_dwelling"] is None:
            reason = m["origin"]
        elif not m["vacates"]:
            reason = "not_vacated"
        else:
            nxt, reason = outcome[("move", row)]
            if nxt is not None and nxt in in_tree:
                reason = "cycle"
            elif nxt is not None and k == max_length:
                reason = "max_length"
            elif nxt is not None:
                queue += [(r, k + 1, row, r != nxt) for r in members[nxt]]
                in_tree.update(members[nxt])
        reasons.append(reason)
        if row == spine:
            if reason is None:
                spine = nxt
            else:
                spine_reason = reason
        i += 1
    return {"links": [q[0] for q in queue], "rounds": [q[1] for q in queue], "parents": [q[2] for q in queue],
            "joined": [q[3] for q in queue], "reasons": reasons, "depth": max(q[1] for q in queue),
            "end_reason": spine_reason, "leaves": sum(r is not None for r in reasons)}


def trace_tree(moves, dwellings, seeds="new_builds", window=None, max_gap_days=365, max_length=1000):
    """All trees from the seeds (tree convention): list of dicts like :func:`trace`'s chains,
    with ``depth``, ``leaves`` and per link its round, parent row, leaf reason and role."""
    if window is None:
        days = [m["move_date"] for m in moves]
        window = (min(days), max(days))
    events = dwelling_events(moves, dwellings, window)
    outcome, _ = fill_vacancies(events, window, max_gap_days)
    members = filling_members(moves, outcome)
    kind = seeds if isinstance(seeds, str) else "selection"
    chains = []
    for seed_date, dwelling_id, seed_move, vacancy in seeds_of(kind, moves, dwellings, window,
                                                               seeds if kind == "selection" else None):
        tree = walk_tree(vacancy, outcome, moves, members, max_length)
        chains.append({
            "seed_kind": "new_build" if seed_move == -1 else "move",
            "seed_dwelling": dwelling_id,
            "seed_date": seed_date,
            "seed_move": None if seed_move == -1 else seed_move,
            "length": len(tree["links"]),
            "end_reason": tree["end_reason"],
            "end_date": max((moves[r]["move_date"] for r in tree["links"]), default=seed_date),
            **tree,
        })
    joiners = sum(len(v) - 1 for v in members.values())
    return chains, {"joiners": joiners}


def successor_of(moves, dwellings, window, max_gap_days) -> dict[int, int]:
    """Filling move row → row of the vacating move whose vacancy it filled."""
    outcome, _ = fill_vacancies(dwelling_events(moves, dwellings, window), window, max_gap_days)
    return {filler: vac[1] for vac, (filler, _) in outcome.items() if filler is not None and vac[0] == "move"}


# ------------------------------------------------------------------ test registers
def drawn_register(rng, couples: bool = True) -> tuple[list[dict], list[dict]]:
    """The hypothesis tests' register: :func:`random_register` of a drawn size, corruption
    and id spacing, its rows shuffled four times in ten (unsorted input: ties, and fillers
    after their joiners, in table order)."""
    moves, dwellings = random_register(
        rng, n_dwellings=rng.randrange(2, 16), n_days=rng.randrange(1, 40),
        p_corrupt=rng.choice([0.0, 0.1, 0.3]), sparse_ids=rng.random() < 0.3, couples=couples)
    if rng.random() < 0.4:
        rng.shuffle(moves)
    return moves, dwellings


def random_register(rng, n_dwellings: int = 12, n_days: int = 30, p_corrupt: float = 0.05,
                    sparse_ids: bool = False, couples: bool = True) -> tuple[list[dict], list[dict]]:
    """A small simulated register rich in edge cases, as (moves, dwellings) lists.

    Households move, swap (pairs and three-way rings), split, join occupied
    dwellings, form, arrive and leave; new builds complete in groups (one
    building); empty dwellings are demolished; several events share a day.
    A fraction ``p_corrupt`` of moves get a flipped ``vacates``/``fills`` flag,
    which makes inconsistent vacancies and fills of occupied dwellings. With
    ``couples`` several households also move into one dwelling on one day (the
    tree convention's fillings): couples from two dwellings, one of them from the
    parental home (a split or a new household), three households merging, a
    household joining one side of a swap, and joins of a dwelling filled earlier
    that day; without, no dwelling gets two arrivals on one day. Joining
    households are absorbed (they never move again). The data keep the rules that validation enforces (one move per household and
    day, a household leaves only where it lives, flags match from/to).
    """
    base = date(2020, 1, 1)
    ids = sorted(rng.sample(range(10, 10**12), n_dwellings)) if sparse_ids else list(range(100, 100 + n_dwellings))
    rng.shuffle(ids)
    dwellings, occupant, where, moves = [], {}, {}, []
    next_household = [1]

    def new_household():
        next_household[0] += 1
        return next_household[0]

    for i, d in enumerate(ids):
        is_new = rng.random() < 0.3
        completed = base + timedelta(days=rng.randrange(-5, n_days)) if is_new else None
        dwellings.append({"dwelling_id": d, "building_id": i // 3 if is_new else 1000 + i,
                          "completed": completed, "demolished": None})
        if not is_new and rng.random() < 0.7:
            h = new_household()
            occupant[d], where[h] = h, d
    # new builds of one building complete on one day
    by_building: dict[int, date] = {}
    for dw in dwellings:
        if dw["completed"] is not None:
            dw["completed"] = by_building.setdefault(dw["building_id"], dw["completed"])
    info = {dw["dwelling_id"]: dw for dw in dwellings}

    def standing(d, day):
        c, x = info[d]["completed"], info[d]["demolished"]
        return (c is None or c <= day) and x is None

    for k in range(n_days):
        day = base + timedelta(days=k)
        moved, filled, arrived = set(), set(), set()
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 6])):
            empty = [d for d in ids if d not in occupant and standing(d, day) and (couples or d not in arrived)]
            movers = [h for h, d in where.items() if h not in moved and d not in filled and (couples or d not in arrived)]
            kinds = ["move", "move", "move", "swap", "ring", "split", "new", "exit", "join", "demolish"]
            kind = rng.choice(kinds + (["couple", "couple", "couple_home", "merge3", "swap_couple"] if couples else []))
            rows = []
            if kind == "move" and movers and empty:
                h, b = rng.choice(movers), rng.choice(empty)
                rows.append((h, where[h], b, "dwelling", "dwelling", True, True))
            elif kind in ("swap", "ring") and len(movers) >= (2 if kind == "swap" else 3):
                group = rng.sample(movers, 2 if kind == "swap" else 3)
                homes = [where[h] for h in group]
                for j, h in enumerate(group):
                    rows.append((h, homes[j], homes[(j + 1) % len(group)], "dwelling", "dwelling", True, True))
                rng.shuffle(rows)
            elif kind == "split" and movers and empty:
                h, b = rng.choice(movers), rng.choice(empty)
                rows.append((new_household(), where[h], b, "dwelling", "dwelling", False, True))
            elif kind == "new" and empty:
                origin = rng.choice(["new_household", "in_migrant", "immigrant"])
                rows.append((new_household(), None, rng.choice(empty), origin, "dwelling", False, True))
            elif kind == "exit" and movers:
                h = rng.choice(movers)
                rows.append((h, where[h], None, "dwelling", rng.choice(["out_migrant", "emigrant", "dissolved"]), True, False))
            elif kind in ("couple", "couple_home", "merge3") and len(movers) >= 2 + (kind == "merge3") and empty:
                group, b = rng.sample(movers, 2 + (kind == "merge3")), rng.choice(empty)
                for j, h in enumerate(group):  # the first fills, the others join (vacating, or leaving others)
                    rows.append((h, where[h], b, "dwelling", "dwelling", rng.random() < 0.8, j == 0))
                if kind == "couple_home":  # the partner leaves the parental home, or forms from nowhere
                    h = rows[1][0]
                    rows[1] = ((new_household(), where[h], b, "dwelling", "dwelling", False, False)
                               if rng.random() < 0.5 else (new_household(), None, b, "new_household", "dwelling", False, False))
                rng.shuffle(rows)  # table order need not put the filler first
            elif kind == "swap_couple" and len(movers) >= 3:
                a, c, j = rng.sample(movers, 3)
                rows += [(a, where[a], where[c], "dwelling", "dwelling", True, True),
                         (c, where[c], where[a], "dwelling", "dwelling", True, True),
                         (j, where[j], where[a], "dwelling", "dwelling", True, False)]
                rng.shuffle(rows)
            elif kind == "join" and movers:
                h = rng.choice(movers)
                others = [d for d in occupant if d != where[h] and (couples or d not in arrived)]
                if others:
                    rows.append((h, where[h], rng.choice(others), "dwelling", "dwelling", True, False))
            elif kind == "demolish" and empty:
                info[rng.choice(empty)]["demolished"] = day
            for h, a, b, origin, destination, vacates, fills in rows:
                moved.add(h)
                if a is not None and vacates:
                    occupant.pop(a, None)
                where.pop(h, None)
            for h, a, b, origin, destination, vacates, fills in rows:
                if b is not None:
                    arrived.add(b)
                if b is not None and fills:
                    occupant[b], where[h] = h, b
                    filled.add(b)
                if rng.random() < p_corrupt:  # flip a flag, keeping it consistent with from/to
                    if a is not None and rng.random() < 0.5:
                        vacates = not vacates
                    elif b is not None:
                        fills = not fills
                moves.append({"household_id": h, "move_date": day, "from_dwelling": a, "to_dwelling": b,
                              "origin": origin, "destination": destination, "vacates": vacates,
                              "fills": fills, "income": rng.randrange(50, 500) * 1000})
    return moves, dwellings
