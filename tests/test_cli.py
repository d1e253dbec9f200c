"""The command line as a new user meets it: every --help, and one clear line for each malformed input."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flyttkedja import store
from flyttkedja.cli import main


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append(prefix + (name,))
        if isinstance(command, click.Group):
            paths += command_paths(command, prefix + (name,))
    return paths


COMMANDS = command_paths(main)


def test_every_pipeline_command_is_there() -> None:
    names = {path[0] for path in COMMANDS}
    assert {"synth", "validate", "ingest", "trace", "report", "bench", "demo"} <= names


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "flyttkedja")
def test_help_has_examples(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def one_line_error(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_unknown_command_and_bad_option_values(tmp_path: Path) -> None:
    one_line_error(["tarce"], "No such command 'tarce'")
    one_line_error(["synth", "--scale", "large", "--out", str(tmp_path / "r")], "'--scale'")
    one_line_error(["trace", str(tmp_path / "missing"), "--out", str(tmp_path / "c")], "does not exist")
    one_line_error(["ingest", "events"], "Missing argument")
    one_line_error(["synth", "--preset", "atlantis", "--out", str(tmp_path / "r")], "atlantis")


def test_malformed_register_files(tmp_path: Path) -> None:
    register = tmp_path / "register"
    register.mkdir()
    one_line_error(["trace", str(register), "--out", str(tmp_path / "c")], "moves")
    store.register_file(register, "moves").write_bytes(b"not parquet at all")
    store.register_file(register, "dwellings").write_bytes(b"PAR1")
    one_line_error(["trace", str(register), "--out", str(tmp_path / "c")], "parquet")
    assert not (tmp_path / "c").exists()


def test_report_needs_a_trace_directory(tmp_path: Path) -> None:
    (tmp_path / "chains").mkdir()
    one_line_error(["report", str(tmp_path / "chains"), "--out", str(tmp_path / "rep")],
                   f"no {store.TRACE_MANIFEST} (expected a directory written by 'flyttkedja trace')")
    assert not (tmp_path / "rep").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--debug", "trace", str(tmp_path), "--out", str(tmp_path / "c")])
    assert result.exit_code != 0 and result.exception is not None
