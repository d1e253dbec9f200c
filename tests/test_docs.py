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


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path, language: str) -> list[str]:
    blocks, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if current is None and line.strip() == f"```{language}":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_links_between_docs_resolve():
    import re

    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" not in target and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert not broken, broken


def test_python_examples_run(capsys):
    """The README's and the quickstart's Python examples run as written."""
    for doc in (ROOT / "README.md", ROOT / "docs" / "quickstart.md"):
        for block in code_blocks(doc, "python"):
            exec(compile(block, str(doc), "exec"), {})
    assert "length" in capsys.readouterr().out
