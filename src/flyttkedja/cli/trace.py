"""``flyttkedja trace REGISTER_DIR --out DIR``: trace the chains of a register directory.

Writes ``chains.parquet``, ``links.parquet`` and ``trace.json`` (parameters, the
absolute path of the register and data-quality counts) into ``DIR``, atomically.
The window and maximum gap come from the register's ``register.json`` unless
given on the command line.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from flyttkedja.cli import main, refuse_existing, spinner


@main.command()
@click.argument("register_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--seeds", type=click.Choice(["new_builds", "all"]), default="new_builds", show_default=True,
              help="new_builds: completions inside the window; all: every vacancy.")
@click.option("--convention", type=click.Choice(["path", "tree"]), default="path", show_default=True,
              help="path: one move fills a vacancy (the Swedish studies); tree: everyone moving into it "
                   "that day (CBS), each opening a further vacancy.")
@click.option("--max-gap-days", type=int, default=None,
              help="Longest vacancy, in days (default: register.json, else 365).")
@click.option("--max-length", type=int, default=1000, show_default=True, help="Safety bound on chain length.")
@click.option("--window", nargs=2, default=None, metavar="START END",
              help="Inclusive ISO dates (default: register.json, else first to last move).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def trace(register_dir: Path, out: Path, seeds: str, convention: str, max_gap_days: int | None, max_length: int,
          window: tuple[str, str] | None, overwrite: bool) -> None:
    """Trace vacancy chains through REGISTER_DIR and write them to --out.

    \b
    Example:
      flyttkedja trace run/register --out run/chains --seeds new_builds
      flyttkedja trace run/register --out run/trees --convention tree
    """
    from flyttkedja.core import trace_register

    refuse_existing(out, overwrite, inputs=[register_dir])
    console = Console(stderr=True)
    with spinner() as progress:
        task = progress.add_task(f"tracing {seeds} chains ({convention}s) in {register_dir}", total=None)
        cs = trace_register(register_dir, seeds, window=window or None, max_gap_days=max_gap_days,
                            max_length=max_length, convention=convention)
        progress.update(task, description=f"writing {out}")
        cs.write(out, overwrite=overwrite)  # checks --out against the register again
    _summary(console, cs)


def _end_reasons(cs):
    """The end reason of every chain (path) or every leaf (tree: leaf links, and the seeds of empty trees)."""
    if cs.params.get("convention", "path") == "path":
        return cs.chains["end_reason"]
    import polars as pl
    empty = cs.chains.filter(pl.col("length") == 0)["end_reason"]
    return pl.concat([cs.links["end_reason"].drop_nulls(), empty])


def _summary(console: Console, cs) -> None:
    """Chains by end reason and the data-quality counts; no ids are printed."""
    q, p = cs.quality, cs.params
    convention = p.get("convention", "path")
    console.print(f"{cs.chains.height} chains ({convention} convention), {cs.links.height} links; "
                  f"window {p['window'][0]}..{p['window'][1]}, max gap {p['max_gap_days']} days")
    if cs.chains.height:
        mean = cs.chains["length"].mean()
        depth = f", mean depth {cs.chains['depth'].mean():.2f} rounds" if convention == "tree" else ""
        console.print(f"mean length {mean:.2f} moves{depth}; end reasons"
                      f"{' (per leaf)' if convention == 'tree' else ''}: " + ", ".join(
                          f"{r} {n}" for r, n in _end_reasons(cs).value_counts(sort=True).iter_rows()))
    console.print("vacancies: " + ", ".join(f"{k} {q[k]}" for k in ("vacancies", "filled", "unfilled", "censored")))
    console.print(f"data quality: {q['inconsistent_vacancies']} inconsistent vacancies (next event a departure), "
                  f"{q['orphan_fills']} fills of no vacancy, {q['moves_outside_window']} moves outside the window")
