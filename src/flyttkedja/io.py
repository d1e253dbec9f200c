"""Reading any table-like input into Arrow, and writing outputs atomically.

Every public function that takes a table accepts a pyarrow Table, a polars or
pandas DataFrame, or a path to a Parquet, Arrow IPC (Feather), CSV, SAS,
Stata or SPSS file, and turns it into a pyarrow Table with :func:`to_arrow`. Outputs are written to a
temporary name beside the target and renamed into place, so a failed run never
leaves a half-written file or directory. A temporary is named
``.NAME.<pid>.<random>.tmp`` (a replaced directory ``.NAME.<pid>.old`` while it is
swapped out): the next write into the same place removes those whose process is
gone (a killed run), and says so on stderr. :func:`check_output` refuses, before
any work, an output that would replace or sit inside or above an input.

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
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flyttkedja._readers import (  # noqa: F401 - the reading side's public names
    is_table_file, iter_tables, kind_of, read_table, spool_parquet, value_labels,
)

TableLike = Any  # pa.Table | pl.DataFrame | pd.DataFrame | str | os.PathLike

# Parquet settings shared by every writer: fixed, so that equal tables give
# byte-identical files. Page checksums (CRC32) let any reader that verifies them
# (pyarrow: page_checksum_verification=True) detect a corrupted copy of microdata.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "row_group_size": 1 << 20, "write_page_checksum": True}
_WRITER_OPTIONS = {k: v for k, v in PARQUET_OPTIONS.items() if k != "row_group_size"}


def to_arrow(source: TableLike, name: str = "table", columns: dict[str, str] | None = None) -> pa.Table:
    """Turn ``source`` into a pyarrow Table without copying where possible.

    Parameters
    ----------
    source : pyarrow.Table, polars.DataFrame, pandas.DataFrame, or path
        A path may name a Parquet file (``.parquet``/``.pq``; any unknown suffix
        is read as Parquet), an Arrow IPC file (``.arrow``/``.feather``/``.ipc``),
        a CSV file (``.csv``/``.csv.gz``/``.tsv``), a SAS dataset (``.sas7bdat``,
        XPORT ``.xpt``), a Stata (``.dta``) or SPSS (``.sav``/``.zsav``) file:
        see :mod:`flyttkedja._readers` for dates, blanks and value labels.
    name : str
        Table name used in error messages.
    columns : mapping, optional
        Register name → canonical name (e.g. ``{"LopNr": "person_id"}``), applied to the
        columns present (:func:`renames`): what :func:`flyttkedja.ingest.load_columns`
        reads from a mapping file.
    """
    table = _as_arrow(source, name)
    if columns:
        mapping = renames(table.column_names, columns)
        table = table.rename_columns([mapping.get(c, c) for c in table.column_names])
    return table


def renames(names, columns: dict[str, str]) -> dict[str, str]:
    """``{present name: canonical name}`` for the ``names`` a mapping covers, matched without
    regard to case (SAS variable names have none: an XPORT file says ``LOPNR`` for ``LopNr``).

    >>> renames(["LOPNR", "x"], {"LopNr": "person_id"})
    {'LOPNR': 'person_id'}
    """
    folded = {k.casefold(): v for k, v in columns.items()}
    out = {n: columns.get(n, folded.get(n.casefold())) for n in names if n in columns or n.casefold() in folded}
    targets = list(out.values()) + [n for n in names if n not in out]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ValueError(f"column mapping: {twice} would be given by two columns "
                         f"({sorted(n for n in names if out.get(n, n) in twice)}); drop one from the mapping")
    return out


def _as_arrow(source: TableLike, name: str) -> pa.Table:
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
    return read_table(path, name)


class OutputError(ValueError):
    """An output path that would destroy an input, or cannot be a directory; one line naming it."""


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (), *,
                 overwrite: bool = False, what: str = "--out") -> Path:
    """Refuse an output directory before any work is done; returns it resolved.

    Refused: ``.``, ``..`` or a path ending in them (the output would replace the
    working directory or its parent); an existing file; an existing directory
    without ``overwrite``; a path equal to, inside or above any of ``inputs``
    (replacing it, or writing into it, would destroy or mix with the input).
    Stale temporaries of killed runs into the same place are removed (and reported).

    >>> check_output("run/chains", ["run/register"])   # doctest: +SKIP
    PosixPath('/home/me/run/chains')
    """
    given = Path(out)
    if given.name in ("", ".", "..") or str(out).rstrip("/").endswith(("/.", "/..")) or str(out) in (".", ".."):
        raise OutputError(f"{what} {out}: names an existing directory by '.' or '..'; "
                          "give the name of a new output directory")
    path = given.resolve()
    if path.is_file():
        raise OutputError(f"{what} {out}: is an existing file; the output is a directory, give another name")
    for source in inputs:
        if source is None:
            continue
        src = Path(source).resolve()
        if path == src:
            raise OutputError(f"{what} {out}: is an input ({source}); writing there would destroy it")
        if src in path.parents:
            raise OutputError(f"{what} {out}: lies inside the input {source}; write the output beside it")
        if path in src.parents:
            raise OutputError(f"{what} {out}: contains the input {source}; replacing it would destroy that input")
    if path.is_dir() and not overwrite:
        raise FileExistsError(f"{what} {out}: output directory exists; choose another or pass --overwrite")
    clean_stale(path)
    return path


_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.(?:[^.]+\.tmp|old)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries (``.NAME.<pid>.*.tmp``) and swapped-out ``.NAME.<pid>.old``
    directories that killed runs left beside ``path``; each removal is reported on stderr.

    Only those whose process is gone are touched, so a run writing into the same
    place at the same time keeps its own. Returns what was removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        m = _STALE.match(entry.name)
        if not m or m["name"] != path.name or _alive(int(m["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
        print(f"flyttkedja: removed {entry}, left by an interrupted run (pid {m['pid']})", file=sys.stderr)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported,
    so that replacing an output directory never has an instant with no output at all."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return False


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it into place on success, remove it on failure.

    The one mechanism behind every single-file output (Parquet, JSON, HTML, Excel).

    >>> with atomic_file(out / "page.html") as tmp:   # doctest: +SKIP
    ...     Path(tmp).write_text(html, encoding="utf-8")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_parquet(table: pa.Table, path: str | os.PathLike) -> Path:
    """Write ``table`` to Parquet at ``path`` atomically (temp file, then rename), with page checksums."""
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
        writer = pq.ParquetWriter(tmp, schema, **_WRITER_OPTIONS)
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


def read_json(path: str | os.PathLike, what: str = "manifest") -> dict:
    """Read a JSON manifest written by :func:`write_json`; a corrupt or truncated one is refused
    with one line naming the file (not json's bare "Expecting value: line 1 column 1")."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {what} is not valid JSON ({exc}); rerun the step that wrote it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: {what} is not a JSON object; rerun the step that wrote it")
    return data


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = False,
                     inputs: Iterable[str | os.PathLike | None] = ()) -> Iterator[Path]:
    """Build an output directory under a temporary name; rename it into place on success.

    On any exception the temporary directory is removed and ``path`` is left
    as it was. With ``overwrite`` an existing directory is replaced only after
    the new one is complete. ``path`` is checked first by :func:`check_output`
    against ``inputs`` (refused when equal to, inside or above one of them);
    stale temporaries of killed runs are removed.

    >>> with atomic_directory(tmp_path / "out") as d:   # doctest: +SKIP
    ...     write_parquet(table, d / "table.parquet")
    """
    path = check_output(path, inputs, overwrite=overwrite, what="output directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"output directory {path} appeared while this run wrote it; "
                                      f"the new output was not kept")
            if _exchange(tmp, path):  # one atomic step: the old output is now at tmp
                shutil.rmtree(tmp, ignore_errors=True)
            else:  # no atomic exchange here: a kill between the two renames leaves no output (and a .old)
                old = path.with_name(f"{_temp_prefix(path)}old")
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
