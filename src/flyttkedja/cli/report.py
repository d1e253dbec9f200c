"""``flyttkedja report TRACE_DIR --out DIR``: the analysis tables of traced chains.

Reads the ChainSet with :func:`flyttkedja.core.read_chainset` (and the
register's ``areas.parquet``, when present, for the rounds table), builds a
:class:`flyttkedja.analysis.Report` and writes its tables as Parquet and CSV,
``report.json``, ``summary.txt``, the self-contained ``report.html`` and
``report.xlsx`` (labels in ``--lang``) into ``DIR``, atomically. Small cells are
suppressed unless ``--disclosure`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click

from flyttkedja.cli import main, refuse_existing, spinner


@main.command()
@click.argument("trace_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--by", default="tenure", show_default=True,
              help="Seed attributes to group by, comma-separated (e.g. tenure,rooms; '' for none).")
@click.option("--replicates", type=int, default=1000, show_default=True, help="Bootstrap replicates (0: no CIs).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap (the Cell Key Method's secret key comes from FLYTTKEDJA_CELL_KEY).")
@click.option("--disclosure", type=click.Choice(["suppress", "cell_key", "none"]), default="suppress",
              show_default=True, help="Disclosure control (docs/disclosure.md).")
@click.option("--threshold", type=int, default=None,
              help="Smallest publishable count (default: the rule set's, 5 for scb; below 5 needs --unsafe-threshold).")
@click.option("--rules", type=click.Choice(["scb", "sacro"]), default="scb", show_default=True,
              help="Disclosure rule set: scb (threshold 5) or sacro (SACRO/ACRO output checking: threshold 10).")
@click.option("--unsafe-threshold", is_flag=True,
              help="Allow a threshold below 5 (only for tables that stay inside the secure environment).")
@click.option("--ledger", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ledger of earlier releases of this register (default: disclosure_ledger.json beside --out).")
@click.option("--no-ledger", is_flag=True, help="Do not protect against, nor record in, a ledger.")
@click.option("--rounds", type=int, default=6, show_default=True, help="Steps in the rounds table.")
@click.option("--areas", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Areas table (default: areas.parquet of the traced register, if present).")
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True,
              help="Language of the labels in report.html and report.xlsx.")
@click.option("--scenario", "scenario_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Output of `flyttkedja scenario run` (comparison.parquet) to add to the report.")
@click.option("--register", "register_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Register directory the chains were traced from (default: the one trace.json "
                                 "names); refused when its content differs from the traced one.")
@click.option("--both-conventions", is_flag=True,
              help="Also trace the register under the other chain convention (paths/trees) and show its figures "
                   "beside these where they differ; both are protected as one release (docs/report.md).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def report(trace_dir: Path, out: Path, by: str, replicates: int, seed: int, disclosure: str, threshold: int | None,
           rules: str, unsafe_threshold: bool, ledger: Path | None, no_ledger: bool, rounds: int, areas: Path | None,
           lang: str, scenario_dir: Path | None, register_dir: Path | None, both_conventions: bool,
           overwrite: bool) -> None:
    """Write the analysis tables of the chains in TRACE_DIR to --out.

    \b
    Example:
      flyttkedja report run/chains --out run/report --by tenure,rooms
      flyttkedja report run/chains --out run/rapport --lang sv --scenario run/scenario
      flyttkedja report run/chains --out run/report --both-conventions

    Open run/report/report.html in a browser; report.xlsx holds the same tables;
    output_check.txt is the summary for the secure environment's output checker.
    Every report into the same parent directory is recorded in its
    disclosure_ledger.json and protected against the earlier ones.
    """
    from flyttkedja import store
    from flyttkedja.analysis import Report
    from flyttkedja.core import read_chainset

    if threshold is not None and threshold < 5 and not unsafe_threshold:
        raise click.UsageError(f"--threshold {threshold} is below SCB's 5; add --unsafe-threshold only for tables "
                               "that stay inside the secure environment")
    from flyttkedja.analysis.release import refuse_identifiers

    by_cols = [c for c in by.split(",") if c]
    try:
        refuse_identifiers(tuple(by_cols))
    except ValueError as e:
        raise click.UsageError(str(e).replace("by=", "--by ", 1)) from None
    use_ledger = None if no_ledger or disclosure != "suppress" else (ledger or store.ledger_file(out))
    register_dir = register_dir or store.read_trace_manifest(trace_dir).register_dir
    refuse_existing(out, overwrite, inputs=[trace_dir, register_dir, areas, scenario_dir])
    comparison = None
    if scenario_dir is not None:
        import polars as pl

        source = store.scenario_file(scenario_dir, "comparison")
        if not source.exists():
            raise click.UsageError(f"--scenario: no {source.name} in {scenario_dir}")
        comparison = pl.read_parquet(source)
    with spinner() as progress:
        task = progress.add_task(f"reading {trace_dir}", total=None)
        cs = read_chainset(trace_dir, register=register_dir)
        if areas is None and register_dir is not None:
            candidate = store.register_input(register_dir, "areas")
            areas = candidate if candidate.exists() else None
        both = " under both conventions" if both_conventions else ""
        progress.update(task, description=f"analysing {cs.chains.height} chains{both}")
        try:
            result = Report(cs, areas=areas, by=by_cols, ci=replicates > 0, replicates=replicates, seed=seed,
                            disclosure=None if disclosure == "none" else disclosure, threshold=threshold,
                            rules=rules, unsafe=unsafe_threshold, rounds=rounds, ledger=use_ledger,
                            release=out.name, both_conventions=both_conventions)
        except ValueError as e:
            raise click.UsageError(str(e)) from None
        progress.update(task, description=f"writing {out}")
        has_model = scenario_dir is not None and store.scenario_file(scenario_dir, "model").exists()
        explorer = scenario_dir if has_model else None  # the report's explorer section tries programmes on it
        result.write(out, overwrite=overwrite, lang=lang, scenario=comparison, explorer=explorer)
    click.echo(result.summary())
    click.echo(f"\nreport: {store.report_file(out, 'html')}  (tables for Excel: {store.report_file(out, 'xlsx')}; "
               f"output checking: {store.report_file(out, 'check_text')})")
