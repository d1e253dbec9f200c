"""Reading any table-like input into Arrow, and writing outputs atomically.

Every public function that takes a table accepts a pyarrow Table, a polars or
pandas DataFrame, or a path to a Parquet or Arrow IPC (Feather) file, and turns
it into a pyarrow Table with :func:`to_arrow`. Outputs are written to a
temporary name beside the target and renamed into place, so a failed run never
leaves a half-written file or directory.

Example
-------
>>> import polars as pl
>>> to_arrow(pl.DataFrame({"a": [1, 2]})).num_rows
2
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

TableLike = Any  # pa.Table | pl.DataFrame | pd.DataFrame | str | os.PathLike

# Parquet settings shared by every writer: fixed, so that equal tables give
# byte-identical files.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "row_group_size": 1 << 20}


def to_arrow(source: TableLike, name: str = "table") -> pa.Table:
    """Turn ``source`` into a pyarrow Table without copying where possible.

    Parameters
    ----------
    source : pyarrow.Table, polars.DataFrame, pandas.DataFrame, or path
        A path may name a Parquet file (``.parquet``/``.pq``) or an Arrow IPC
        file (``.arrow``/``.feather``/``.ipc``).
    name : str
        Table name used in error messages.
    """
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, (str, os.PathLike)):
        return _read_path(Path(source), name)
    module = type(source).__module__.split(".")[0]
    if module == "polars":
        return source.to_arrow()
    if module == "pandas":
        return pa.Table.from_pandas(source, preserve_index=False)
    raise TypeError(
        f"{name}: expected a pyarrow Table, polars or pandas DataFrame, or a file path; "
        f"got {type(source).__name__}"
    )


def _read_path(path: Path, name: str) -> pa.Table:
    if not path.exists():
        raise FileNotFoundError(f"{name}: no such file {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in {".arrow", ".feather", ".ipc"}:
            return feather.read_table(path, memory_map=True)
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it into place on success, remove it on failure.

    The one mechanism behind every single-file output (Parquet, JSON, HTML, Excel).

    >>> with atomic_file(out / "page.html") as tmp:   # doctest: +SKIP
    ...     Path(tmp).write_text(html, encoding="utf-8")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_parquet(table: pa.Table, path: str | os.PathLike) -> Path:
    """Write ``table`` to Parquet at ``path`` atomically (temp file, then rename)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp, **PARQUET_OPTIONS)
    return path


@contextlib.contextmanager
def atomic_parquet_writer(path: str | os.PathLike, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A Parquet writer for appending tables one by one; the file appears at ``path`` only when complete.

    Used for outputs built in pieces (e.g. one pair of years at a time) that
    should never be held in memory whole.

    >>> with atomic_parquet_writer(out, MOVES) as writer:   # doctest: +SKIP
    ...     writer.write_table(part, row_group_size=PARQUET_OPTIONS["row_group_size"])
    """
    path = Path(path)
    with atomic_file(path) as tmp:
        writer = pq.ParquetWriter(tmp, schema, compression=PARQUET_OPTIONS["compression"])
        try:
            yield writer
        finally:
            writer.close()


def write_json(data: dict, path: str | os.PathLike) -> Path:
    """Write metadata as JSON in one fixed format (sorted keys), so equal data give equal bytes."""
    path = Path(path)
    with atomic_file(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Build an output directory under a temporary name; rename it into place on success.

    On any exception the temporary directory is removed and ``path`` is left
    as it was. With ``overwrite`` an existing directory is replaced only after
    the new one is complete.

    >>> with atomic_directory(tmp_path / "out") as d:   # doctest: +SKIP
    ...     write_parquet(table, d / "table.parquet")
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"output directory {path} exists; choose another or pass overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
