"""The platform's layers hold (README, "How the code is laid out"), and the check would notice if they did not.

``lint-imports`` reads the contracts in pyproject.toml: each subpackage of ``mesh`` imports only the
layers below it, and no modules import each other in a cycle. It runs here on the code as it is, then
on copies of ``mesh`` with one deliberate violation each, where it must fail naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
SUBPACKAGES = ["contracts", "storage", "instance", "quality", "governance", "orchestration"]


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the project's contracts over the ``mesh`` package found in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=package_parent, env=env, capture_output=True, text=True, timeout=120)


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the ``mesh`` package whose ``module`` (a path under mesh/) gains one import line."""
    shutil.copytree(ROOT / "mesh", tmp_path / "mesh", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "mesh" / module
    text = target.read_text()
    head, _, rest = text.partition("from __future__ import annotations\n")
    target.write_text(f"{head}from __future__ import annotations\n{line}\n{rest}")
    return tmp_path


def test_the_layers_and_the_absence_of_cycles_hold_on_the_code_as_it_is():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout, done.stdout


def test_every_subpackage_says_what_it_owns_and_what_it_may_use():
    for name in SUBPACKAGES:
        doc = (ROOT / "mesh" / name / "__init__.py").read_text()
        assert "Owns " in doc and "May use " in doc, f"mesh/{name}/__init__.py does not say what it owns and may use"


@pytest.mark.parametrize(("module", "line", "broken", "named"), [
    # a lower layer importing a higher one: the contracts (the lowest) reaching for the compiler
    ("contracts/names.py", "from mesh.orchestration import keys  # noqa", "is layered", "mesh.contracts.names -> "
     "mesh.orchestration.keys"),
    # storage and the instance are siblings that must not know each other
    ("storage/quarantine.py", "from mesh.instance import state  # noqa", "is layered",
     "mesh.storage.quarantine -> mesh.instance.state"),
    # a cycle inside one subpackage: the registry imports access at run time, access importing it back closes it
    ("contracts/access.py", "from mesh.contracts import registry  # noqa", "no import cycles",
     "No cycles are allowed in mesh.contracts"),
])
def test_a_deliberate_violation_breaks_its_contract_and_names_the_import(tmp_path, module, line, broken, named):
    done = _lint(_copy_with(tmp_path, module, line))
    assert done.returncode != 0, done.stdout
    assert f"{broken}" in done.stdout and "BROKEN" in done.stdout, done.stdout
    assert named in done.stdout, done.stdout
