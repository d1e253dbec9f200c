"""The ``flyttkedja`` command line.

Each subcommand lives in its own module in this package and registers itself
on :data:`main`; this module only builds the group and turns errors into one
readable line (tracebacks with ``--debug``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from flyttkedja import __version__


class _Group(click.Group):
    """Click group that prints expected errors, usage errors included, as one line, exit status 2."""

    def invoke(self, ctx: click.Context):  # noqa: D401
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # bad option or argument: one line, not click's usage block
            if ctx.obj and ctx.obj.get("debug"):
                raise
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except (ValueError, FileNotFoundError, FileExistsError, KeyError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise  # --help, --version, Ctrl-C and click's own errors keep their meaning
        except Exception as exc:  # noqa: BLE001 - never a traceback without --debug: one line that says what
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_unexpected(exc)} (--debug shows the traceback)", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flyttkedja")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """flyttkedja: housing vacancy chains from register data.

    Each step reads the directory the previous one wrote and writes its own;
    `flyttkedja COMMAND --help` shows each command's options and examples.

    \b
    Examples:
      flyttkedja demo --out flyttkedja-demo          # the whole path on the synthetic default
      flyttkedja synth --preset metro --scale 0.05 --seed 7 --out run/register
      flyttkedja validate run/register
      flyttkedja trace run/register --out run/chains
      flyttkedja report run/chains --out run/report
      flyttkedja bench --out bench-results           # speed against polars and plain Python
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _unexpected(exc: BaseException) -> str:
    """One line for an error no step turned into a message of its own."""
    if isinstance(exc, MemoryError):
        return ("out of memory: the input, or an option such as --replicates or --scale, asks for more "
                "than this machine has (`flyttkedja validate` names values far outside their range)")
    if isinstance(exc, OverflowError):
        return f"a number too large for its type ({exc}); check the options and run `flyttkedja validate`"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return f"cannot read or write {exc.filename or ''}: {exc.strerror or exc}".replace("  ", " ")
    return f"{type(exc).__name__}: {exc}"


def refuse_existing(out: Path, overwrite: bool, inputs=()) -> None:
    """Fail before any work on an --out that the write would refuse at the end, or that would
    destroy an input (equal to, inside or above one of ``inputs``; ``.``, ``..``, an existing
    file): :func:`flyttkedja.io.check_output`. Also removes temporaries of killed runs there."""
    from flyttkedja.io import check_output

    check_output(out, inputs, overwrite=overwrite)


def spinner() -> Progress:
    """A transient spinner on stderr for steps of unknown length (stdout stays for summaries).

    Silent when stderr is not a terminal, so scripts and logs get no stray lines.
    """
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    console = Console(stderr=True)
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _register_subcommands() -> None:
    # Imported here so that each command module can import `main` from this one.
    from flyttkedja.cli import commands  # noqa: F401


_register_subcommands()
