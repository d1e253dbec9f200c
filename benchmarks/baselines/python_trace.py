"""The chain rule as a plain-Python dict walk: the slow baseline for bench_trace.

Column lists in, dicts and loops inside: per-dwelling event lists sorted by
(date, same-day class, row), a successor dict, then a walk of every vacancy's
chain (statistics) and of every new build's chain (links). Same answers as
:func:`flyttkedja.trace` (asserted in bench_trace).
"""

from __future__ import annotations


def trace_python(day, from_dwelling, to_dwelling, vacates, fills, origin, cond, completed, demolished,
                 window, max_gap, max_length):
    """Lists per move (``day`` int days, dwellings int or None, ``origin`` str, ``cond`` bool) and
    dicts dwelling → completion / demolition day. Returns (new-build chains, vacancy statistics)."""
    start, end = window
    events = {}
    for d, t in completed.items():
        if start <= t <= end:
            events.setdefault(d, []).append((t, 0, -1, "completion"))
    for d, t in demolished.items():
        if start <= t <= end:
            events.setdefault(d, []).append((t, 2, -1, "demolition"))
    for row in range(len(day)):
        t = day[row]
        if start <= t <= end:
            if from_dwelling[row] is not None and vacates[row]:
                events.setdefault(from_dwelling[row], []).append((t, 0, row, "departure"))
            if to_dwelling[row] is not None and fills[row]:
                events.setdefault(to_dwelling[row], []).append((t, 1, row, "arrival"))
    outcome = {}
    for d, evs in events.items():
        evs.sort()
        for i, (t, cls, row, kind) in enumerate(evs):
            if cls != 0:
                continue
            key = ("completion", d) if row == -1 else ("move", row)
            if i + 1 < len(evs):
                nt, _, nrow, nkind = evs[i + 1]
                ok = nkind == "arrival" and nt - t <= max_gap
                outcome[key] = (nrow, None) if ok else (None, "unfilled")
            else:
                outcome[key] = (None, "censored" if end - t < max_gap else "unfilled")

    def walk(key):
        links, first = [], None
        while True:
            filler, reason = outcome[key]
            if filler is None:
                return links, reason
            if filler == first:
                return links, "cycle"
            if len(links) == max_length:
                return links, "max_length"
            first = filler if first is None else first
            links.append(filler)
            if from_dwelling[filler] is None:
                return links, origin[filler]
            if not vacates[filler]:
                return links, "not_vacated"
            key = ("move", filler)

    stats = {}
    for key in outcome:
        links, reason = walk(key)
        stats[key] = (len(links), reason, sum(cond[m] for m in links))
    chains = {}
    for d, t in completed.items():
        if start <= t <= end:
            chains[d] = walk(("completion", d))
    return chains, stats
