"""flyttkedja: housing vacancy chains (flyttkedjor) from register data.

The package mirrors the pipeline: :mod:`flyttkedja.schema` (data model) →
:mod:`flyttkedja.synth` (synthetic register) → :mod:`flyttkedja.core`
(numba chain tracer) → :mod:`flyttkedja.analysis` → :mod:`flyttkedja.cli`.
"""

from flyttkedja._config import ensure_numba_cache_dir

ensure_numba_cache_dir()

from flyttkedja.io import to_arrow, write_parquet  # noqa: E402
from flyttkedja.schema import SchemaError, conform  # noqa: E402
from flyttkedja.validate import validate  # noqa: E402
from flyttkedja.core import trace  # noqa: E402
from flyttkedja._scratch import release as release_scratch  # noqa: E402

__version__ = "0.1.0"

__all__ = ["SchemaError", "conform", "release_scratch", "to_arrow", "trace", "validate", "write_parquet", "__version__"]
