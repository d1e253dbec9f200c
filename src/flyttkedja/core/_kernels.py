"""numba kernels of the chain tracer (private; see :mod:`flyttkedja.core.trace`).

Arrays use dense dwelling indices (0..n_dwellings-1, the rank of the dwelling
id) and move rows (0..n_moves-1). Dates are int32 days since 1970-01-01.

An *event* is coded as one int64: ``ref * 4 + kind`` with ``kind`` one of
COMPLETION, DEPARTURE, ARRIVAL, DEMOLITION and ``ref`` the move row
(departures, arrivals) or the dense dwelling index (completion, demolition).

End reasons are the positions in :data:`flyttkedja.schema.END_REASONS`.
Every kernel writes each output slot from exactly one iteration, so parallel
results are identical for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

COMPLETION, DEPARTURE, ARRIVAL, DEMOLITION = 0, 1, 2, 3
# positions in schema.END_REASONS
NOT_VACATED, UNFILLED, CENSORED, CYCLE, MAX_LENGTH = 3, 4, 5, 6, 7
FILLED = -1  # vacancy status: filled (not an end reason)
NO_DATE = np.iinfo(np.int32).min


@njit(cache=True, parallel=True)
def map_ids(raw, valid, lookup, lo):
    """Dwelling ids → dense index via a lookup table; -1 for null, -2 for unknown ids."""
    n = raw.shape[0]
    out = np.empty(n, np.int32)
    span = lookup.shape[0]
    for i in prange(n):
        if not valid[i]:
            out[i] = -1
        else:
            k = raw[i] - lo
            out[i] = lookup[k] if 0 <= k < span else -2
            if out[i] < 0:
                out[i] = -2
    return out


@njit(cache=True)
def _event_date(code, mv_date, dw_completed, dw_demolished):
    ref = code >> 2
    kind = code & 3
    if kind == COMPLETION:
        return dw_completed[ref]
    if kind == DEMOLITION:
        return dw_demolished[ref]
    return mv_date[ref]


@njit(cache=True)
def _bucket(day, kind, start):
    """Same-day order: completions and departures, then arrivals, then demolition."""
    cls = 0 if kind <= DEPARTURE else (1 if kind == ARRIVAL else 2)
    return (day - start) * 3 + cls


@njit(cache=True)
def event_index(mv_date, mv_from, mv_to, mv_vacates, mv_fills, dw_completed, dw_demolished, start, end):
    """Every dwelling's events in its own order, in linear time.

    Two stable counting sorts: by (date, same-day class) over events enumerated
    as completions (by dwelling), moves (by row), demolitions; then by dwelling.
    Returns ``(dw_start, codes)``: the events of dwelling d are
    ``codes[dw_start[d]:dw_start[d + 1]]``.
    """
    n_moves = mv_date.shape[0]
    n_dw = dw_completed.shape[0]
    n_buckets = (end - start + 1) * 3
    counts = np.zeros(n_buckets + 1, np.int64)
    n_events = 0
    for d in range(n_dw):
        if start <= dw_completed[d] <= end:
            counts[_bucket(dw_completed[d], COMPLETION, start) + 1] += 1
            n_events += 1
        if start <= dw_demolished[d] <= end:
            counts[_bucket(dw_demolished[d], DEMOLITION, start) + 1] += 1
            n_events += 1
    for r in range(n_moves):
        day = mv_date[r]
        if start <= day <= end:
            if mv_from[r] >= 0 and mv_vacates[r]:
                counts[_bucket(day, DEPARTURE, start) + 1] += 1
                n_events += 1
            if mv_to[r] >= 0 and mv_fills[r]:
                counts[_bucket(day, ARRIVAL, start) + 1] += 1
                n_events += 1
    for b in range(n_buckets):
        counts[b + 1] += counts[b]
    by_time = np.empty(n_events, np.int64)
    dw_of = np.empty(n_events, np.int32)
    for d in range(n_dw):
        if start <= dw_completed[d] <= end:
            b = _bucket(dw_completed[d], COMPLETION, start)
            by_time[counts[b]] = d * 4 + COMPLETION
            dw_of[counts[b]] = d
            counts[b] += 1
    for r in range(n_moves):
        day = mv_date[r]
        if start <= day <= end:
            if mv_from[r] >= 0 and mv_vacates[r]:
                b = _bucket(day, DEPARTURE, start)
                by_time[counts[b]] = r * 4 + DEPARTURE
                dw_of[counts[b]] = mv_from[r]
                counts[b] += 1
            if mv_to[r] >= 0 and mv_fills[r]:
                b = _bucket(day, ARRIVAL, start)
                by_time[counts[b]] = r * 4 + ARRIVAL
                dw_of[counts[b]] = mv_to[r]
                counts[b] += 1
    for d in range(n_dw):
        if start <= dw_demolished[d] <= end:
            b = _bucket(dw_demolished[d], DEMOLITION, start)
            by_time[counts[b]] = d * 4 + DEMOLITION
            dw_of[counts[b]] = d
            counts[b] += 1
    dw_start = np.zeros(n_dw + 1, np.int64)
    for i in range(n_events):
        dw_start[dw_of[i] + 1] += 1
    for d in range(n_dw):
        dw_start[d + 1] += dw_start[d]
    fill = dw_start[:-1].copy()
    codes = np.empty(n_events, np.int64)
    for i in range(n_events):
        d = dw_of[i]
        codes[fill[d]] = by_time[i]
        fill[d] += 1
    return dw_start, codes


@njit(cache=True, parallel=True)
def successors(dw_start, codes, mv_date, dw_completed, dw_demolished, end, max_gap):
    """Rule item 3 for every vacancy at once, in parallel over dwellings.

    Returns ``(vac_fill, vac_status, comp_fill, comp_status, inconsistent, orphan)``:
    for the vacancy opened by move r (resp. the completion of dwelling d) the
    row of the move that filled it (-1 if none) and FILLED / UNFILLED / CENSORED;
    per dwelling, the vacancies whose next event was another departure and the
    filling arrivals that filled no vacancy.
    """
    n_moves = mv_date.shape[0]
    n_dw = dw_start.shape[0] - 1
    vac_fill = np.full(n_moves, -1, np.int64)
    vac_status = np.full(n_moves, UNFILLED, np.int8)
    comp_fill = np.full(n_dw, -1, np.int64)
    comp_status = np.full(n_dw, UNFILLED, np.int8)
    inconsistent = np.zeros(n_dw, np.int32)
    orphan = np.zeros(n_dw, np.int32)
    for d in prange(n_dw):
        lo, hi = dw_start[d], dw_start[d + 1]
        for i in range(lo, hi):
            code = codes[i]
            kind = code & 3
            if kind == ARRIVAL:
                if i == lo or (codes[i - 1] & 3) > DEPARTURE:
                    orphan[d] += 1
                continue
            if kind == DEMOLITION:
                continue
            day = _event_date(code, mv_date, dw_completed, dw_demolished)
            fill = -1
            status = UNFILLED
            if i + 1 < hi:
                nxt = codes[i + 1]
                nkind = nxt & 3
                if nkind == ARRIVAL and mv_date[nxt >> 2] - day <= max_gap:
                    fill = nxt >> 2
                    status = FILLED
                elif nkind <= DEPARTURE:
                    inconsistent[d] += 1
                elif nkind == ARRIVAL:
                    orphan[d] += 1  # filled nothing: came after the gap
            elif end - day < max_gap:
                status = CENSORED
            if kind == COMPLETION:
                comp_fill[d] = fill
                comp_status[d] = status
            else:
                vac_fill[code >> 2] = fill
                vac_status[code >> 2] = status
    return vac_fill, vac_status, comp_fill, comp_status, inconsistent, orphan


@njit(cache=True)
def seed_vacancies(dw_start, codes, mv_date, dw_completed, dw_demolished, selected, completions_only, start, end):
    """Seed vacancies in chain-id order (seed_date, dwelling, completion first, move row).

    The event index is already ordered by (dwelling, date, completion, row);
    a stable counting sort by date gives the chain-id order in linear time.
    Returns the event codes of the seeds and their dwellings.
    """
    n_dw = dw_start.shape[0] - 1
    n_days = end - start + 1
    counts = np.zeros(n_days + 1, np.int64)
    n = 0
    for d in range(n_dw):
        if not selected[d]:
            continue
        for i in range(dw_start[d], dw_start[d + 1]):
            kind = codes[i] & 3
            if kind == COMPLETION or (kind == DEPARTURE and not completions_only):
                counts[_event_date(codes[i], mv_date, dw_completed, dw_demolished) - start + 1] += 1
                n += 1
    for k in range(n_days):
        counts[k + 1] += counts[k]
    seed_code = np.empty(n, np.int64)
    seed_dw = np.empty(n, np.int32)
    for d in range(n_dw):
        if not selected[d]:
            continue
        for i in range(dw_start[d], dw_start[d + 1]):
            kind = codes[i] & 3
            if kind == COMPLETION or (kind == DEPARTURE and not completions_only):
                k = _event_date(codes[i], mv_date, dw_completed, dw_demolished) - start
                seed_code[counts[k]] = codes[i]
                seed_dw[counts[k]] = d
                counts[k] += 1
    return seed_code, seed_dw


@njit(cache=True)
def _first_link(code, vac_fill, vac_status, comp_fill, comp_status):
    ref = code >> 2
    if (code & 3) == COMPLETION:
        return comp_fill[ref], comp_status[ref]
    return vac_fill[ref], vac_status[ref]


@njit(cache=True)
def _end_after(m, mv_from, mv_vacates, mv_origin, vac_fill, vac_status):
    """Rule item 5 after link m: (next link, -1) or (-1, end reason)."""
    if mv_from[m] < 0:
        return -1, mv_origin[m] - 1  # ORIGINS[1:] == END_REASONS[:3]
    if not mv_vacates[m]:
        return -1, NOT_VACATED
    if vac_fill[m] < 0:
        return -1, vac_status[m]
    return vac_fill[m], -1


@njit(cache=True)
def _walk(code, links, offset, max_length, mv_from, mv_vacates, mv_origin, vac_fill, vac_status, comp_fill, comp_status):
    """Walk one chain; writes its links from ``links[offset]`` when ``offset >= 0``.

    A move fills at most one vacancy, so the successor map is injective: a chain
    that revisits a move revisits its first link, and checking the first link is
    enough to detect a cycle.
    """
    first, status = _first_link(code, vac_fill, vac_status, comp_fill, comp_status)
    if first < 0:
        return 0, status, -1
    m = first
    n = 0
    while True:
        if n == max_length:
            return n, MAX_LENGTH, m
        if offset >= 0:
            links[offset + n] = m
        n += 1
        nxt, reason = _end_after(m, mv_from, mv_vacates, mv_origin, vac_fill, vac_status)
        if nxt < 0:
            return n, reason, m
        if nxt == first:
            return n, CYCLE, m
        m = nxt


@njit(cache=True, parallel=True)
def walk_chains(seed_code, max_length, mv_from, mv_vacates, mv_origin, vac_fill, vac_status, comp_fill, comp_status):
    """Every seed's chain, in parallel: lengths, offsets by cumsum, then links.

    Returns ``(length, end_reason, offsets, links)``; the links of chain c are
    ``links[offsets[c]:offsets[c + 1]]`` (move rows, step order).
    """
    n = seed_code.shape[0]
    length = np.empty(n, np.int32)
    reason = np.empty(n, np.int8)
    none = np.empty(0, np.int64)
    for c in prange(n):
        k, r, _ = _walk(seed_code[c], none, -1, max_length, mv_from, mv_vacates, mv_origin,
                        vac_fill, vac_status, comp_fill, comp_status)
        length[c] = k
        reason[c] = r
    offsets = np.zeros(n + 1, np.int64)
    for c in range(n):
        offsets[c + 1] = offsets[c] + length[c]
    links = np.empty(offsets[n], np.int64)
    for c in prange(n):
        _walk(seed_code[c], links, offsets[c], max_length, mv_from, mv_vacates, mv_origin,
              vac_fill, vac_status, comp_fill, comp_status)
    return length, reason, offsets, links


@njit(cache=True, parallel=True)
def successor_layout(vac_fill, has_prev):
    """Lay the successor relation out as contiguous runs: paths, then cycles.

    ``vac_fill[m]`` is the move that filled the vacancy m opened (-1 if none);
    it is injective, so moves form disjoint paths and closed cycles. Paths are
    walked in parallel from their heads (moves nobody's vacancy led to), placed
    by cumsum of their lengths; the rare cycle members are placed afterwards.
    Returns ``(order, pos, seg_start, seg_end, is_cycle)``: ``order[pos[m]] == m``
    and the run holding position p is ``[seg_start[p], seg_end[p])``.
    """
    n = vac_fill.shape[0]
    heads = np.flatnonzero(~has_prev)
    h = heads.shape[0]
    run = np.empty(h, np.int64)
    for j in prange(h):
        m = heads[j]
        k = 1
        while vac_fill[m] >= 0:
            m = vac_fill[m]
            k += 1
        run[j] = k
    starts = np.zeros(h + 1, np.int64)
    for j in range(h):
        starts[j + 1] = starts[j] + run[j]
    order = np.empty(n, np.int32)
    pos = np.full(n, -1, np.int32)
    seg_start = np.empty(n, np.int32)
    seg_end = np.empty(n, np.int32)
    for j in prange(h):
        m = heads[j]
        p = starts[j]
        while True:
            order[p] = m
            pos[m] = p
            seg_start[p] = starts[j]
            seg_end[p] = starts[j + 1]
            p += 1
            if vac_fill[m] < 0:
                break
            m = vac_fill[m]
    p = starts[h]
    is_cycle = np.zeros(n, np.bool_)
    for m0 in range(n):  # members of closed cycles: never reached from a head
        if pos[m0] >= 0:
            continue
        s = p
        m = m0
        while pos[m] < 0:
            order[p] = m
            pos[m] = p
            p += 1
            m = vac_fill[m]
        for q in range(s, p):
            seg_start[q] = s
            seg_end[q] = p
            is_cycle[q] = True
    return order, pos, seg_start, seg_end, is_cycle


@njit(cache=True, parallel=True)
def vacancy_stats(seed_code, condition_cum, order, pos, seg_start, seg_end, is_cycle, max_length,
                  mv_from, mv_vacates, mv_origin, vac_fill, vac_status, comp_fill, comp_status):
    """Length, end reason and condition counts of every seed's chain, without walking it.

    ``condition_cum[k, p]`` is the number of moves meeting condition k among
    ``order[:p]``. A chain from a vacancy filled by m consists of the run from
    ``pos[m]`` (wrapping round a cycle), cut at ``max_length`` links.
    """
    n = seed_code.shape[0]
    n_cond = condition_cum.shape[0]
    length = np.zeros(n, np.int32)
    reason = np.empty(n, np.int8)
    counts = np.zeros((n_cond, n), np.int64)
    for c in prange(n):
        first, status = _first_link(seed_code[c], vac_fill, vac_status, comp_fill, comp_status)
        if first < 0:
            reason[c] = status
            continue
        p = pos[first]
        s, e = seg_start[p], seg_end[p]
        if is_cycle[p]:
            size = e - s
            k = min(size, max_length)
            reason[c] = CYCLE if size <= max_length else MAX_LENGTH
            stop = p + k
            for j in range(n_cond):
                if stop <= e:
                    counts[j, c] = condition_cum[j, stop] - condition_cum[j, p]
                else:
                    counts[j, c] = (condition_cum[j, e] - condition_cum[j, p]
                                    + condition_cum[j, s + stop - e] - condition_cum[j, s])
        else:
            size = e - p
            k = min(size, max_length)
            if size <= max_length:
                last = order[e - 1]
                _, reason[c] = _end_after(last, mv_from, mv_vacates, mv_origin, vac_fill, vac_status)
            else:
                reason[c] = MAX_LENGTH
            for j in range(n_cond):
                counts[j, c] = condition_cum[j, p + k] - condition_cum[j, p]
        length[c] = k
    return length, reason, counts
