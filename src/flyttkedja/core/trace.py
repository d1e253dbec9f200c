"""Tracing vacancy chains: :func:`trace` and :func:`vacancy_statistics`.

The rule is in ``docs/chains.md``. Both functions validate and convert the
register (:mod:`flyttkedja.core._prepare`), build every dwelling's event index
and the successor of every vacancy (:mod:`flyttkedja.core._kernels`), and then
either walk the chains of the chosen seeds or compute statistics for every
vacancy at once.

Example
-------
>>> import flyttkedja
>>> cs = flyttkedja.trace("register/moves.parquet", "register/dwellings.parquet")  # doctest: +SKIP
>>> cs.chains.select("length", "end_reason").head()                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.core import _kernels as K
from flyttkedja.core._prepare import _ALL_VALID, _NO_ROWS, Prepared, prepare, read, values
from flyttkedja import _codes
from flyttkedja._jit import one_thread
from flyttkedja._scratch import scratch
from flyttkedja.core.chainset import ChainSet, decoded
from flyttkedja.schema import CODE_LISTS, END_REASONS

Seeds = str | Sequence[int] | np.ndarray | pl.Expr
MAX_SPANS = 8  # parallel spans of the successor pass
SERIAL_BELOW = 100_000  # moves: smaller registers are traced on one thread (serial_when_small)
CONVENTIONS = ("path", "tree")  # docs/chains.md: one filler per vacancy, or the whole filling


@dataclass
class Index:
    """Successors of a prepared register (kernel outputs, see ``_kernels``); ``days`` is
    the moves' rows by day (``(day_start, rows, dense)`` of ``_kernels._by_day``), which
    the successor pass and the fillings share.

    ``events()`` gives the per-dwelling event index ``(dw_start, codes)``, built
    on first use (only seed selections other than new builds need it).
    """

    reg: Prepared
    days: tuple
    step: np.ndarray
    comp_first: np.ndarray
    inconsistent: int
    orphan_fills: int
    _events: tuple | None = None

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        if self._events is None:
            r = self.reg
            self._events = K.event_index(r.mv_date, r.mv_from, r.mv_to, r.mv_vacates, r.mv_fills, r.dw_completed,
                                         r.dw_demolished, r.start, r.end, numba.get_num_threads())
        return self._events


def build_index(reg: Prepared) -> Index:
    """Rule items 1–5: the successor of every move, from one pass over the events in time order."""
    days = K._by_day(reg.mv_date, reg.start, reg.end, True)
    step, comp_first, inconsistent, orphan = successors(reg, numba.get_num_threads(), days)
    return Index(reg, days, step, comp_first, inconsistent, orphan)


def successors(reg: Prepared, n_spans: int, days: tuple | None = None) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(step, comp_first, inconsistent, orphan fills)`` from the time-ordered pass, in
    parallel over ``n_spans`` spans of days (at most 8: each but the first holds 8 bytes
    per dwelling, the first 4; the result does not depend on it); ``days``: the moves'
    rows by day (:class:`Index`), computed when not given."""
    n_moves, n_dw = len(reg.mv_date), len(reg.dw_completed)
    if n_moves + n_dw >= 2**31 - 1:  # refs in the kernel's int32 state
        raise ValueError(f"too large: {n_moves} moves + {n_dw} dwellings (limit 2**31)")
    # int32: move rows and end codes fit (checked above); on this project's VM fresh memory
    # costs about 3 ms per MB, so every byte the pass touches counts
    step, comp_first = scratch(n_moves, np.int32), scratch(n_dw, np.int32)
    first_span = scratch(n_dw, np.int32)
    state = scratch((min(max(1, n_spans), MAX_SPANS) - 1, 2 * n_dw), np.int32)
    day_start, rows, dense = K._by_day(reg.mv_date, reg.start, reg.end, True) if days is None else days
    inconsistent, orphan = K.successors_by_time(
        reg.mv_date, reg.mv_from, reg.mv_to, reg.mv_vacates, reg.mv_fills, reg.mv_origin, reg.dw_completed,
        reg.dw_demolished, reg.start, reg.end, reg.max_gap_days, day_start, rows, dense, step, comp_first,
        first_span, state)
    return step, comp_first, int(inconsistent.sum()), int(orphan.sum())


def select_seeds(reg: Prepared, index: Index, seeds: Seeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed vacancies in chain-id order: (event codes, dense dwellings, first codes)."""
    selected = np.ones(len(reg.dwelling_ids), bool)
    if isinstance(seeds, str):
        if seeds not in ("new_builds", "all"):
            raise ValueError(f"seeds: expected 'new_builds', 'all', dwelling ids or a polars expression; got {seeds!r}")
        if seeds == "new_builds":
            counts = K.new_build_counts(reg.dw_completed, reg.start, reg.end)
            n = int(counts[-1])
            seed_code, seed_dw, seed_first = scratch(n, np.int64), scratch(n, np.int32), scratch(n, np.int64)
            K.new_build_seeds(reg.dw_completed, index.comp_first, reg.start, reg.end, counts, seed_code, seed_dw,
                              seed_first)
            return seed_code, seed_dw, seed_first
    elif isinstance(seeds, pl.Expr):
        mask = pl.from_arrow(decoded(reg.dwellings)).select(seeds.fill_null(False).alias("seed"))["seed"].to_numpy()
        selected = mask.astype(bool)
        selected = selected if reg.dwelling_rows is None else selected[reg.dwelling_rows]
    else:
        ids = np.asarray(seeds, dtype=np.int64)
        dense = reg.dense(ids)
        if (dense < 0).any():
            raise ValueError(f"seeds: {int((dense < 0).sum())} dwelling id(s) not in dwellings.dwelling_id")
        selected = np.zeros(len(reg.dwelling_ids), bool)
        selected[dense] = True
    return K.seed_vacancies(*index.events(), index.step, index.comp_first, selected,
                            False, reg.start, reg.end)


def walk_chains(seed_first: np.ndarray, step: np.ndarray, max_length: int) -> tuple[np.ndarray, ...]:
    """Every seed's chain: ``(length, end_reason, offsets, links)``, the links of chain c
    being ``links[offsets[c]:offsets[c + 1]]`` (move rows, in step order).

    Two parallel passes (lengths, then links at offsets from their cumulative sum);
    the outputs are :func:`~flyttkedja._scratch.scratch` arrays (huge pages).
    """
    n = len(seed_first)
    length, reason = scratch(n, np.int32), scratch(n, np.int8)
    K.chain_lengths(seed_first, step, max_length, length, reason)
    offsets = scratch(n + 1, np.int64)
    offsets[0] = 0
    np.cumsum(length, out=offsets[1:])
    links = scratch(int(offsets[-1]), np.int64)
    K.chain_links(seed_first, step, max_length, offsets, links)
    return length, reason, offsets, links


def fillings(reg: Prepared, index: Index) -> tuple[np.ndarray, int]:
    """Tree convention: ``sib`` (each filling's members linked: ``sib[m] - 1`` the member
    after m — filler, then its joiners in table order —, 0 at the end; one int32 per move)
    and the number of joiners."""
    sib = scratch(len(reg.mv_date), np.int32, zero=True)
    n_join = K.fillings(index.step, index.comp_first, *index.days, reg.mv_to, max(1, 4 * numba.get_num_threads()),
                        sib)
    return sib, int(n_join)


def walk_trees(seed_first: np.ndarray, step: np.ndarray, sib: np.ndarray, max_length: int) -> dict:
    """Every seed's tree (tree convention), breadth first: per chain ``length`` (moves),
    ``depth`` (rounds), ``reason`` (the spine's end reason), ``leaves``, ``offsets``; per
    link ``links`` (move rows), ``level`` (round), ``parent`` (row, -1 in round 1),
    ``leaf`` (end reason code, -1 when not a leaf) and ``joined`` (1 for joiners).

    Two parallel passes like :func:`walk_chains`: sizes, then links at offsets
    from their cumulative sum (the output region is the breadth-first queue).
    """
    n = len(seed_first)
    out = {"length": scratch(n, np.int32), "depth": scratch(n, np.int32), "reason": scratch(n, np.int8),
           "leaves": scratch(n, np.int32)}
    K.tree_sizes(seed_first, step, sib, max_length, max(1, numba.get_num_threads() * 4),
                 out["length"], out["depth"], out["reason"], out["leaves"])
    offsets = scratch(n + 1, np.int64)
    offsets[0] = 0
    np.cumsum(out["length"], out=offsets[1:])
    k = int(offsets[-1])
    out.update(offsets=offsets, links=scratch(k, np.int64), level=scratch(k, np.int32),
               parent=scratch(k, np.int64), leaf=scratch(k, np.int8), joined=scratch(k, np.uint8))
    K.tree_links(seed_first, step, sib, max_length, offsets, out["links"], out["level"], out["parent"],
                 out["leaf"], out["joined"])
    return out


def trace(moves, dwellings, seeds: Seeds = "new_builds", *, window=None, max_gap_days: int = 365,
          max_length: int = 1000, convention: str = "path", register_dir: str | Path | None = None) -> ChainSet:
    """Trace the vacancy chains started by ``seeds`` (rule: ``docs/chains.md``).

    Parameters
    ----------
    moves, dwellings : pyarrow.Table, polars/pandas DataFrame or path
        The register (canonical schemas; only the columns the rule needs are required:
        moves ``household_id, move_date, from_dwelling, to_dwelling, origin,
        destination, vacates, fills``; dwellings ``dwelling_id`` and optionally
        ``completed``, ``demolished``).
    seeds : "new_builds" | "all" | dwelling ids | polars expression
        ``"new_builds"``: the completion of every dwelling completed inside the window.
        ``"all"``: every vacancy in the window (completions and vacating moves).
        Dwelling ids or a boolean expression over the dwellings table: every vacancy
        at the selected dwellings inside the window.
    window : (start, end), inclusive dates
        Default: the earliest and latest move date.
    max_gap_days : int
        Longest gap, in days, between a vacancy and the move that fills it.
    max_length : int
        Safety bound on the number of links of one chain, or rounds of one tree (end
        reason ``max_length``).
    convention : "path" | "tree"
        ``"path"`` (the Swedish studies; default): each vacancy is filled by one move.
        ``"tree"`` (CBS): the arrivals at a dwelling on the day its vacancy is filled form
        one filling, and every member that vacated a dwelling opens a further vacancy;
        ``length`` counts the tree's moves, ``depth`` its rounds. Recorded in
        ``ChainSet.params["convention"]``.
    register_dir : path, optional
        Recorded in the ChainSet's parameters (and ``trace.json``); inferred when
        ``moves`` and ``dwellings`` are paths in one directory.

    Returns
    -------
    ChainSet
        Chains in seed order (seed_date, seed_dwelling, seed_move), their links, and a
        data-quality summary in ``ChainSet.quality``.

    Example
    -------
    >>> cs = trace(moves, dwellings, window=("2015-01-01", "2024-12-31"))   # doctest: +SKIP
    >>> cs.chains["end_reason"].value_counts()                             # doctest: +SKIP
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    mv, dw = read(moves, "moves"), read(dwellings, "dwellings")
    with serial_when_small(mv.num_rows):
        reg = prepare(mv, dw, window=window, max_gap_days=max_gap_days, max_length=max_length)
        params = {**_params(reg, seeds, moves, dwellings, register_dir), "convention": convention}
        return _traced(reg, seeds, convention, params)


@contextmanager
def serial_when_small(n_moves: int):
    """Run the kernels on one thread for registers below :data:`SERIAL_BELOW` moves.

    Each parallel region (numba's OpenMP layer) starts and joins the worker threads;
    on a tiny register that costs far more than the work, and on a busy machine a
    region waits for a descheduled worker (a 10-dwelling register: 0.25–0.43 s per
    tree trace on two threads against 0.026 s on one, measured on the shared 2-core
    machine). Results do not depend on the thread count. Thread-local: other
    threads keep their setting. On one thread the kernels run their serial twins
    (:class:`flyttkedja._jit.Threaded`), so a small register never compiles the
    parallel forms (compilation of the tracer's kernels in ``flyttkedja demo``:
    about 14 against 6 CPU-s).
    """
    with one_thread(n_moves < SERIAL_BELOW):
        yield


def _traced(reg: Prepared, seeds: Seeds, convention: str, params: dict) -> ChainSet:
    """:func:`trace` after :func:`~flyttkedja.core._prepare.prepare`."""
    index = build_index(reg)
    seed_code, seed_dw, seed_first = select_seeds(reg, index, seeds)
    q = quality(reg, index)
    if convention == "path":
        length, reason, offsets, links = walk_chains(seed_first, index.step, reg.max_length)
        ones = np.ones(len(length), np.int32)
        chains = _chains_frame(reg, seed_code, seed_dw, length, length, ones, reason, offsets, links)
        return ChainSet(chains, _links_frame(reg, length, offsets, links), reg.moves, reg.dwellings, params, q)
    sib, q["joiners"] = fillings(reg, index)
    t = walk_trees(seed_first, index.step, sib, reg.max_length)
    chains = _chains_frame(reg, seed_code, seed_dw, t["length"], t["depth"], t["leaves"], t["reason"],
                           t["offsets"], t["links"], latest=True)
    links = _links_frame(reg, t["length"], t["offsets"], t["links"], t["level"]).with_columns(
        parent_row=_nullable(t["parent"], t["parent"] < 0),
        joined=pl.Series(t["joined"].view(np.bool_)),
        end_reason=_reasons(t["leaf"]))
    return ChainSet(chains, links, reg.moves, reg.dwellings, params, q)


def retrace(chainset: ChainSet, convention: str) -> ChainSet:
    """The same register, seeds, window, gap and bound traced under another ``convention``.

    Seeds given as dwelling ids or an expression are taken as the dwellings the chains
    start at (every vacancy there in the window: the same seeds).

    >>> trees = retrace(paths, "tree")                          # doctest: +SKIP
    """
    p = chainset.params
    seeds = p.get("seeds", "new_builds")
    if seeds not in ("new_builds", "all"):
        seeds = chainset.chains["seed_dwelling"].unique().sort().to_numpy()
    return trace(chainset._moves, chainset._dwellings, seeds, window=tuple(p["window"]),
                 max_gap_days=p["max_gap_days"], max_length=p["max_length"], convention=convention,
                 register_dir=p.get("register_dir"))


def _params(reg: Prepared, seeds: Seeds, moves, dwellings, register_dir) -> dict:
    if register_dir is None and isinstance(moves, (str, Path)) and isinstance(dwellings, (str, Path)):
        if Path(moves).resolve().parent == Path(dwellings).resolve().parent:
            register_dir = Path(moves).resolve().parent
    start, end = reg.window_dates()
    return {
        "seeds": seeds if isinstance(seeds, str) else ("expression" if isinstance(seeds, pl.Expr) else "dwelling_ids"),
        "window": [start.isoformat(), end.isoformat()],
        "max_gap_days": reg.max_gap_days,
        "max_length": reg.max_length,
        "register_dir": str(Path(register_dir).resolve()) if register_dir is not None else None,
    }


def quality(reg: Prepared, index: Index) -> dict:
    """Data-quality counts: vacancies by outcome, inconsistencies, moves outside the window."""
    counts = K.quality_counts(reg.mv_date, reg.mv_from, reg.mv_vacates, index.step, reg.dw_completed,
                              index.comp_first, reg.start, reg.end, numba.get_num_threads())
    names = ("moves_outside_window", "new_builds", "vacancies", "filled", "unfilled", "censored")
    return {"moves": int(len(reg.mv_date)), **{k: int(v) for k, v in zip(names, counts)},
            "inconsistent_vacancies": index.inconsistent, "orphan_fills": index.orphan_fills,
            "input_counts": reg.input_counts}  # accepted rows that break a "count" rule (schema.RULES)


def _dates(days: np.ndarray, nullable: bool = False) -> pl.Series:
    """int32 days → a Date series on the same buffer (no cast pass); with ``nullable``, null
    where the day is NO_DATE (a validity bitmap beside the buffer, one kernel pass)."""
    days = np.ascontiguousarray(days, dtype=np.int32)
    bitmap = None
    if nullable:
        bits = scratch((len(days) + 7) // 8, np.uint8)
        bitmap = pa.py_buffer(bits) if _codes.bits_at_least(days, K.NO_DATE + 1, bits) else None
    return pl.from_arrow(pa.Array.from_buffers(pa.date32(), len(days), [bitmap, pa.py_buffer(days)]))


def _codes_to(labels: Sequence[str], codes: np.ndarray, name: str, rows: np.ndarray | None = None) -> pl.Series:
    """int8 codes (of ``rows``: ``codes[rows]``) → a String series of their labels, null for
    codes < 0. The column is built as Arrow string views in scratch memory by one kernel
    pass and handed to polars without a copy: a polars gather allocates 16 bytes per row
    on fresh 4 KiB pages (10.2 M moves: ~20,000 page faults for the chains frame)."""
    table = pa.array(list(labels), type=pa.string_view())
    n = len(codes) if rows is None else len(rows)
    views, bits = scratch((n, 2), np.int64), scratch((n + 7) // 8, np.uint8)
    K.label_views(codes, _NO_ROWS if rows is None else rows.astype(np.int64, copy=False), _views(table), views, bits)
    data = [b for b in table.buffers()[2:] if b is not None]  # the labels longer than 12 bytes
    array = pa.Array.from_buffers(pa.string_view(), n, [pa.py_buffer(bits), pa.py_buffer(views), *data])
    return pl.from_arrow(array).alias(name)


def _views(table: pa.Array) -> np.ndarray:
    """The 16-byte view slots of a string-view array, as (n, 2) int64."""
    return np.frombuffer(table.buffers()[1], np.int64, count=2 * len(table)).reshape(-1, 2)


def _nullable(values: np.ndarray, null: np.ndarray) -> pl.Series:
    """An Int64 series, null where ``null``: the values' buffer with a validity bitmap
    (``pa.array(values, mask=null)`` took 13-260 ms at 10 M rows)."""
    values = values.astype(np.int64, copy=False)
    bitmap = pa.py_buffer(np.packbits(~null, bitorder="little")) if null.any() else None
    return pl.from_arrow(pa.Array.from_buffers(pa.int64(), len(values), [bitmap, pa.py_buffer(values)]))


def _seed_columns(reg: Prepared, seed_code: np.ndarray, seed_dw: np.ndarray) -> tuple[dict, np.ndarray]:
    """chain_id, seed_kind, seed_dwelling, seed_date, seed_move of each seed (one kernel pass
    into scratch columns that polars takes without a copy); and the seed dates as days."""
    n = len(seed_code)
    chain_id, kind, dwelling = scratch(n, np.int64), scratch(n, np.int8), scratch(n, np.int64)
    day, move, move_bits = scratch(n, np.int32), scratch(n, np.int64), scratch((n + 7) // 8, np.uint8)
    K.seed_columns(seed_code, seed_dw.astype(np.int64, copy=False), reg.dwelling_ids, reg.start, chain_id, kind,
                   dwelling, day, move, move_bits)
    return {
        "chain_id": chain_id,
        "seed_kind": _codes_to(("new_build", "move"), kind, "seed_kind"),
        "seed_dwelling": dwelling,
        "seed_date": _dates(day),
        "seed_move": pl.from_arrow(pa.Array.from_buffers(pa.int64(), n, [pa.py_buffer(move_bits), pa.py_buffer(move)])),
    }, day


def _reasons(code: np.ndarray) -> pl.Series:
    """End reason codes → strings; -1 → null."""
    return _codes_to(END_REASONS, code, "end_reason")


def _chains_frame(reg, seed_code, seed_dw, length, depth, leaves, reason, offsets, links,
                  latest: bool = False) -> pl.DataFrame:
    """One row per chain; ``end_date`` is the last link's date, or with ``latest`` (trees,
    whose links are in breadth-first order) the latest link's."""
    seed, seed_date = _seed_columns(reg, seed_code, seed_dw)
    end_date = scratch(len(length), np.int32)
    K.end_dates(length, offsets, links, reg.mv_date, seed_date, latest, end_date)
    frame = pl.DataFrame({
        **seed,
        "length": length.astype(np.int32, copy=False),
        "depth": depth.astype(np.int32, copy=False),
        "leaves": leaves.astype(np.int32, copy=False),
        "end_reason": _codes_to(END_REASONS, reason.astype(np.int8, copy=False), "end_reason"),
        "end_date": _dates(end_date),
    })
    attrs = _dwelling_attributes(reg, seed_dw)
    attrs = attrs.rename({c: f"dwelling_{c}" for c in attrs.columns if c in frame.columns})
    return pl.concat([frame, attrs], how="horizontal")


def _dwelling_attributes(reg: Prepared, dense: np.ndarray) -> pl.DataFrame:
    """The dwellings' columns (but ``dwelling_id``) of the dense dwellings ``dense``: code
    columns from their int8 codes, the dates from the tracer's day arrays and numeric
    columns without nulls from their values (kernel passes and numpy gathers into scratch
    columns polars takes without a copy, instead of Arrow's take across row-group chunks
    onto fresh pages); the rest taken."""
    dense = dense.astype(np.int64, copy=False)
    rows = reg.table_rows(dense)
    days = {"completed": reg.dw_completed, "demolished": reg.dw_demolished}
    columns = [c for c in reg.dwellings.column_names if c != "dwelling_id"]
    gathered = {c: _take(reg.dwellings.column(c), rows) for c in columns if c not in reg.dw_codes and c not in days}
    plain = [c for c, v in gathered.items() if v is None]
    taken = pl.from_arrow(decoded(reg.dwellings.select(plain).take(rows))) if plain else None
    series = {}
    for c in columns:
        if c in reg.dw_codes:
            series[c] = _codes_to(CODE_LISTS[c], reg.dw_codes[c], c, rows)
        elif c in days:
            picked = scratch(len(dense), np.int32)
            K.days_of(_codes.read_only(days[c]), _ALL_VALID, 0, dense, K.NO_DATE, picked)
            series[c] = _dates(picked, nullable=True)
        elif gathered[c] is None:
            series[c] = taken[c] if isinstance(taken, pl.DataFrame) else taken
        else:
            series[c] = gathered[c].alias(c)
    return pl.DataFrame(series, height=len(rows))


def _take(column: pa.ChunkedArray, rows: np.ndarray) -> pl.Series | None:
    """``column[rows]`` of a numeric column without nulls: its chunks' values copied once into
    scratch, gathered into scratch; None for other columns."""
    kind = column.type
    if column.null_count or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    dtype = np.dtype(kind.to_pandas_dtype())
    whole = scratch(len(column), dtype)
    pos = 0
    for chunk in column.chunks:
        whole[pos:pos + len(chunk)] = values(chunk, dtype)
        pos += len(chunk)
    out = scratch(len(rows), dtype)
    np.take(whole, rows, out=out)
    return pl.Series(out)


def _links_frame(reg, length, offsets, links, level=None) -> pl.DataFrame:
    """One row per link; ``step`` is the position in the chain, or ``level`` (a tree's round).
    The columns come from one kernel pass (:func:`~flyttkedja.core._kernels.link_columns`)."""
    n = len(links)
    cols = {k: scratch(n, t) for k, t in (("chain_id", np.int64), ("step", np.int32), ("household_id", np.int64),
                                          ("day", np.int32), ("from", np.int64), ("to", np.int64))}
    from_null = np.empty(n, np.bool_)
    K.link_columns(links, offsets, reg.household, reg.mv_date, reg.mv_from, reg.mv_to, reg.mv_vacates,
                   reg.dwelling_ids, cols["chain_id"], cols["step"], cols["household_id"], cols["day"],
                   cols["from"], from_null, cols["to"])
    return pl.DataFrame({
        "chain_id": cols["chain_id"],
        "step": cols["step"] if level is None else level.astype(np.int32, copy=False),
        "move_row": links.astype(np.int64, copy=False),
        "household_id": cols["household_id"],
        "move_date": _dates(cols["day"]),
        "from_dwelling": _nullable(cols["from"], from_null),
        "to_dwelling": cols["to"],
    })


def _conditions(reg: Prepared, condition) -> tuple[list[str], np.ndarray]:
    """Conditions → names and a (k, n_moves) boolean matrix; nulls count as false."""
    if condition is None:
        return [], np.zeros((0, len(reg.mv_date)), bool)
    items = condition.items() if isinstance(condition, Mapping) else [("count", condition)]
    names, rows = [], []
    for name, cond in items:
        if isinstance(cond, pl.Expr):
            needed = list(dict.fromkeys(cond.meta.root_names()))
            frame = pl.from_arrow(decoded(reg.moves.select(needed))) if needed else pl.DataFrame(height=len(reg.mv_date))
            mask = frame.select(cond.fill_null(False).alias("c"))["c"].to_numpy().astype(bool)
        else:
            mask = np.asarray(cond, dtype=bool)
        if mask.shape != (len(reg.mv_date),):
            raise ValueError(f"condition {name!r}: expected one boolean per move ({len(reg.mv_date)}), got {mask.shape}")
        names.append(name)
        rows.append(mask)
    return names, np.stack(rows)


def new_builds(reg: Prepared) -> np.ndarray:
    """Dense indices of the dwellings completed inside the window, ascending."""
    return np.flatnonzero((reg.dw_completed >= reg.start) & (reg.dw_completed <= reg.end))


def statistics_arrays(reg: Prepared, index: Index, cond: np.ndarray) -> list[tuple]:
    """Kernel part of :func:`vacancy_statistics`: for each condition (a row of ``cond``),
    ``(length, reason, count)`` per move row (-1 where the row opens no vacancy in the
    window) and per new build (the completion vacancies of :func:`new_builds`, in order)."""
    built, n = new_builds(reg), len(reg.mv_date)
    out = []
    for c in cond if cond.shape[0] else np.zeros((1, n), bool):
        suffix, *by_move = scratch(n, np.int64), scratch(n, np.int32), scratch(n, np.int8), scratch(n, np.int32)
        K.move_vacancy_stats(index.step, c, reg.mv_date, reg.start, reg.end, reg.max_length, suffix, *by_move)
        by_build = K.vacancy_stats(index.comp_first[built], suffix, index.step, c, reg.max_length)
        out.append((tuple(by_move), by_build))
    return out


def vacancy_statistics(moves, dwellings, condition=None, *, window=None, max_gap_days: int = 365,
                       max_length: int = 1000) -> pl.DataFrame:
    """Length, end reason and condition counts of the chain every vacancy starts.

    One row per vacancy in the window (each completion and each vacating move), in
    the chain-id order of ``trace(..., seeds="all")``, computed in one linear pass
    over the successor relation instead of walking every chain.

    Parameters
    ----------
    condition : polars expression over moves, boolean array (one per move), or a
        mapping name → either; each gives a column counting the chain's links whose
        move meets it (``count`` for a single condition). Nulls count as false.

    Example
    -------
    >>> low = pl.col("income") < 150_000
    >>> vacancy_statistics(moves, dwellings, {"low_income": low})   # doctest: +SKIP
    """
    mv, dw = read(moves, "moves"), read(dwellings, "dwellings")
    with serial_when_small(mv.num_rows):
        reg = prepare(mv, dw, window=window, max_gap_days=max_gap_days, max_length=max_length)
        return _statistics(reg, condition)


def _statistics(reg: Prepared, condition) -> pl.DataFrame:
    """:func:`vacancy_statistics` after :func:`~flyttkedja.core._prepare.prepare`."""
    index = build_index(reg)
    seed_code, seed_dw, _ = select_seeds(reg, index, "all")
    names, cond = _conditions(reg, condition)
    ref = (seed_code >> 2) & K.REF_MASK
    is_build = (seed_code & 3) == K.COMPLETION
    build_pos = np.searchsorted(new_builds(reg), ref[is_build])  # completion seeds are new builds

    def per_seed(by_move: np.ndarray, by_build: np.ndarray) -> np.ndarray:
        out = np.empty(len(ref), by_move.dtype)
        out[is_build] = by_build[build_pos]
        out[~is_build] = by_move[ref[~is_build]]
        return out

    stats = statistics_arrays(reg, index, cond)
    length, reason = (per_seed(stats[0][0][i], stats[0][1][i]) for i in (0, 1))
    counts = [per_seed(s[0][2], s[1][2]) for s in stats]
    seed, _ = _seed_columns(reg, seed_code, seed_dw)
    del seed["chain_id"]  # statistics are per vacancy, in chain-id order, without the id
    frame = pl.DataFrame({
        **seed,
        "length": length.astype(np.int32),
        "end_reason": _codes_to(END_REASONS, reason.astype(np.int8, copy=False), "end_reason"),
    })
    return frame.with_columns(pl.Series(name, counts[k].astype(np.int32)) for k, name in enumerate(names))
