"""The house: no script imports another, the library (common/) does not import the scripts,
one table lists the versions, and each script builds its own version only."""

import ast
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from common import constraints

SCRIPTS = sorted(p.stem for p in ROOT.glob("*.py"))  # ex1_a ... ex2_c, kws_inference


def imported_modules(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_script_imports_another_nor_the_library_a_script():
    for script in SCRIPTS:
        assert not imported_modules(ROOT / f"{script}.py") & (set(SCRIPTS) - {script}), script
    for module in (ROOT / "common").glob("*.py"):
        assert not imported_modules(module) & set(SCRIPTS), module.name


def test_each_script_declares_its_table_entry():
    scripts = sorted(f"{s}.py" for s in SCRIPTS if s.startswith("ex"))
    assert sorted(e.script for e in constraints.TABLE) == scripts
    code = (
        "import importlib, json; from common.constraints import TABLE; "
        "print(json.dumps({e.version: [importlib.import_module(e.version).VERSION.version, "
        "importlib.import_module(e.version).VERSION.name] for e in TABLE}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert json.loads(out.stdout) == {e.version: [e.version, e.name] for e in constraints.TABLE}


@pytest.mark.parametrize(
    "script, other, builder",
    [("ex1_a.py", "b", "ex1_b.py"), ("ex2_b.py", "c", "ex2_c.py"), ("ex2_a.py", "z", None)],
)
def test_version_flag_accepts_only_the_scripts_own_letter(script, other, builder, tmp_path):
    out = subprocess.run(
        [sys.executable, script, "--version", other, "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    line = out.stderr.strip()
    assert line.startswith(f"error: {script}: --version {other}: ")
    assert (f"it is built by {builder}" if builder else "there is no such version") in line
    assert "tensorflow" not in out.stdout.lower()
