"""numba kernels of the chain tracer (private; see :mod:`flyttkedja.core.trace`).

Arrays use dense dwelling indices (0..n_dwellings-1, the rank of the dwelling
id) and move rows (0..n_moves-1). Dates are int32 days since 1970-01-01.

An *event* is one int64 ``(day - start) << 40 | ref << 2 | kind``: ``kind`` is
COMPLETION, DEPARTURE, ARRIVAL or DEMOLITION, ``ref`` the move row (departures,
arrivals) or the dense dwelling index (completion, demolition). Carrying the
day in the code keeps every pass over a dwelling's events sequential in memory.

The successor relation is one int32 per move, ``step``: ``step[m] >= 0`` is the
move that filled the vacancy m left (the next link after m); ``step[m] < 0``
means a chain ends after m with end reason ``-step[m] - 1`` (positions in
:data:`flyttkedja.schema.END_REASONS`). A vacancy's *first* code has the same
form: the move that filled it, or ``-(reason + 1)``. Walking a chain touches
one array. Every kernel writes each output slot from exactly one iteration,
so parallel results are identical for any number of threads. Kernels with ``prange``
loops are :func:`flyttkedja._jit.threaded` (a parallel form and a serial twin); none is
compiled with numba's C-function wrapper (``no_cfunc_wrapper``: nothing passes a kernel
as a first-class function, and the wrapper is about 4% of a compilation).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from flyttkedja._jit import threaded

COMPLETION, DEPARTURE, ARRIVAL, DEMOLITION = 0, 1, 2, 3
# positions in schema.END_REASONS
NOT_VACATED, UNFILLED, CENSORED, CYCLE, MAX_LENGTH = 3, 4, 5, 6, 7
NO_DATE = np.iinfo(np.int32).min
DAY_SHIFT = 40
REF_MASK = (1 << 38) - 1
AHEAD = 24  # prefetch distance, in rows, of the random accesses in the successor pass


def prefetch(array, index):
    """Ask the CPU to start loading ``array[index]`` into cache; never changes a result.

    The successor pass is bound by cache misses at addresses known a few rows
    ahead (the pending slot of a later row's dwelling); issuing those loads early
    overlaps the misses (36% faster with one thread, 13% with two, at 10.2 M
    moves; the suffix pass, whose successors are mostly in cache, got slower and
    does without). A no-op in plain Python (NUMBA_DISABLE_JIT=1).
    """


@intrinsic
def _llvm_prefetch(typingctx, array, index):
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, array_type, ary, [args[1]], wraparound=False,
                                       boundscheck=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        # write intent (the slot is usually updated), high locality, data cache
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@overload(prefetch)
def _prefetch_jit(array, index):
    def impl(array, index):
        _llvm_prefetch(array, index)
    return impl


@threaded
def map_ids(raw, bits, bit_offset, lookup, lo, n_dense, days, dated, missing, out, day):
    """Dwelling ids → dense index (-1 for null, -2 for unknown ids) into ``out``, and in the
    same pass each dwelling's ``days`` into ``day`` (its completion date, ``missing`` for
    null or unknown ids): the one read of the move's dwelling serves the register rules too.
    ``dated`` (one bit per dense dwelling, LSB first: its day is not ``missing``; 750 kB at
    6 M dwellings, so it stays in cache) spares the read of ``days`` at random for the
    dwellings without one (the old stock: most moves).

    ``lookup`` maps ``id - lo`` to the dense index (-1: no such id); an empty ``lookup``
    means the ids are ``lo .. lo + n_dense - 1`` in table order (dense = id - lo, no table
    read). ``bits`` is the column's Arrow validity bitmap (row i's bit at ``i + bit_offset``,
    LSB first), or empty when every row is valid.
    """
    n = raw.shape[0]
    span = lookup.shape[0]
    all_valid = bits.shape[0] == 0
    if span == 0:  # identity: a streaming pass (the days of the few dated dwellings are read)
        for i in prange(n):
            k = raw[i] - lo
            d = -1
            if all_valid or _bit(bits, i + bit_offset):
                d = k if 0 <= k < n_dense else -2
            out[i] = d
            day[i] = days[d] if d >= 0 and _bit(dated, d) else missing
        return
    for i in prange(n):
        # two-level prefetch: the lookup slot of a row 2*AHEAD ahead, and the days of the
        # row AHEAD ahead, whose lookup slot was prefetched AHEAD rows ago
        if i + 2 * AHEAD < n and (all_valid or _bit(bits, i + 2 * AHEAD + bit_offset)):
            k = raw[i + 2 * AHEAD] - lo
            if 0 <= k < span:
                prefetch(lookup, k)
        if i + AHEAD < n and (all_valid or _bit(bits, i + AHEAD + bit_offset)):
            k = raw[i + AHEAD] - lo
            if 0 <= k < span and lookup[k] >= 0 and _bit(dated, lookup[k]):
                prefetch(days, lookup[k])
        d = -1
        if all_valid or _bit(bits, i + bit_offset):
            k = raw[i] - lo
            d = lookup[k] if 0 <= k < span else -2
            if d < 0:
                d = -2
        out[i] = d
        day[i] = days[d] if d >= 0 and _bit(dated, d) else missing


@njit(cache=True, inline="always")
def _bit(bits, j):
    """Bit ``j`` of an Arrow bitmap (LSB first) is set."""
    return (bits[j >> 3] >> (j & 7)) & 1 == 1


@njit(cache=True, no_cfunc_wrapper=True)
def is_identity(ids, lo):
    """True when ``ids`` are ``lo, lo + 1, ...`` in order (a table sorted by compact ids)."""
    for i in range(ids.shape[0]):
        if ids[i] != lo + i:
            return False
    return True


@njit(cache=True, no_cfunc_wrapper=True)
def event_day(code, start):
    return (code >> DAY_SHIFT) + start


@njit(cache=True, no_cfunc_wrapper=True)
def event_ref(code):
    return (code >> 2) & REF_MASK


@njit(cache=True, no_cfunc_wrapper=True)
def _code(day, start, ref, kind):
    # int64 before shifting: numpy (JIT disabled) would keep int32 - int as int32
    return ((np.int64(day) - np.int64(start)) << DAY_SHIFT) | (np.int64(ref) << 2) | kind


@njit(cache=True, no_cfunc_wrapper=True)
def _bucket(day, kind, start):
    """Same-day order: completions and departures, then arrivals, then demolition."""
    cls = 0 if kind <= DEPARTURE else (1 if kind == ARRIVAL else 2)
    return (day - start) * 3 + cls


@threaded
def _by_time(mv_date, mv_from, mv_to, mv_vacates, mv_fills, dw_completed, dw_demolished, start, end, n_chunks):
    """Stable counting sort of all events by (day, same-day class).

    Events are enumerated as completions, moves by row (departure, arrival),
    demolitions, so ties keep table order with a completion first. Moves are
    counted and scattered in parallel over fixed chunks; slot row 0 holds the
    completions, rows 1..n_chunks the chunks, the last row the demolitions, and
    the scan runs over (bucket, row): the result equals the sequential sort.
    Returns ``(codes, dwellings)`` in time order.
    """
    n_moves = mv_date.shape[0]
    n_dw = dw_completed.shape[0]
    n_buckets = (end - start + 1) * 3
    size = (n_moves + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks + 2, n_buckets), np.int64)
    for d in range(n_dw):
        if start <= dw_completed[d] <= end:
            counts[0, _bucket(dw_completed[d], COMPLETION, start)] += 1
        if start <= dw_demolished[d] <= end:
            counts[n_chunks + 1, _bucket(dw_demolished[d], DEMOLITION, start)] += 1
    for c in prange(n_chunks):
        for r in range(c * size, min(n_moves, (c + 1) * size)):
            day = mv_date[r]
            if start <= day <= end:
                if mv_from[r] >= 0 and mv_vacates[r]:
                    counts[c + 1, _bucket(day, DEPARTURE, start)] += 1
                if mv_to[r] >= 0 and mv_fills[r]:
                    counts[c + 1, _bucket(day, ARRIVAL, start)] += 1
    total = 0
    for b in range(n_buckets):
        for c in range(n_chunks + 2):
            k = counts[c, b]
            counts[c, b] = total
            total += k
    codes = np.empty(total, np.int64)
    dw_of = np.empty(total, np.int32)
    for d in range(n_dw):
        day = dw_completed[d]
        if start <= day <= end:
            b = _bucket(day, COMPLETION, start)
            codes[counts[0, b]] = _code(day, start, d, COMPLETION)
            dw_of[counts[0, b]] = d
            counts[0, b] += 1
        day = dw_demolished[d]
        if start <= day <= end:
            b = _bucket(day, DEMOLITION, start)
            codes[counts[n_chunks + 1, b]] = _code(day, start, d, DEMOLITION)
            dw_of[counts[n_chunks + 1, b]] = d
            counts[n_chunks + 1, b] += 1
    for c in prange(n_chunks):
        for r in range(c * size, min(n_moves, (c + 1) * size)):
            day = mv_date[r]
            if start <= day <= end:
                if mv_from[r] >= 0 and mv_vacates[r]:
                    b = _bucket(day, DEPARTURE, start)
                    codes[counts[c + 1, b]] = _code(day, start, r, DEPARTURE)
                    dw_of[counts[c + 1, b]] = mv_from[r]
                    counts[c + 1, b] += 1
                if mv_to[r] >= 0 and mv_fills[r]:
                    b = _bucket(day, ARRIVAL, start)
                    codes[counts[c + 1, b]] = _code(day, start, r, ARRIVAL)
                    dw_of[counts[c + 1, b]] = mv_to[r]
                    counts[c + 1, b] += 1
    return codes, dw_of


LOW_BITS = 12  # dwellings per block: a block's counts and events stay in cache


@threaded
def _by_block(codes, dw_of, n_blocks, n_chunks):
    """Stable counting sort by block (``dwelling >> LOW_BITS``), scattered in parallel.

    Fixed chunks count and scatter; chunk c's events of a block go after those
    of earlier chunks, so the result equals the sequential sort.
    """
    n = codes.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_blocks + 1), np.int64)
    for c in prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            counts[c, dw_of[i] >> LOW_BITS] += 1
    block_start = np.zeros(n_blocks + 1, np.int64)
    total = 0
    for b in range(n_blocks):
        block_start[b] = total
        for c in range(n_chunks):
            k = counts[c, b]
            counts[c, b] = total
            total += k
    block_start[n_blocks] = total
    out_codes = np.empty(n, np.int64)
    out_dw = np.empty(n, np.int32)
    for c in prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            b = dw_of[i] >> LOW_BITS
            out_codes[counts[c, b]] = codes[i]
            out_dw[counts[c, b]] = dw_of[i]
            counts[c, b] += 1
    return block_start, out_codes, out_dw


@threaded
def _by_dwelling(codes, dw_of, n_dw, n_chunks):
    """Stable sort by dwelling: one parallel scatter by block, then a counting sort
    inside each block (in cache, in parallel over blocks). Returns ``(dw_start, codes)``."""
    n_blocks = ((n_dw - 1) >> LOW_BITS) + 1 if n_dw > 0 else 0
    block_start, by_block, dw_block = _by_block(codes, dw_of, n_blocks, n_chunks)
    out = np.empty(codes.shape[0], np.int64)
    dw_start = np.empty(n_dw + 1, np.int64)
    dw_start[n_dw] = codes.shape[0]
    for b in prange(n_blocks):
        lo, hi = block_start[b], block_start[b + 1]
        first = b << LOW_BITS
        width = min(n_dw - first, 1 << LOW_BITS)
        pos = np.zeros(width + 1, np.int64)
        for i in range(lo, hi):
            pos[dw_block[i] - first + 1] += 1
        pos[0] = lo
        for k in range(width):
            pos[k + 1] += pos[k]
        for k in range(width):
            dw_start[first + k] = pos[k]
        for i in range(lo, hi):
            k = dw_block[i] - first
            out[pos[k]] = by_block[i]
            pos[k] += 1
    return dw_start, out


@threaded(prange=False)  # calls threaded kernels: its serial twin calls their twins
def event_index(mv_date, mv_from, mv_to, mv_vacates, mv_fills, dw_completed, dw_demolished, start, end, n_chunks):
    """Every dwelling's events in its own order, in linear time.

    Returns ``(dw_start, codes)``: the events of dwelling d, in order, are
    ``codes[dw_start[d]:dw_start[d + 1]]``.
    """
    by_time, dw_of = _by_time(mv_date, mv_from, mv_to, mv_vacates, mv_fills, dw_completed, dw_demolished,
                              start, end, n_chunks)
    return _by_dwelling(by_time, dw_of, dw_completed.shape[0], n_chunks)


@njit(cache=True, no_cfunc_wrapper=True)
def _by_day(day, start, end, in_place):
    """Stable counting sort of the items dated inside the window by day.

    Returns ``(day_start, items, dense)``: the items of window day k are
    ``items[day_start[k]:day_start[k + 1]]`` in index order. With ``in_place``
    and dates already non-decreasing (checked in the same pass; the usual case
    for moves) no items array is built and ``dense`` is True: day k's items are
    ``day_start[k]..day_start[k + 1]-1`` themselves.
    """
    n_days = end - start + 1
    day_start = np.zeros(n_days + 1, np.int64)
    before = 0
    ordered = True
    previous = np.iinfo(np.int32).min
    for i in range(day.shape[0]):
        t = day[i]
        ordered &= t >= previous
        previous = t
        if start <= t <= end:
            day_start[t - start + 1] += 1
        elif t < start:
            before += 1
    dense = in_place and ordered
    day_start[0] = before if dense else 0
    for k in range(n_days):
        day_start[k + 1] += day_start[k]
    if dense:
        return day_start, np.empty(0, np.int32), True
    fill = day_start[:-1].copy()
    items = np.empty(day_start[n_days], np.int32)
    for i in range(day.shape[0]):
        t = day[i]
        if start <= t <= end:
            items[fill[t - start]] = i
            fill[t - start] += 1
    return day_start, items, False


@threaded
def _dwellings_by_day(completed, demolished, start, end, n_chunks):
    """:func:`_by_day` of the completions and of the demolitions (dwellings in index order
    within a day) in one parallel pass over the dwellings: fixed chunks count per day, a
    scan in (day, chunk) order, then each chunk scatters its own; the result equals the
    sequential sort. Returns ``(comp_start, comp_dw, demo_start, demo_dw)``."""
    n = completed.shape[0]
    n_days = end - start + 1
    size = (n + n_chunks - 1) // n_chunks
    counts = np.zeros((2, n_chunks, n_days), np.int64)
    for c in prange(n_chunks):
        for d in range(c * size, min(n, (c + 1) * size)):
            t = completed[d]
            if start <= t <= end:
                counts[0, c, t - start] += 1
            t = demolished[d]
            if start <= t <= end:
                counts[1, c, t - start] += 1
    day_start = np.empty((2, n_days + 1), np.int64)
    for k in range(2):
        total = 0
        for t in range(n_days):
            day_start[k, t] = total
            for c in range(n_chunks):
                m = counts[k, c, t]
                counts[k, c, t] = total
                total += m
        day_start[k, n_days] = total
    comp_dw = np.empty(day_start[0, n_days], np.int32)
    demo_dw = np.empty(day_start[1, n_days], np.int32)
    for c in prange(n_chunks):
        for d in range(c * size, min(n, (c + 1) * size)):
            t = completed[d]
            if start <= t <= end:
                comp_dw[counts[0, c, t - start]] = d
                counts[0, c, t - start] += 1
            t = demolished[d]
            if start <= t <= end:
                demo_dw[counts[1, c, t - start]] = d
                counts[1, c, t - start] += 1
    return day_start[0], comp_dw, day_start[1], demo_dw


@threaded
def _end_codes(step, mv_from, mv_vacates, mv_origin):
    """Write into ``step`` the step of every move as if its own vacancy (if any) went unfilled."""
    for m in prange(mv_from.shape[0]):
        if mv_from[m] < 0:
            step[m] = -(mv_origin[m] - 1) - 1  # ORIGINS[1:] == END_REASONS[:3]
        elif not mv_vacates[m]:
            step[m] = -NOT_VACATED - 1
        else:
            step[m] = -UNFILLED - 1


@njit(cache=True, no_cfunc_wrapper=True)
def _vacancy_day(ref, n_moves, mv_date, dw_completed):
    """Date of a pending vacancy: ``ref`` is its move row, or n_moves + dwelling for a completion."""
    return mv_date[ref] if ref < n_moves else dw_completed[ref - n_moves]


@njit(cache=True, no_cfunc_wrapper=True)
def _settle(ref, outcome, n_moves, step, comp_first):
    """Write the first code of a pending vacancy (its filler, or ``-(reason + 1)``)."""
    if ref < n_moves:
        step[ref] = outcome
    else:
        comp_first[ref - n_moves] = outcome


UNTOUCHED = -2         # span state: no event at the dwelling in this span yet
FIRST_LEAVES = -3      # first event at a dwelling in a span: a departure or completion
FIRST_DEMOLISHED = -4  # ... its demolition (an arrival is recorded as its row, >= 0)


@njit(cache=True, no_cfunc_wrapper=True)
def _spans(day_start, n_spans):
    """Split the window's days into ``n_spans`` runs with about equal numbers of moves."""
    n_days = day_start.shape[0] - 1
    bounds = np.empty(n_spans + 1, np.int64)
    lo, total = day_start[0], day_start[n_days] - day_start[0]
    t = 0
    for c in range(n_spans):
        while t < n_days and (day_start[t] - lo) * n_spans < c * total:
            t += 1
        bounds[c] = t
    bounds[n_spans] = n_days
    return bounds


@njit(cache=True, no_cfunc_wrapper=True)
def _touch(slot, f, d, first):
    """Record the first event at d in this span, when it is the first (at ``slot[f + d]``;
    the first span, which starts with nothing pending, keeps only the pending one)."""
    if slot[d] == UNTOUCHED:
        slot[f + d] = first
        slot[d] = -1


@njit(cache=True, no_cfunc_wrapper=True)
def _leave(slot, f, d, ref):
    """A completion or vacating departure at d (``ref``) becomes d's pending vacancy.
    Returns True when it replaces a vacancy still pending (an inconsistent vacancy)."""
    _touch(slot, f, d, np.int64(FIRST_LEAVES))  # int64, not a literal: one compilation of _touch
    replaced = slot[d] >= 0
    slot[d] = ref
    return replaced


@njit(cache=True, inline="always")  # as a call (not inlined) the successor pass ran 40% slower
def _prefetch_ahead(slot, dwelling, rows, dense, i, hi):
    """Prefetch the state of the dwelling of the row AHEAD rows after position i of the day."""
    if i + AHEAD < hi:
        q = dwelling[i + AHEAD if dense else rows[i + AHEAD]]
        if q >= 0:
            prefetch(slot, q)


@njit(cache=True, inline="always")
def _prefetch_vacancy(slot, rows, dense, i, hi, mv_to, n_moves, mv_date, step):
    """Two-level prefetch for the filling arrivals: the state of the dwelling of the row
    2 AHEAD rows after position i (:func:`_prefetch_ahead`), and, for the row AHEAD rows
    after i (whose state that prefetch brought in AHEAD rows ago), the date and step of the
    vacancy pending there: the random reads the arrival will make (``mv_date[p]``, ``step[p]``)."""
    _prefetch_ahead(slot, mv_to, rows, dense, i + AHEAD, hi)
    if i + AHEAD < hi:
        q = mv_to[i + AHEAD if dense else rows[i + AHEAD]]
        if q >= 0:
            p = slot[q]
            if 0 <= p < n_moves:
                prefetch(mv_date, p)
                prefetch(step, p)


@njit(cache=True, inline="always")
def _no_prefetch_ahead(slot, dwelling, rows, dense, i, hi):
    """:func:`_prefetch_ahead` in the serial twin of :func:`successors_by_time` (registers below
    ``core.trace.SERIAL_BELOW`` moves, whose state is in cache): nothing. Compiled without
    ``parallel=True`` the prefetches cost more than the whole pass (13.8 against 3.9 ms at
    89,367 moves; in the parallel form on one thread 1.9 ms with them, 1.8 without)."""


@njit(cache=True, inline="always")
def _no_prefetch_vacancy(slot, rows, dense, i, hi, mv_to, n_moves, mv_date, step):
    """:func:`_prefetch_vacancy` in the serial twin of :func:`successors_by_time`: nothing."""


@threaded(serial={"_prefetch_ahead": _no_prefetch_ahead, "_prefetch_vacancy": _no_prefetch_vacancy})
def successors_by_time(mv_date, mv_from, mv_to, mv_vacates, mv_fills, mv_origin, dw_completed, dw_demolished,
                       start, end, max_gap, day_start, rows, dense, step, comp_first, first_span, state):
    """Rule items 1-3 and 5 in one pass over the events in time order, no event index.

    Days are visited in order; inside a day, first the completions and the
    vacating departures (rows in table order), then the filling arrivals, then
    the demolitions: exactly the same-day order of the rule. One int32 state per
    dwelling, its *pending* vacancy (the row of the vacancy at d whose next
    event has not come, n_moves + d for its completion, or -1), decides each
    vacancy when the next event at d comes. Input in date order (the usual
    case) is read in place; otherwise rows are first put in day order by a
    stable counting sort (``day_start, rows, dense``: :func:`_by_day` of the
    moves' dates, shared with :func:`fillings`).

    In parallel over ``state.shape[0] + 1`` spans of days (about equal numbers of
    moves), one per thread, each with its own states: a span decides the
    vacancies whose next event falls inside it, and records, per dwelling, the
    first event it saw there (untouched dwellings: UNTOUCHED). A parallel pass
    over dwellings then joins the spans in time order: the vacancy still
    pending at a dwelling when a span ends is decided by the first event there
    in a later span, exactly as one sequential pass would decide it. Each
    thread handles only its own events (no thread reads the others' rows, as a
    split by dwelling would) and writes the steps of its own time span, so no
    two threads write near each other; the result is the rule's, whatever the
    number of spans (tested against the reference with 1 to 8 spans, more
    spans than days included).

    Fills the caller's ``step`` (one int32 per move), ``comp_first`` (one int32
    per dwelling), ``first_span`` (the first span's state: one pending vacancy
    per dwelling, as nothing comes before it) and ``state`` (the later spans: a
    pending vacancy per dwelling, then a first event per dwelling), all allocated by the caller
    in huge pages (numba's own allocations are not, and their first-touch page
    faults cost as much as the pass; on this project's VM fresh memory costs
    about 3 ms per MB, so the state is kept small). Returns ``(inconsistent,
    orphan)`` per span plus the join.
    """
    n_spans = state.shape[0] + 1
    n_dw = dw_completed.shape[0]
    n_moves = mv_date.shape[0]
    comp_start, comp_dw, demo_start, demo_dw = _dwellings_by_day(dw_completed, dw_demolished, start, end,
                                                                 2 * n_spans)
    _end_codes(step, mv_from, mv_vacates, mv_origin)
    for d in prange(n_dw):
        comp_first[d] = -UNFILLED - 1
    bounds = _spans(day_start, n_spans)
    inconsistent = np.zeros(n_spans + 1, np.int64)
    orphan = np.zeros(n_spans + 1, np.int64)
    for c in prange(n_spans):
        # dwelling d: slot[d] its pending vacancy, slot[f + d] its first event in the span (a
        # separate half: the pending half alone is read by every event and stays smaller in cache)
        f = 0 if c == 0 else n_dw
        slot = first_span if c == 0 else state[c - 1]
        for d in range(n_dw):
            slot[d] = UNTOUCHED if c > 0 else -1  # nothing comes before the first span
        n_inc = 0
        n_orph = 0
        for t in range(bounds[c], bounds[c + 1]):
            for i in range(comp_start[t], comp_start[t + 1]):  # completions
                d = comp_dw[i]
                n_inc += _leave(slot, f, d, n_moves + d)
            lo, hi = day_start[t], day_start[t + 1]
            for i in range(lo, hi):  # vacating departures
                _prefetch_ahead(slot, mv_from, rows, dense, i, hi)
                r = i if dense else rows[i]
                d = mv_from[r]
                if d >= 0 and mv_vacates[r]:
                    n_inc += _leave(slot, f, d, r)
            for i in range(lo, hi):  # filling arrivals (rule item 3)
                _prefetch_vacancy(slot, rows, dense, i, hi, mv_to, n_moves, mv_date, step)
                r = i if dense else rows[i]
                d = mv_to[r]
                if d >= 0 and mv_fills[r]:
                    p = slot[d]
                    slot[d] = -1
                    if p == UNTOUCHED:
                        slot[f + d] = r  # decided when the spans are joined
                    elif p >= 0 and t + start - _vacancy_day(p, n_moves, mv_date, dw_completed) <= max_gap:
                        _settle(p, r, n_moves, step, comp_first)
                    else:
                        n_orph += 1  # filled nothing (or came after the gap: that vacancy stays unfilled)
            for i in range(demo_start[t], demo_start[t + 1]):  # demolitions: unfilled
                d = demo_dw[i]
                _touch(slot, f, d, np.int64(FIRST_DEMOLISHED))
                slot[d] = -1
        inconsistent[c] = n_inc
        orphan[c] = n_orph
    n_inc = 0
    n_orph = 0
    for d in prange(n_dw):  # join the spans: what became of the vacancy pending at d when a span began
        v = first_span[d]  # pending at the end of the first span
        for c in range(n_spans - 1):
            p = state[c, d]
            if p == UNTOUCHED:
                continue  # no event at d in span c + 1: v stays pending
            first = state[c, n_dw + d]
            if first >= 0:  # an arrival
                if v >= 0 and mv_date[first] - _vacancy_day(v, n_moves, mv_date, dw_completed) <= max_gap:
                    _settle(v, np.int64(first), n_moves, step, comp_first)  # as below: one signature
                else:
                    n_orph += 1
            elif first == FIRST_LEAVES and v >= 0:
                n_inc += 1
            v = p
        if v >= 0 and end - _vacancy_day(v, n_moves, mv_date, dw_completed) < max_gap:
            _settle(v, np.int64(-CENSORED - 1), n_moves, step, comp_first)  # no next event inside the window
    inconsistent[n_spans] = n_inc
    orphan[n_spans] = n_orph
    return inconsistent, orphan


@njit(cache=True, no_cfunc_wrapper=True)
def seed_vacancies(dw_start, codes, step, comp_first, selected, completions_only, start, end):
    """Seed vacancies in chain-id order (seed_date, dwelling, completion first, move row).

    The event index is ordered by (dwelling, date, completion, row); a stable
    counting sort by date gives the chain-id order in linear time. Returns the
    seeds' event codes, dense dwellings and first codes.
    """
    n_dw = dw_start.shape[0] - 1
    counts = np.zeros(end - start + 2, np.int64)
    for d in range(n_dw):
        if selected[d]:
            for i in range(dw_start[d], dw_start[d + 1]):
                kind = codes[i] & 3
                if kind == COMPLETION or (kind == DEPARTURE and not completions_only):
                    counts[(codes[i] >> DAY_SHIFT) + 1] += 1
    for k in range(counts.shape[0] - 1):
        counts[k + 1] += counts[k]
    n = counts[-1]
    seed_code = np.empty(n, np.int64)
    seed_dw = np.empty(n, np.int32)
    seed_first = np.empty(n, np.int64)
    for d in range(n_dw):
        if selected[d]:
            for i in range(dw_start[d], dw_start[d + 1]):
                code = codes[i]
                kind = code & 3
                if kind == COMPLETION or (kind == DEPARTURE and not completions_only):
                    k = code >> DAY_SHIFT
                    seed_code[counts[k]] = code
                    seed_dw[counts[k]] = d
                    seed_first[counts[k]] = comp_first[d] if kind == COMPLETION else step[event_ref(code)]
                    counts[k] += 1
    return seed_code, seed_dw, seed_first


@njit(cache=True, no_cfunc_wrapper=True)
def new_build_counts(dw_completed, start, end):
    """Cumulative counts of the completions inside the window by day (``counts[k]``: those
    before window day k; ``counts[-1]``: all), for :func:`new_build_seeds`."""
    counts = np.zeros(end - start + 2, np.int64)
    for d in range(dw_completed.shape[0]):
        if start <= dw_completed[d] <= end:
            counts[dw_completed[d] - start + 1] += 1
    for k in range(counts.shape[0] - 1):
        counts[k + 1] += counts[k]
    return counts


@njit(cache=True, no_cfunc_wrapper=True)
def new_build_seeds(dw_completed, comp_first, start, end, counts, seed_code, seed_dw, seed_first):
    """Completions inside the window in chain-id order (date, dwelling), from the
    dwellings alone: a counting sort by date (``counts`` from :func:`new_build_counts`,
    overwritten), into the caller's (codes, dense dwellings, first codes)."""
    n_dw = dw_completed.shape[0]
    for d in range(n_dw):
        day = dw_completed[d]
        if start <= day <= end:
            i = counts[day - start]
            seed_code[i] = _code(day, start, d, COMPLETION)
            seed_dw[i] = d
            seed_first[i] = comp_first[d]
            counts[day - start] += 1


@njit(cache=True, no_cfunc_wrapper=True)
def _walk(first, step, links, offset, max_length):
    """Walk one chain; writes its links from ``links[offset]`` when ``offset >= 0``.

    Returns (length, end reason). The successor map is injective (a move fills
    at most one vacancy), so a chain that revisits a move revisits its first
    link: checking the first link detects every cycle.
    """
    if first < 0:
        return 0, -first - 1
    m = first
    n = 0
    while True:
        if n == max_length:
            return n, MAX_LENGTH
        if offset >= 0:
            links[offset + n] = m
        n += 1
        nxt = step[m]
        if nxt < 0:
            return n, -nxt - 1
        if nxt == first:
            return n, CYCLE
        m = nxt


@threaded
def chain_lengths(seed_first, step, max_length, length, reason):
    """Every seed's chain length and end reason, in parallel (fills ``length``, ``reason``)."""
    none = np.empty(0, np.int64)
    for c in prange(seed_first.shape[0]):
        length[c], reason[c] = _walk(seed_first[c], step, none, np.int64(-1), max_length)  # not a literal: one _walk


@threaded
def chain_links(seed_first, step, max_length, offsets, links):
    """Every seed's links (move rows, in step order) into ``links[offsets[c]:offsets[c + 1]]``."""
    for c in prange(seed_first.shape[0]):
        _walk(seed_first[c], step, links, offsets[c], max_length)


@njit(cache=True, no_cfunc_wrapper=True)
def _suffix(length, count, reason):
    return (np.int64(length) << 32) | (np.int64(count) << 4) | reason


@njit(cache=True, no_cfunc_wrapper=True)
def _finish_suffix(suffix, step, cond):
    """Pass 2 of the suffix walk in :func:`move_vacancy_stats`: the moves pass 1 left (``suffix == 0``).

    Walks from each up to a finished move, or round a closed cycle (a cycle has
    no entry from outside, as the relation is injective), then writes the walk
    backwards. Cycle members get the cycle's size, total and CYCLE.
    """
    n = step.shape[0]
    walk = np.empty(0, np.int64)
    for m0 in range(n):
        if suffix[m0] != 0:
            continue
        if walk.shape[0] == 0:
            walk = np.empty(n, np.int64)
        k = 0
        m = m0
        while True:  # until a finished move, or back at m0 (a closed cycle)
            walk[k] = m
            k += 1
            m = step[m]
            if m == m0 or suffix[m] != 0 or k == n:  # k == n cannot happen (injective)
                break
        if m == m0:
            total = 0
            for i in range(k):
                total += cond[walk[i]]
            for i in range(k):
                suffix[walk[i]] = _suffix(k, total, CYCLE)
        else:
            s = suffix[m]
            for i in range(k - 1, -1, -1):
                s = s + (np.int64(1) << 32) + (np.int64(cond[walk[i]]) << 4)
                suffix[walk[i]] = s


@njit(cache=True, no_cfunc_wrapper=True)
def _from_first(first, suffix, step, cond, max_length):
    """(length, reason, count) of the chain whose first code is ``first``."""
    if first < 0:
        return 0, -first - 1, 0
    s = suffix[first]
    k = s >> 32
    if k <= max_length:
        return k, s & 15, (s >> 4) & 0xFFFFFFF
    c = 0
    m = first
    for _ in range(max_length):  # rare: longer than the bound, walk it
        c += cond[m]
        m = step[m]
    return max_length, MAX_LENGTH, c


@njit(cache=True, no_cfunc_wrapper=True)
def _is_vacancy(code, day, start, end):
    """A move opens a vacancy in the window: it vacates (its step is a filler, or it
    ended unfilled or censored; never an origin or not_vacated) and is dated inside."""
    return start <= day <= end and (code >= 0 or code == -UNFILLED - 1 or code == -CENSORED - 1)


@njit(cache=True, no_cfunc_wrapper=True)
def move_vacancy_stats(step, cond, mv_date, start, end, max_length, suffix, length, reason, count):
    """The suffix walk and, in the same pass, the statistics of every move's vacancy.

    The suffix of move m is the chain that starts with m as a link: its number
    of links to the end, how many meet ``cond``, and its end reason, packed as
    ``length << 32 | count << 4 | reason`` (lengths below 2**28), so that
    ``suffix[m] = suffix[step[m]] + m``. Pass 1 runs in reverse row order: a
    link's successor happens on the same day or later, so in date-sorted tables
    it is nearly always a later row, already done, and close in memory.

    Fills the caller's arrays (one slot per move, every slot written; allocated
    by numpy, which asks the kernel for huge pages: first-touch page faults of a
    fresh 80 MB array otherwise cost more than the walk): ``suffix``, and the
    length, end reason and condition count of the chain each move's vacancy
    starts (-1, -1, 0 where the row opens no vacancy in the window). The chain
    from the vacancy m left is its filler's suffix, known in pass 1 when the
    filler is a later row (the usual case); the rest (same-day successors,
    cycles, unsorted rows, chains longer than ``max_length``) are finished after
    the walk.
    """
    n = step.shape[0]
    n_late = 0
    late = np.empty(0, np.int64)
    for m in range(n - 1, -1, -1):
        nxt = step[m]
        length[m], reason[m], count[m] = -1, -1, 0
        vacancy = _is_vacancy(nxt, mv_date[m], start, end)
        if nxt < 0:
            suffix[m] = _suffix(1, cond[m], -nxt - 1)
            if vacancy:
                length[m], reason[m] = 0, -nxt - 1
            continue
        s = suffix[nxt] if nxt > m else 0  # 0 = not yet known (a known suffix has length >= 1)
        suffix[m] = s + (np.int64(1) << 32) + (np.int64(cond[m]) << 4) if s != 0 else 0
        if s != 0 and vacancy and (s >> 32) <= max_length:
            length[m], reason[m], count[m] = s >> 32, s & 15, (s >> 4) & 0xFFFFFFF
        elif vacancy:  # finished after the walk
            if n_late == late.shape[0]:
                late = np.concatenate((late, np.empty(max(1024, n_late), np.int64)))
            late[n_late] = m
            n_late += 1
    _finish_suffix(suffix, step, cond)
    for i in range(n_late):
        m = late[i]
        length[m], reason[m], count[m] = _from_first(step[m], suffix, step, cond, max_length)


@threaded
def vacancy_stats(first, suffix, step, cond, max_length):
    """Length, end reason and condition count for vacancies given by their first codes."""
    n = first.shape[0]
    length = np.zeros(n, np.int32)
    reason = np.empty(n, np.int8)
    count = np.zeros(n, np.int32)
    for v in prange(n):
        length[v], reason[v], count[v] = _from_first(first[v], suffix, step, cond, max_length)
    return length, reason, count


# ------------------------------------------------------------------ validation
@threaded
def household_order(household, n_households, day):
    """Rows grouped by household, each group in (date, row) order.

    A stable counting sort by household over rows in table order, then an
    insertion sort by date inside each group (linear for date-sorted tables;
    households move a handful of times). Returns ``(start, rows)``.
    """
    n = household.shape[0]
    start = np.zeros(n_households + 1, np.int64)
    for r in range(n):
        start[household[r] + 1] += 1
    for h in range(n_households):
        start[h + 1] += start[h]
    fill = start[:-1].copy()
    rows = np.empty(n, np.int64)
    for r in range(n):
        rows[fill[household[r]]] = r
        fill[household[r]] += 1
    for h in prange(n_households):
        for i in range(start[h] + 1, start[h + 1]):
            r = rows[i]
            j = i - 1
            while j >= start[h] and day[rows[j]] > day[r]:
                rows[j + 1] = rows[j]
                j -= 1
            rows[j + 1] = r
    return start, rows


@threaded
def household_conflicts(start, rows, day, mv_from, mv_to):
    """Per row, the previous move of its household if the pair breaks a rule, else -1.

    ``twice``: both on one date. ``elsewhere``: the household leaves a dwelling
    other than the one it last moved into.
    """
    n = rows.shape[0]
    twice = np.full(n, -1, np.int64)
    elsewhere = np.full(n, -1, np.int64)
    for h in prange(start.shape[0] - 1):
        for i in range(start[h] + 1, start[h + 1]):
            a, b = rows[i - 1], rows[i]
            if day[a] == day[b]:
                twice[b] = a
            elif mv_to[a] >= 0 and mv_from[b] >= 0 and mv_from[b] != mv_to[a]:
                elsewhere[b] = a
    return twice, elsewhere


@njit(cache=True, no_cfunc_wrapper=True)
def household_conflicts_in_order(household, lo, last, day, mv_from, mv_to, twice, elsewhere):
    """:func:`household_conflicts` in one pass for tables in date order (the usual case):
    each household's previous move is the last one seen, kept as (date, to) per household
    id (compact ids, range ``span`` from ``lo``), so no sort and no second gather. Sets row
    r's bit in the bitmaps ``twice``/``elsewhere`` (uint8, LSB first, zeroed by the caller:
    the register rules' boolean columns, no packing pass) and returns True; returns False
    as soon as a date goes backwards (the caller then sorts). ``last`` (one int64 per household id of the range,
    the caller's huge-page scratch: it is read at random) is overwritten."""
    NONE = np.int64(-1)
    last[:] = NONE  # (day << 32) | (to + 1): to is -1 (none) or a dense index
    prev = np.int64(-(2**62))
    n = household.shape[0]
    for r in range(n):
        if r + AHEAD < n:  # the household state of a later row: overlaps the cache misses
            prefetch(last, household[r + AHEAD] - lo)
        d = np.int64(day[r])
        if d < prev:
            return False
        prev = d
        h = household[r] - lo
        packed = last[h]
        if packed != NONE:
            last_day = packed >> 32
            last_to = (packed & 0xFFFFFFFF) - 1
            if last_day == d:
                twice[r >> 3] |= np.uint8(1 << (r & 7))
            elif last_to >= 0 and mv_from[r] >= 0 and mv_from[r] != last_to:
                elsewhere[r >> 3] |= np.uint8(1 << (r & 7))
        last[h] = (d << 32) | (np.int64(mv_to[r]) + 1 if mv_to[r] >= 0 else 0)
    return True


@njit(cache=True, no_cfunc_wrapper=True)
def dense_lookup(ids, lo, span):
    """Compact dwelling ids (range ``span`` from ``lo``) in two passes: ``lookup`` (id - lo →
    dense rank, -1 none), ``rows`` (dense rank → row) and ``sorted_ids``; returns also the
    first row whose id repeats an earlier one (-1: none)."""
    n = ids.shape[0]
    lookup = np.full(span, -1, np.int32)
    dup = -1
    for i in range(n):
        k = ids[i] - lo
        if lookup[k] >= 0 and dup < 0:
            dup = i
        lookup[k] = i
    rows = np.empty(n, np.int64)
    sorted_ids = np.empty(n, np.int64)
    rank = 0
    for k in range(span):
        r = lookup[k]
        if r >= 0:
            rows[rank] = r
            sorted_ids[rank] = k + lo
            lookup[k] = rank
            rank += 1
    return lookup, rows, sorted_ids, dup


@threaded
def days_of(days, bits, bit_offset, rows, missing, out):
    """``out[i]`` = the day of row ``rows[i]`` (row i when ``rows`` is empty), ``missing``
    where that row is null (``bits``: the Arrow validity bitmap from ``bit_offset``; empty
    when no row is null): a nullable date column as the kernels' writable day array."""
    all_valid = bits.shape[0] == 0
    identity = rows.shape[0] == 0
    for i in prange(out.shape[0]):
        r = np.int64(i) if identity else np.int64(rows[i])  # one integer type (a union would be float)
        out[i] = days[r] if all_valid or _bit(bits, r + bit_offset) else missing


@threaded
def bools_of(bits, bit_offset, out):
    """``out[i]`` = bit ``i + bit_offset`` of an Arrow boolean column's value bitmap (LSB
    first): the column as numpy booleans in one parallel pass (``to_numpy`` of a column
    read in row groups unpacks chunk by chunk on one thread, then concatenates: 16-20 ms
    per 10 M rows). Each output slot is written by one iteration."""
    n = out.shape[0]
    skip, shift = bit_offset >> 3, bit_offset & 7
    for b in prange((n + 65535) >> 16):
        lo, hi = b << 16, min(n, (b + 1) << 16)
        if shift == 0:  # whole bytes (a chunk not sliced): eight rows per bitmap byte
            for j in range(lo >> 3, hi >> 3):
                byte = bits[skip + j]
                for k in range(8):
                    out[8 * j + k] = (byte >> k) & 1 == 1
            lo = max(lo, hi & ~7)
        for i in range(lo, hi):
            out[i] = _bit(bits, i + bit_offset)


@njit(cache=True, no_cfunc_wrapper=True)
def gather_days(days, dense, missing):
    """``days[dense[i]]`` for every move, ``missing`` where ``dense[i] < 0`` (null or unknown)."""
    out = np.empty(dense.shape[0], np.int32)
    for i in range(dense.shape[0]):
        k = dense[i]
        out[i] = days[k] if k >= 0 else missing
    return out


@threaded
def quality_counts(mv_date, mv_from, mv_vacates, step, dw_completed, comp_first, start, end, n_chunks):
    """[moves outside the window, new builds, vacancies, filled, unfilled, censored],
    counted over fixed chunks (per-chunk slots, summed in order)."""
    n = mv_date.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    slots = np.zeros((n_chunks, 6), np.int64)
    for c in prange(n_chunks):
        for m in range(c * size, min(n, (c + 1) * size)):
            if not (start <= mv_date[m] <= end):
                slots[c, 0] += 1
            elif mv_from[m] >= 0 and mv_vacates[m]:
                slots[c, 2] += 1
                s = step[m]
                slots[c, 3 if s >= 0 else (4 if s == -UNFILLED - 1 else 5)] += 1
    out = np.zeros(6, np.int64)  # summed in a loop: numpy's sum(axis=0) compiles numba's axis helpers
    for c in range(n_chunks):
        for k in range(6):
            out[k] += slots[c, k]
    for d in range(dw_completed.shape[0]):
        if start <= dw_completed[d] <= end:
            out[1] += 1
            out[2] += 1
            s = comp_first[d]
            out[3 if s >= 0 else (4 if s == -UNFILLED - 1 else 5)] += 1
    return out


@threaded
def dense_households(household, lo, span):
    """Compact household ids (range ``span`` from ``lo``) → 0..k-1 in id order; returns (dense, k)."""
    n = household.shape[0]
    rank = np.zeros(span, np.int32)
    for i in range(n):
        rank[household[i] - lo] = 1
    k = 0
    for j in range(span):
        seen = rank[j]
        rank[j] = k
        k += seen
    dense = np.empty(n, np.int32)
    for i in prange(n):
        dense[i] = rank[household[i] - lo]
    return dense, k


# ------------------------------------------------------------------ trees
# The tree convention (docs/chains.md, "Trees"): the arrivals at one dwelling on
# one day form one filling; the first fills the vacancy (its step target), the
# others join it. ``sib`` links a filling's members: ``sib[m] - 1`` is the member
# after m (filler → first joiner → next joiner in table order), 0 ends the list;
# one int32 per move, zero where nothing is linked, so a fresh zero-filled mapping
# needs no initialising pass. Everything else about a vacancy (who fills it,
# when it ends) is the path convention's ``step``.

@njit(cache=True, no_cfunc_wrapper=True)
def _filler_bits(step, comp_first):
    """One bit per move: set when the move filled a vacancy (a step target or a
    completion's first link). Sequential: bits of one byte would race; the bitmap
    (n/8 bytes) stays in cache while ``step`` streams through."""
    n = step.shape[0]
    bits = np.zeros((n >> 3) + 1, np.uint8)
    for m in range(n):
        s = step[m]
        if s >= 0:
            bits[s >> 3] |= np.uint8(1 << (s & 7))
    for d in range(comp_first.shape[0]):
        s = comp_first[d]
        if s >= 0:
            bits[s >> 3] |= np.uint8(1 << (s & 7))
    return bits


@threaded
def fillings(step, comp_first, day_start, rows, dense, mv_to, n_chunks, sib):
    """The members of every filling (tree convention), in linear time, into ``sib``
    (zero-filled by the caller). Returns the number of joiners.

    A bitmap of fillers (one streaming pass over ``step``), then the window's days
    (``day_start, rows, dense``: :func:`_by_day` of the moves' dates, rows in place when
    the table is in date order), in parallel over ``n_chunks`` runs of days: a filling lies
    within one day, so days are independent (:func:`_day_fillings`). Each sib slot
    is written from the day of its move only: the result does not depend on the
    number of threads.
    """
    bits = _filler_bits(step, comp_first)
    n_days = day_start.shape[0] - 1
    size = (n_days + n_chunks - 1) // n_chunks
    joins = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        first, stop = c * size, min(n_days, (c + 1) * size)
        most = 0
        for t in range(first, stop):
            most = max(most, day_start[t + 1] - day_start[t])
        keys = np.empty(_table_size(most), np.int32)
        members = np.empty(keys.shape[0], np.int32)
        for t in range(first, stop):
            lo, hi = day_start[t], day_start[t + 1]
            m = _table_size(hi - lo)
            joins[c] += _day_fillings(lo, hi, rows, dense, mv_to, bits, sib, keys[:m], members[:m])
    return joins.sum()


@njit(cache=True, no_cfunc_wrapper=True)
def _table_size(n):
    """A power of two at least twice ``n`` (and at least 16): an open-addressing table's size."""
    m = 16
    while m < 2 * n:
        m *= 2
    return m


@njit(cache=True, no_cfunc_wrapper=True)
def _day_fillings(lo, hi, rows, dense, mv_to, bits, sib, keys, members):
    """The fillings of one day (its rows ``lo..hi-1``): first each filler enters its dwelling
    with itself as the filling's last member, then each arrival that filled nothing at a
    dwelling entered that day joins that filling, linked after its last member. So the
    joiners of a filling follow its filler in table order, and an arrival where no vacancy
    was filled that day joins an occupied dwelling (no filling). The day's dwellings live in
    a small open-addressing table (``keys``: dwelling or -1, ``members``), in cache, instead
    of a state per dwelling read at random. Returns the number of joiners."""
    mask = keys.shape[0] - 1
    keys[:] = -1
    for i in range(lo, hi):
        r = i if dense else rows[i]
        d = mv_to[r]
        if d >= 0 and _bit(bits, r):
            s = _slot(keys, d, mask)
            keys[s] = d
            members[s] = r
    n_join = 0
    for i in range(lo, hi):
        r = i if dense else rows[i]
        d = mv_to[r]
        if d >= 0 and not _bit(bits, r):
            s = _slot(keys, d, mask)
            if keys[s] == d:
                sib[members[s]] = r + 1
                members[s] = r
                n_join += 1
    return n_join


@njit(cache=True, no_cfunc_wrapper=True)
def _slot(keys, d, mask):
    """The slot of dwelling ``d`` in ``keys`` (linear probing), or the empty slot where it goes."""
    s = (np.int64(d) * 2654435761) & mask
    while keys[s] >= 0 and keys[s] != d:
        s = (s + 1) & mask
    return s


@njit(cache=True, no_cfunc_wrapper=True)
def _tree(first, step, sib, max_length, node, level, parent, leaf, joined, off):
    """Breadth-first walk of one tree into ``node[off:]`` (move rows), ``level`` (round),
    ``parent`` (row of the link whose vacancy the link's filling filled; -1 in round 1),
    ``leaf`` (end reason of a leaf, -1 for a link whose vacancy was filled inside the tree)
    and ``joined`` (1 for a joiner, 0 for the filler of its filling).

    The written region is the queue. Returns ``(length, depth, spine reason, leaves)``, or
    length -1 when the region is too small. The spine is the branch of fillers (never a
    joiner): the path convention's chain, so its reason is the path's end reason. Each
    move has one parent (a filling fills one vacancy; a move is a member of one filling),
    so a tree revisits a move only through the root filling: ``step[x] == first``.
    """
    if first < 0:
        return 0, 0, -first - 1, 1
    cap = node.shape[0] - off
    tail = 0
    y = first
    while y >= 0:
        if tail == cap:
            return -1, 0, 0, 0
        node[off + tail], level[off + tail], parent[off + tail] = y, 1, -1
        joined[off + tail] = y != first
        tail += 1
        y = sib[y] - 1
    head = 0
    spine = first
    spine_reason = -1
    depth = 1
    leaves = 0
    while head < tail:
        x = node[off + head]
        k = level[off + head]
        s = step[x]
        reason = -1
        if s < 0:
            reason = -s - 1
        elif s == first:
            reason = CYCLE
        elif k == max_length:
            reason = MAX_LENGTH
        else:
            y = s
            while y >= 0:
                if tail == cap:
                    return -1, 0, 0, 0
                node[off + tail], level[off + tail], parent[off + tail] = y, k + 1, x
                joined[off + tail] = y != s
                tail += 1
                y = sib[y] - 1
            if k + 1 > depth:
                depth = k + 1
        leaf[off + head] = reason
        if x == spine:
            if reason >= 0:
                spine_reason = reason
            else:
                spine = s
        if reason >= 0:
            leaves += 1
        head += 1
    return tail, depth, spine_reason, leaves


@threaded
def tree_sizes(seed_first, step, sib, max_length, n_chunks, length, depth, reason, leaves):
    """Every seed's tree: length (moves), depth (rounds), spine end reason and number of
    leaves, in parallel over fixed chunks of seeds, each with its own growable queue."""
    n = seed_first.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        cap = 256
        node = np.empty(cap, np.int64)
        level = np.empty(cap, np.int32)
        parent = np.empty(cap, np.int64)
        leaf = np.empty(cap, np.int8)
        joined = np.empty(cap, np.uint8)
        for i in range(c * size, min(n, (c + 1) * size)):
            while True:
                k, dp, r, lv = _tree(seed_first[i], step, sib, max_length, node, level, parent, leaf, joined, 0)
                if k >= 0:
                    break
                cap *= 2
                node = np.empty(cap, np.int64)
                level = np.empty(cap, np.int32)
                parent = np.empty(cap, np.int64)
                leaf = np.empty(cap, np.int8)
                joined = np.empty(cap, np.uint8)
            length[i], depth[i], reason[i], leaves[i] = k, dp, r, lv


@threaded
def tree_links(seed_first, step, sib, max_length, offsets, links, level, parent, leaf, joined):
    """Every seed's links in breadth-first order into ``links[offsets[c]:offsets[c + 1]]``,
    with their round, parent row, leaf end reason and role (see :func:`_tree`)."""
    for c in prange(seed_first.shape[0]):
        if offsets[c + 1] > offsets[c]:
            _tree(seed_first[c], step, sib, max_length, links[:offsets[c + 1]], level, parent, leaf, joined,
                  offsets[c])


# ------------------------------------------------------------------ output frames
@threaded
def link_columns(links, offsets, household, mv_date, mv_from, mv_to, mv_vacates, dwelling_ids,
                 chain_id, step, hh, day, from_id, from_null, to_id):
    """The links frame's columns in one parallel pass over the chains (each link's move
    row read once): chain id, position in the chain (1 = the seed's filler), household,
    date (days), the dwelling left (id; ``from_null`` where nothing was vacated) and
    the dwelling entered (id)."""
    n = links.shape[0]
    for c in prange(offsets.shape[0] - 1):
        for k in range(offsets[c], offsets[c + 1]):
            if k + AHEAD < n:  # the move of a later link: its rows are scattered over the table
                ahead = links[k + AHEAD]
                prefetch(household, ahead)
                prefetch(mv_from, ahead)
                prefetch(mv_to, ahead)
                prefetch(mv_date, ahead)
            if k + AHEAD // 2 < n:  # its dwellings' ids, half as far: their rows were prefetched
                near = links[k + AHEAD // 2]
                if mv_to[near] >= 0:
                    prefetch(dwelling_ids, mv_to[near])
                if mv_from[near] >= 0:
                    prefetch(dwelling_ids, mv_from[near])
            m = links[k]
            chain_id[k] = c
            step[k] = k - offsets[c] + 1
            hh[k] = household[m]
            day[k] = mv_date[m]
            f = mv_from[m]
            vacated = f >= 0 and mv_vacates[m]
            from_null[k] = not vacated
            from_id[k] = dwelling_ids[f] if vacated else 0
            to_id[k] = dwelling_ids[mv_to[m]]


@threaded
def label_views(codes, rows, table, views, bits):
    """A string column of labels by code, as Arrow string-view slots: ``views[i]`` (16 bytes,
    two int64) is ``table[codes[rows[i]]]`` (``codes[i]`` when ``rows`` is empty), all zero
    for a code < 0, whose validity bit (``bits``, LSB first) is 0. Each byte of ``bits``
    belongs to one iteration: no two threads write one byte."""
    n = views.shape[0]
    identity = rows.shape[0] == 0
    for b in prange((n + 7) // 8):
        byte = 0
        for i in range(8 * b, min(n, 8 * b + 8)):
            c = codes[i] if identity else codes[rows[i]]
            if c >= 0:
                views[i, 0] = table[c, 0]
                views[i, 1] = table[c, 1]
                byte |= 1 << (i - 8 * b)
            else:
                views[i, 0] = 0
                views[i, 1] = 0
        bits[b] = byte


@threaded
def seed_columns(seed_code, seed_dw, dwelling_ids, start, chain_id, kind, dwelling, day, move, move_bits):
    """The chains frame's seed columns from the seeds' event codes, in one pass: chain id
    (position), kind (0 new build, 1 move), dwelling id, date (days) and the vacating move's
    row, whose validity bit (``move_bits``, LSB first) is 0 for a new build. Each byte of
    ``move_bits`` belongs to one iteration."""
    n = seed_code.shape[0]
    for b in prange((n + 7) // 8):
        byte = 0
        for i in range(8 * b, min(n, 8 * b + 8)):
            code = seed_code[i]
            build = (code & 3) == COMPLETION
            chain_id[i] = i
            kind[i] = 0 if build else 1
            dwelling[i] = dwelling_ids[seed_dw[i]]
            day[i] = (code >> DAY_SHIFT) + start
            move[i] = 0 if build else (code >> 2) & REF_MASK
            if not build:
                byte |= 1 << (i - 8 * b)
        move_bits[b] = byte


@threaded
def end_dates(length, offsets, links, mv_date, seed_day, latest, out):
    """Each chain's end date (days): its last link's date, or with ``latest`` (trees, links
    in breadth-first order) the latest link's; the seed's date for a chain without links."""
    for c in prange(length.shape[0]):
        a, b = offsets[c], offsets[c + 1]
        if b == a:
            out[c] = seed_day[c]
        elif latest:
            most = mv_date[links[a]]
            for k in range(a + 1, b):
                most = max(most, mv_date[links[k]])
            out[c] = most
        else:
            out[c] = mv_date[links[b - 1]]
