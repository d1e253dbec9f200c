"""``flyttkedja ingest snapshots|events``: person registers → household moves.

Inputs may be Parquet, CSV, SAS, Stata or SPSS files (docs/ingest.md); ``--columns``
names a mapping file of the register's variable names (``flyttkedja ingest columns``
prints SCB's). Both write a register directory (atomically, layout owned by
:mod:`flyttkedja.store`): ``moves.parquet``, the dwellings as ``dwellings.parquet``
(canonical names) and ``register.json`` (so ``flyttkedja trace`` can read
the directory as it is: window = 1 January of the first move year to 31
December of the last; ``max_gap_days`` 730 for annual data, 365 for dated
events — docs/ingest.md, "What annual resolution loses") and ``ingest.json``
(inputs, parameters, row counts).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import click
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import Progress

from flyttkedja import store
from flyttkedja.cli import main, spinner
from flyttkedja.io import atomic_directory, kind_of, to_arrow, write_parquet

def load_columns(spec: str | None) -> dict[str, str] | None:
    """``--columns``: ``"scb"`` or a mapping file (TOML) → :func:`flyttkedja.ingest.load_columns`."""
    from flyttkedja.ingest.columns import load_columns as load

    return load(spec)


@main.group("ingest")
def ingest() -> None:
    """Turn person-level register data into canonical household moves.

    \b
    Examples:
      flyttkedja ingest snapshots DATA/persons --dwellings DATA/dwellings.parquet --columns scb --out run/annual
      flyttkedja ingest events DATA/person_events.parquet --persons DATA/persons \\
          --dwellings DATA/dwellings.parquet --out run/daily
    """


_common = [
    click.option("--dwellings", type=click.Path(exists=True, path_type=Path), required=True,
                 help="Dwellings table of the study area (Parquet, CSV, SAS, Stata or SPSS file)."),
    click.option("--out", type=click.Path(path_type=Path), required=True, help="Output directory."),
    click.option("--columns", default=None,
                 help="'scb' or a mapping file (TOML: register name = canonical name; "
                      "`flyttkedja ingest columns` prints SCB's to edit)."),
    click.option("--overwrite", is_flag=True, help="Replace an existing output directory."),
]


def _options(func):
    for option in reversed(_common):
        func = option(func)
    return func


@ingest.command("snapshots")
@click.argument("persons", type=click.Path(exists=True, path_type=Path))
@_options
@click.option("--move-date", type=click.Choice(["year_end", "mid_year"]), default="year_end", show_default=True)
@click.option("--absent-origin", type=click.Choice(["in_migrant", "immigrant", "new_household"]),
              default="immigrant", show_default=True,
              help="Origin of persons absent from the previous snapshot (regional panel: in_migrant).")
@click.option("--absent-destination", type=click.Choice(["out_migrant", "emigrant", "dissolved"]),
              default="emigrant", show_default=True,
              help="Destination of persons absent from the next snapshot (regional panel: out_migrant).")
def snapshots_command(persons, dwellings, out, columns, overwrite, move_date, absent_origin, absent_destination):
    """Yearly person snapshots (PERSONS, one Parquet file per year) → household moves.

    \b
    Example:
      flyttkedja ingest snapshots run/register/persons --dwellings run/register/dwellings.parquet \\
          --absent-origin in_migrant --absent-destination out_migrant --out run/annual
    """
    from flyttkedja.ingest import from_snapshots

    params = dict(move_date=move_date, absent_origin=absent_origin, absent_destination=absent_destination)
    with atomic_directory(out, overwrite=overwrite, inputs=[persons, dwellings]) as tmp, \
            Progress(transient=True) as bar:
        task = bar.add_task("year pairs", total=None)
        def progress(done, total, year):
            bar.update(task, completed=done, total=total, description=f"year pairs (to {year})")
        mapping = load_columns(columns)
        from_snapshots(persons, dwellings, columns=mapping, out=store.register_file(tmp, "moves"),
                       progress=progress, **params)
        _finish(tmp, dwellings, "snapshots", dict(persons=str(persons.resolve())), params, max_gap_days=730,
                columns=mapping)
    click.echo(f"wrote {store.register_file(out, 'moves')}")


@ingest.command("events")
@click.argument("events", type=click.Path(exists=True, path_type=Path))
@click.option("--persons", type=click.Path(exists=True, path_type=Path), required=True,
              help="Person panel or initial snapshot (its first year is the starting state).")
@_options
@click.option("--unordered", is_flag=True,
              help="Table order within a day means nothing (default: it is the order events happened).")
def events_command(events, persons, dwellings, out, columns, overwrite, unordered):
    """Dated person events (PERSON_EVENTS) + initial snapshot → household moves by day.

    \b
    Example:
      flyttkedja ingest events run/register/person_events.parquet --persons run/register/persons \\
          --dwellings run/register/dwellings.parquet --out run/daily
    """
    from flyttkedja.ingest import from_person_moves

    with atomic_directory(out, overwrite=overwrite, inputs=[events, persons, dwellings]) as tmp, \
            spinner() as progress:
        progress.add_task("person events → household moves")
        mapping = load_columns(columns)
        from_person_moves(events, persons, dwellings, columns=mapping,
                          out=store.register_file(tmp, "moves"), ordered=not unordered)
        _finish(tmp, dwellings, "events", dict(events=str(events.resolve()), persons=str(persons.resolve())),
                dict(ordered=not unordered), max_gap_days=365, columns=mapping)
    click.echo(f"wrote {store.register_file(out, 'moves')}")


def _finish(tmp: Path, dwellings: Path, kind: str, inputs: dict, params: dict, *, max_gap_days: int,
            columns: dict | None) -> None:
    """The rest of the register directory: the dwellings (as Parquet, canonical names), ingest.json, register.json."""
    if kind_of(dwellings) == "parquet" and not columns:
        shutil.copyfile(dwellings, store.register_file(tmp, "dwellings"))
    else:
        write_parquet(to_arrow(dwellings, "dwellings", columns), store.register_file(tmp, "dwellings"))
    moves = store.register_file(tmp, "moves")
    rows = {"moves": pq.read_metadata(moves).num_rows}
    store.write_ingest_manifest(tmp, store.IngestManifest(
        kind=kind, inputs={**inputs, "dwellings": str(dwellings.resolve())}, params=params, rows=rows))
    dates = pq.read_table(moves, columns=["move_date"]).column("move_date")
    window = None
    if len(dates):
        first, last = pc.min(dates).as_py(), pc.max(dates).as_py()
        window = (dt.date(first.year, 1, 1), dt.date(last.year, 12, 31))
    store.write_register_manifest(tmp, store.RegisterManifest(
        window=window, max_gap_days=max_gap_days, rows=rows, source=f"flyttkedja ingest {kind}"))



@ingest.command("columns")
def columns_command():
    """Print SCB's column mapping (TOML) to copy and edit for --columns.

    \b
    Example:
      flyttkedja ingest columns > my_columns.toml     # edit, then:
      flyttkedja ingest snapshots DATA/lisa --dwellings DATA/lgh.sas7bdat --columns my_columns.toml --out run/annual
    """
    from flyttkedja.ingest.columns import SCB_FILE

    click.echo(SCB_FILE.read_text(encoding="utf-8"), nl=False)
