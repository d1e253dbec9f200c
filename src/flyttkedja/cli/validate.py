"""``flyttkedja validate DIR``: data-quality report, exit status for scripts.

Exit status: 0 clean, 1 issues found, 2 input unreadable. Example rows are row
numbers (from 0) in the named table or file, never ids.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from flyttkedja.cli import main, spinner
from flyttkedja.cli.ingest import load_columns


@main.command("validate")
@click.argument("register", type=click.Path(path_type=Path))
@click.option("--persons", type=click.Path(path_type=Path), help="Person panel (default: REGISTER/persons).")
@click.option("--columns", default=None,
              help="'scb' or a mapping file (TOML: register name = canonical name; "
                   "`flyttkedja ingest columns` prints SCB's).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON lines.")
def validate_command(register: Path, persons: Path | None, columns: str | None, as_json: bool) -> None:
    """Check a register directory (dwellings, moves, persons) for data-quality issues.

    \b
    Example:
      flyttkedja validate run/register || echo "issues found"
    """
    from flyttkedja.validate import validate

    try:
        with spinner() as progress:
            progress.add_task(f"validating {register}")
            report = validate(register, persons=persons, columns=load_columns(columns))
    except Exception as exc:  # noqa: BLE001 - any read failure is "unreadable input"
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        for check in report.checks:
            click.echo(json.dumps(check))
    else:
        click.echo(report.to_text())
    sys.exit(report.exit_code)
