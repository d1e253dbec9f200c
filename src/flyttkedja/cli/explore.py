"""``flyttkedja explore DIR --out explorer.html``: the planner's scenario explorer, one offline file.

DIR is the output of ``flyttkedja scenario run`` (its programmes start the page) or a directory
holding a saved transition model (``model.json``). See :mod:`flyttkedja.explorer` and docs/explorer.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from flyttkedja.cli import main


@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True,
              help="Language the page opens in (it can switch).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def explore(source: Path, out: Path, lang: str, overwrite: bool) -> None:
    """Write the scenario explorer of the model in SOURCE to --out.

    \b
    Examples:
      flyttkedja explore out/kustvik --out kustvik-explorer.html
      flyttkedja explore out/kustvik --out utforskare.html --lang sv
    """
    from flyttkedja.explorer import write_explorer
    from flyttkedja.explorer.page import model_path

    model = model_path(source)
    if out.exists() and not overwrite:
        raise click.UsageError(f"--out {out} exists (give --overwrite to replace it)")
    if out.resolve() == model.resolve():
        raise click.UsageError(f"--out {out} is the model itself")
    path = write_explorer(source, out, lang=lang)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB); open it in a browser, no network needed")
