"""Imports every subcommand module so that it registers on the group.

Add one line per command module; keep the modules themselves independent.
"""

# (subcommand modules are imported here, e.g. `from flyttkedja.cli import synth`)
from flyttkedja.cli import trace  # noqa: E402,F401
from flyttkedja.cli import ingest, validate  # noqa: E402,F401
from flyttkedja.cli import report  # noqa: E402,F401
from flyttkedja.cli import synth  # noqa: E402,F401
from flyttkedja.cli import demo  # noqa: E402,F401
from flyttkedja.cli import bench  # noqa: E402,F401
from flyttkedja.cli import scenario  # noqa: E402,F401
from flyttkedja.cli import explore  # noqa: E402,F401
