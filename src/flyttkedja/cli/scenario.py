"""``flyttkedja scenario run FILE --out DIR``: compare new-build programmes.

Writes ``comparison.parquet``, ``summary.txt``, ``scenario.json`` and ``model.json`` into DIR
(see :mod:`flyttkedja.scenario.compare`) and prints the summary (gross, net and displacement per programme) and the run's warnings.
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
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Local processes for the replications (0: this process; default: the file's [run], else one per CPU).")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786): run the replications there.")
def run_command(file: Path, out: Path, overwrite: bool, workers: int | None, scheduler: str | None) -> None:
    """Estimate the transition model, run the paired microsimulation, and compare the programmes in FILE.

    \b
    Examples:
      flyttkedja scenario run examples/tiny_senior_youth.toml --out out/tiny
      flyttkedja scenario run examples/kustvik_rental_share.toml --out out/kustvik
      flyttkedja scenario run examples/kustvik_rental_share.toml --out out/k --scheduler tcp://10.0.0.5:8786
    """

    from flyttkedja.scenario import load_scenario, run

    sc = load_scenario(file)
    refuse_existing(out, overwrite, inputs=[file, sc.source.register])
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=1.0)
        table = run(sc, out, overwrite=overwrite, workers=workers, scheduler=scheduler,
                    progress=lambda step, frac: progress.update(task, description=step, completed=frac))
    console.print(f"{sc.name}: {len(sc.programmes)} programmes")
    summary = store.scenario_file(out, "summary")
    console.print(summary.read_text(encoding="utf-8").split("\n\n\n")[0].strip(), markup=False, highlight=False)
    # the run's warnings (sparse or saturated lines, attributes the model ignores, allocation rules named
    # apart) change how a figure may be read: print them, not only in scenario.json
    record = store.read_scenario_manifest(out)
    if record is not None and record.warnings:
        console.print(f"\n{len(record.warnings)} warnings (also in {Path(out) / store.SCENARIO_MANIFEST}):")
        for text in record.warnings:
            console.print(f"- {text}", markup=False, highlight=False)
    console.print(f"wrote {store.scenario_file(out, 'comparison')} and {summary}")
