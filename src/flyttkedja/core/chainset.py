"""`ChainSet`: the traced chains of a register, as two polars tables.

``chains`` has one row per chain, ``links`` one row per link (household move
inside a chain). Both refer back to the moves table by row number
(``move_row``), so any move or dwelling attribute can be joined on request
with :meth:`ChainSet.link_attributes` without being copied into every link.

Columns of ``chains``
    chain_id (Int64, 0..n-1), seed_kind ("new_build" | "move"),
    seed_dwelling (Int64), seed_date (Date), seed_move (Int64, null for new
    builds: the row of the move that vacated the seed dwelling), length (Int32,
    number of links = household moves), depth (Int32, rounds: equal to length
    under the path convention), leaves (Int32, 1 under the path convention),
    end_reason (one of :data:`flyttkedja.schema.END_REASONS`; for a tree the
    end reason of its spine, the branch of fillers, which is the path
    convention's chain), end_date (Date: date of the latest link, the seed
    date when length is 0), then the seed dwelling's attributes from the
    dwellings table (tenure, rooms, area_type, ...), named as there.

Columns of ``links``
    chain_id (Int64), step (Int32, 1 = the move into the seed dwelling; a
    tree's round), move_row (Int64, row in the moves table), household_id
    (Int64), move_date (Date), from_dwelling (Int64, null when nothing was
    vacated), to_dwelling (Int64). Trees (``params["convention"] == "tree"``)
    also have parent_row (Int64: the move_row of the link whose vacancy this
    link's filling filled; null in round 1), joined (Boolean: the household
    joined the filling rather than filling the vacancy) and end_reason
    (String: the leaf's end reason; null where the link's vacancy was filled
    inside the tree). Links of a tree are in breadth-first order.

Example
-------
>>> cs = flyttkedja.trace(moves, dwellings)             # doctest: +SKIP
>>> cs.chains.group_by("tenure").agg(pl.col("length").mean())   # doctest: +SKIP
>>> cs.link_attributes(["age_head", "income"], ["tenure", "area_type"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl
import pyarrow as pa

from flyttkedja import store
from flyttkedja.io import atomic_directory, write_parquet

CHAIN_COLUMNS: dict[str, pl.DataType] = {
    "chain_id": pl.Int64,
    "seed_kind": pl.String,
    "seed_dwelling": pl.Int64,
    "seed_date": pl.Date,
    "seed_move": pl.Int64,
    "length": pl.Int32,
    "end_reason": pl.String,
    "end_date": pl.Date,
}
LINK_COLUMNS: dict[str, pl.DataType] = {
    "chain_id": pl.Int64,
    "step": pl.Int32,
    "move_row": pl.Int64,
    "household_id": pl.Int64,
    "move_date": pl.Date,
    "from_dwelling": pl.Int64,
    "to_dwelling": pl.Int64,
}


@dataclass(frozen=True, init=False)
class ChainSet:
    """Chains and links traced from one register (see module docstring).

    Parameters
    ----------
    chains, links : polars.DataFrame
        As documented above.
    moves, dwellings : pyarrow.Table
        The conformed register the chains were traced from; kept so that
        attributes can be joined on request. Code columns that reached the
        tracer dictionary-encoded (Parquet read by ``trace``, polars
        ``Categorical``) are kept so and decoded to the canonical strings on
        first access of :attr:`moves` / :attr:`dwellings` (once, the trace
        itself never needs the strings).
    params : dict
        Tracing parameters (window, max_gap_days, max_length, seeds, convention,
        register_dir) for the record.
    quality : dict
        Data-quality counts from the tracer (vacancies filled / unfilled / censored,
        ``inconsistent_vacancies`` whose next event was another departure,
        ``orphan_fills``, ``moves_outside_window``; see docs/chains.md).
    """

    chains: pl.DataFrame
    links: pl.DataFrame
    _moves: pa.Table = field(repr=False)
    _dwellings: pa.Table = field(repr=False)
    params: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)

    def __init__(self, chains: pl.DataFrame, links: pl.DataFrame, moves: pa.Table | None = None,
                 dwellings: pa.Table | None = None, params: dict | None = None, quality: dict | None = None,
                 *, _moves: pa.Table | None = None, _dwellings: pa.Table | None = None) -> None:
        # the documented keywords are ``moves``/``dwellings``; ``_moves``/``_dwellings`` are the field
        # names dataclasses.replace passes (the fields hold the tables as traced, possibly dictionary-encoded)
        if (moves is None) == (_moves is None) or (dwellings is None) == (_dwellings is None):
            raise TypeError("ChainSet needs moves and dwellings (each once)")
        for name, value in (("chains", chains), ("links", links),
                            ("_moves", moves if _moves is None else _moves),
                            ("_dwellings", dwellings if _dwellings is None else _dwellings),
                            ("params", {} if params is None else params),
                            ("quality", {} if quality is None else quality)):
            object.__setattr__(self, name, value)
        self.__post_init__()

    @cached_property
    def moves(self) -> pa.Table:
        """The conformed moves table (canonical string code columns)."""
        return decoded(self._moves)

    @cached_property
    def dwellings(self) -> pa.Table:
        """The conformed dwellings table (canonical string code columns)."""
        return decoded(self._dwellings)

    def __post_init__(self) -> None:
        for name, frame, columns in [("chains", self.chains, CHAIN_COLUMNS), ("links", self.links, LINK_COLUMNS)]:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"ChainSet.{name}: missing column(s) {missing}")

    @property
    def convention(self) -> str:
        """``"path"`` or ``"tree"``: the rule that produced these chains (docs/chains.md)."""
        return self.params.get("convention", "path")

    def __len__(self) -> int:
        return self.chains.height

    def __repr__(self) -> str:
        return f"ChainSet({self.chains.height} chains, {self.links.height} links, {self.convention} convention)"

    def _repr_html_(self) -> str:
        """Jupyter's rich display: what was traced and the length summary by seed tenure.

        Drawn by :mod:`flyttkedja.analysis.display` (imported here, not at the
        top: the figures pass the analysis layer's disclosure control, which
        sits above core), so only protected aggregates show, never an id.
        """
        from flyttkedja.analysis.display import chainset_html

        return chainset_html(self)

    def link_attributes(
        self,
        move_columns: Sequence[str] = (),
        dwelling_columns: Sequence[str] = (),
    ) -> pl.DataFrame:
        """Links with attributes joined on.

        ``move_columns`` come from the link's own row in the moves table (the
        moving household at the time of the move, e.g. ``age_head``,
        ``income``). Each of ``dwelling_columns`` is joined twice, as
        ``to_<col>`` (the vacancy the household filled) and ``from_<col>``
        (the dwelling it vacated; null when it vacated none).
        """
        out = self.links
        if move_columns:
            moves = pl.from_arrow(self.moves.select(list(move_columns)))
            out = out.with_columns(moves[list(move_columns)][out["move_row"].to_numpy()])
        if dwelling_columns:
            dw = pl.from_arrow(self.dwellings.select(["dwelling_id", *dwelling_columns]))
            for side in ("to", "from"):
                renamed = dw.rename({c: f"{side}_{c}" for c in dw.columns})
                out = out.join(renamed, left_on=f"{side}_dwelling", right_on=f"{side}_dwelling_id",
                               how="left", maintain_order="left")
        return out

    def to_arrow(self) -> dict[str, pa.Table]:
        """``{"chains": ..., "links": ...}`` as pyarrow Tables."""
        return {"chains": self.chains.to_arrow(), "links": self.links.to_arrow()}

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``chains.parquet``, ``links.parquet`` and ``trace.json`` into ``path``, atomically.

        ``trace.json`` holds the parameters (including the absolute path of the
        register directory, when known), the data-quality counts and the content
        hash of the register (:func:`flyttkedja.store.register_hash`), so that
        :func:`read_chainset` can load the ChainSet with its register and refuse another.
        """
        with atomic_directory(path, overwrite=overwrite, inputs=[self.params.get("register_dir")]) as tmp:
            for name, table in self.to_arrow().items():
                write_parquet(table, store.chains_file(tmp, name))
            store.write_trace_manifest(tmp, store.TraceManifest(
                params=self.params, quality=self.quality,
                rows={"chains": self.chains.height, "links": self.links.height},
                register_hash=store.register_hash({"moves": self._moves, "dwellings": self._dwellings})))
        return Path(path)


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded string columns decoded to plain strings (the
    canonical schemas' type; other columns untouched, no copy).

    >>> decoded(pa.table({"t": pa.array(["owner", "rental"]).dictionary_encode()})).schema.types
    [DataType(string)]
    """
    coded = [i for i, f in enumerate(table.schema)
             if pa.types.is_dictionary(f.type) and (pa.types.is_string(f.type.value_type)
                                                     or pa.types.is_large_string(f.type.value_type))]
    for i in coded:
        f = table.schema.field(i)
        table = table.set_column(i, f.with_type(pa.string()), table.column(i).cast(pa.string()))
    return table


def read_chainset(path: str | os.PathLike, *, register: str | os.PathLike | None = None, moves=None,
                  dwellings=None) -> ChainSet:
    """Load a ChainSet written by :meth:`ChainSet.write` (or ``flyttkedja trace``) with its register.

    The register's moves and dwellings are read from the directory recorded in
    ``trace.json``; pass ``register`` (a register directory) or ``moves``/``dwellings``
    (any table-like input) to override, e.g. when chains were traced from tables in
    memory. A register whose content differs from the one traced (its hash in
    ``trace.json``) raises :class:`flyttkedja.store.RegisterMismatch`.

    >>> cs = read_chainset("run/chains")        # doctest: +SKIP
    """
    from flyttkedja.io import to_arrow
    from flyttkedja.schema import conform

    path = Path(path)
    manifest = store.read_trace_manifest(path)
    register = Path(register) if register is not None else manifest.register_dir
    named = register if moves is None and dwellings is None else None  # for the mismatch message
    if moves is None or dwellings is None:
        if register is None:
            raise ValueError(f"{path}/{store.TRACE_MANIFEST} names no register directory; pass moves= and dwellings=")
        moves = store.register_input(register, "moves") if moves is None else moves
        dwellings = store.register_input(register, "dwellings") if dwellings is None else dwellings
    moves = conform(to_arrow(moves, "moves"), "moves", partial=True)
    dwellings = conform(to_arrow(dwellings, "dwellings"), "dwellings", partial=True, check_unique=False)
    store.check_register(manifest, {"moves": moves, "dwellings": dwellings}, path, named)
    return ChainSet(
        chains=pl.read_parquet(store.chains_file(path, "chains")),
        links=pl.read_parquet(store.chains_file(path, "links")),
        moves=moves,
        dwellings=dwellings,
        params=manifest.params,
        quality=manifest.quality,
    )
