"""``flyttkedja scenario run FILE --out DIR``: compare new-build programmes.

Writes ``comparison.parquet``, ``scenario.json`` and ``model.json`` into DIR
(see :mod:`flyttkedja.scenario.compare`) and prints the headline figures.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from flyttkedja import store
from flyttkedja.cli import main, refuse_existing


@main.group()
def scenario() -> None:
    """Test new-build programmes before they are built (docs/scenarios.md).

    \b
    Example:
      flyttkedja scenario run examples/kustvik_rental_share.toml --out run/scenario
      flyttkedja report run/chains --out run/report --scenario run/scenario
    """


@scenario.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def run_command(file: Path, out: Path, overwrite: bool) -> None:
    """Estimate the transition model, run the paired microsimulation, and compare the programmes in FILE.

    \b
    Examples:
      flyttkedja scenario run examples/tiny_senior_youth.toml --out out/tiny
      flyttkedja scenario run examples/kustvik_rental_share.toml --out out/kustvik
    """
    import polars as pl

    from flyttkedja.scenario import load_scenario, run

    sc = load_scenario(file)
    refuse_existing(out, overwrite, inputs=[file, sc.source.register])
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=1.0)
        table = run(sc, out, overwrite=overwrite,
                    progress=lambda step, frac: progress.update(task, description=step, completed=frac))
    head = table.filter(pl.col("measure") == "moves_per_100_new")
    console.print(f"{sc.name}: {len(sc.programmes)} programmes; moves per 100 new dwellings:")
    for row in head.iter_rows(named=True):
        lo = "" if row["lower"] is None else f" ({row['lower']:.0f}–{row['upper']:.0f})"
        console.print(f"  {row['programme']:<24} {row['method']:<17} {row['estimate']:.0f}{lo}")
    console.print(f"wrote {store.scenario_file(out, 'comparison')}")
