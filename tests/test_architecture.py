"""The import rules of docs/ARCHITECTURE.md, read from the source (every import, also inside functions).

- pages/ and app.py import only streamlit and vgrad.ui
- vgrad/ui/ (the Streamlit process) never imports TensorFlow, Keras, vgrad.train or the service's server side
- vgrad/charts/ imports no streamlit, no vgrad.ui, no TensorFlow, no service
- the domain (vgrad/*.py, vgrad/export/) imports no TensorFlow, Keras, streamlit, vgrad.train, vgrad.ui,
  vgrad.charts or vgrad.service
- vgrad/train/ imports no streamlit, vgrad.ui or vgrad.service
- vgrad/service/ imports no streamlit, vgrad.ui or vgrad.charts; only its job manager trains (vgrad.train)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TF = ("tensorflow", "keras")
ENTRY = {"vgrad/__init__.py", "vgrad/__main__.py", "vgrad/cli.py"}
RULES: list[tuple[str, tuple[str, ...]]] = [
    # (files, forbidden module prefixes)
    ("vgrad/ui/", (*TF, "vgrad.train", "vgrad.service.app", "vgrad.service.jobs", "vgrad.service.routes")),
    ("vgrad/charts/", (*TF, "streamlit", "vgrad.ui", "vgrad.train", "vgrad.service")),
    ("vgrad/train/", ("streamlit", "vgrad.ui", "vgrad.service")),
    ("vgrad/service/", ("streamlit", "vgrad.ui", "vgrad.charts")),
    ("vgrad/export/", (*TF, "streamlit", "vgrad.ui", "vgrad.train", "vgrad.charts", "vgrad.service")),
    ("domain", (*TF, "streamlit", "vgrad.ui", "vgrad.train", "vgrad.charts", "vgrad.service")),
]
# The one place the service reaches the engine (inside its worker functions).
ALLOWED = {("vgrad/service/jobs.py", "vgrad.train")}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return out


def files(where: str) -> list[Path]:
    if where == "domain":
        return [p for p in (ROOT / "vgrad").glob("*.py") if p.relative_to(ROOT).as_posix() not in ENTRY]
    return sorted((ROOT / where).rglob("*.py"))


def _hits(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("where, forbidden", RULES, ids=[r[0] for r in RULES])
def test_layer_imports(where, forbidden):
    found = files(where)
    assert found, where
    broken = []
    for path in found:
        rel = path.relative_to(ROOT).as_posix()
        for module in imports(path):
            if _hits(module, forbidden) and not any(rel == f and _hits(module, (m,)) for f, m in ALLOWED):
                broken.append(f"{rel} imports {module}")
    assert not broken, "\n".join(broken)


def test_pages_are_thin_and_import_only_the_ui():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        mods = {m.split(".")[0] if not m.startswith("vgrad") else ".".join(m.split(".")[:2]) for m in imports(path)}
        assert mods <= {"streamlit", "vgrad.ui", "__future__"}, (path.name, mods)
        assert len(path.read_text().splitlines()) <= 40, f"{path.name} should be a thin page"


def test_every_tensorflow_module_is_under_train():
    """(and the job manager, which imports it to warm the service up)"""
    users = [p.relative_to(ROOT).as_posix() for p in (ROOT / "vgrad").rglob("*.py")
             if any(_hits(m, TF) for m in imports(p))]
    assert users and all(u.startswith("vgrad/train/") or u == "vgrad/service/jobs.py" for u in users), users
