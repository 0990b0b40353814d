"""A model's outline (columns, rules) is what the model says, kept between processes until its code changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from mesh.contracts.registry import load_mesh
from mesh.governance import outline as outlines
from mesh.quality.code import model_schema
from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, sys
    from mesh.governance.outline import outline
    from mesh.contracts.registry import load_mesh

    mesh = load_mesh()
    shape = outline(mesh.product("sales.orders"), mesh)
    print(json.dumps({"columns": [[c.name, c.description] for c in shape.columns], "rules": list(shape.rules),
                      "pandera": "pandera" in sys.modules}))
""")


@pytest.fixture
def fresh_store(tmp_path, monkeypatch):
    """Outlines under a folder of this test's own, read anew as by a new process."""
    monkeypatch.setenv("MESH_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(outlines._Store, "_open", {})
    return tmp_path / "work" / "cache" / "outlines.json"


def test_an_outline_is_the_models_columns_and_rules(fresh_store):
    mesh = load_mesh()
    for address in ("sales.orders", "customer.customers"):
        product = mesh.product(address)
        schema, shape = model_schema(product, mesh), outlines.outline(product, mesh)
        assert [(c.name, c.type, c.nullable, c.description) for c in shape.columns] == [
            (c.name, c.type_name, c.nullable, c.description) for c in schema.columns]
        assert list(shape.rules) == [r.name for r in schema.rules] and shape.rules
    assert set(json.loads(fresh_store.read_text())["outlines"]) == {"sales.orders", "customer.customers"}


def test_a_stored_outline_is_used_until_a_file_it_was_built_from_changes(fresh_store, monkeypatch):
    mesh = load_mesh()
    product = mesh.product("sales.orders")
    built = outlines.outline(product, mesh)
    monkeypatch.setattr(outlines._Store, "_open", {})  # as a new process finds it

    def unbuildable(*_):
        raise AssertionError("the model was built again")

    monkeypatch.setattr("mesh.quality.code.model_schema", unbuildable)
    assert outlines.outline(product, mesh) == built
    stored = json.loads(fresh_store.read_text())
    model = str(ROOT / "checks" / "sales" / "orders.py")
    assert model in stored["outlines"]["sales.orders"]["files"]
    stored["outlines"]["sales.orders"]["files"][model][0] -= 1  # as if the model's file had been edited since
    fresh_store.write_text(json.dumps(stored))
    monkeypatch.setattr(outlines._Store, "_open", {})
    with pytest.raises(AssertionError, match="built again"):
        outlines.outline(product, mesh)


def test_editing_a_model_changes_its_outline_in_the_next_process(tmp_path):
    project = tmp_path / "project"
    for folder in ("domains", "assets", "checks"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "workspace.yaml", project / "workspace.yaml")
    env = {**os.environ, "MESH_PROJECT_DIR": str(project), "MESH_WORK_DIR": str(tmp_path / "work")}

    def shown() -> dict:
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])

    first = shown()
    assert first["pandera"] and ["order_id", "ERP order key"] in first["columns"]
    again = shown()
    assert not again["pandera"] and again["columns"] == first["columns"]  # read back, pandera not imported
    model = project / "checks" / "sales" / "orders.py"
    model.write_text(model.read_text().replace('description="ERP order key"', 'description="The order\'s key"'))
    edited = shown()
    assert edited["pandera"] and ["order_id", "The order's key"] in edited["columns"]
    assert edited["rules"] == first["rules"]
