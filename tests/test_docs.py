"""Generated documentation must match the code it documents."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_data_model_doc_is_up_to_date():
    spec = importlib.util.spec_from_file_location("data_model_doc", ROOT / "scripts" / "data_model_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    on_disk = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert on_disk == module.render(), "run: python scripts/data_model_doc.py"
