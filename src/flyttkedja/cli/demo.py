"""``flyttkedja demo --out DIR``: the whole path on the bundled synthetic default.

Runs the three pipeline commands in turn, each writing its own directory, so
the demo shows exactly what a user's shell pipeline would do::

    flyttkedja synth --preset metro --scale 0.1 --seed 7 --out DIR/register
    flyttkedja trace DIR/register --out DIR/chains
    flyttkedja report DIR/chains --out DIR/report
"""

from __future__ import annotations

from pathlib import Path

import click

from flyttkedja import store
from flyttkedja.cli import main
from flyttkedja.cli.report import report
from flyttkedja.cli.synth import synth
from flyttkedja.cli.trace import trace


@main.command()
@click.option("--out", "out", default="flyttkedja-demo", show_default=True, type=click.Path(path_type=Path),
              help="Directory for register/, chains/ and report/.")
@click.option("--preset", default="metro", show_default=True, help="Synthetic preset.")
@click.option("--scale", type=float, default=0.1, show_default=True,
              help="Region size relative to the preset (metro at 1.0: about 1 million residents).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the synthetic register.")
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True,
              help="Language of the report's labels.")
@click.option("--overwrite", is_flag=True, help="Replace existing output directories.")
@click.pass_context
def demo(ctx: click.Context, out: Path, preset: str, scale: float, seed: int, lang: str, overwrite: bool) -> None:
    """Generate a synthetic register, trace its new-build chains and report on them.

    \b
    Example:
      flyttkedja demo --out flyttkedja-demo
    """
    register, chains, tables = out / "register", out / "chains", out / "report"
    ctx.invoke(synth, preset=preset, seed=seed, scale=scale, out=register, overwrite=overwrite)
    ctx.invoke(trace, register_dir=register, out=chains, overwrite=overwrite)
    ctx.invoke(report, trace_dir=chains, out=tables, lang=lang, overwrite=overwrite)
    click.echo(f"\nreport written to {tables}/: open {store.report_file(tables, 'html')} in a browser "
               f"(tables: {store.report_file(tables, 'xlsx')}, summary: {store.report_file(tables, 'summary')})")
