"""Scaffolding: what `mesh new domain` and `mesh new product` write passes `mesh lint` and `ruff` as written,
carries what its inputs impose, and is never left half-made when the mesh would refuse it.

The end-to-end story (scaffold, materialize, see it in the UI) is tests/test_add_domain.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.mesh.test_governance import mesh_cli, project

RUFF = str(Path(sys.executable).parent / "ruff")
DESCRIPTION = "Customers as the customer team audits them, one row per customer."


def findings(root: Path, erp_root: Path, address: str) -> list[dict]:
    done = mesh_cli(root, erp_root, "lint", "--json")
    return [f for f in json.loads(done.stdout) if f["subject"] == address]


def test_new_product_with_a_description_passes_lint_and_ruff(tmp_path, erp_root):
    root = project(tmp_path)
    (root / "workspace.yaml").write_text("load_from:\n")
    assert mesh_cli(root, erp_root, "new", "domain", "finance").returncode == 0
    created = mesh_cli(root, erp_root, "new", "product", "finance", "order_book", "--input", "sales.orders",
                       "--description", "Every order with its total, for the finance team's order book.")
    assert created.returncode == 0, created.stderr
    problems = findings(root, erp_root, "finance.order_book")
    assert [f for f in problems if f["severity"] == "error"] == []
    assert [f["policy"] for f in problems] == ["versions"]  # only: record the schema once it is final
    files = [root / "assets" / "finance" / "order_book.py", root / "checks" / "finance" / "order_book.py",
             root / "tests" / "finance" / "test_order_book.py"]
    ruff = subprocess.run([RUFF, "check", "--no-cache", *map(str, files)], cwd=Path(__file__).parents[2],
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout  # `make test` runs ruff over every file
    assert "from mesh.types import Date" in files[1].read_text()  # order_date is a date
    assert "import pandas" not in files[1].read_text()  # no timestamp column: an unused import fails ruff
    workspace = yaml.safe_load((root / "workspace.yaml").read_text())["load_from"]
    assert [e["python_module"]["location_name"] for e in workspace] == ["finance"]


def test_new_product_carries_its_inputs_pii_and_retention(tmp_path, erp_root):
    root = project(tmp_path)
    created = mesh_cli(root, erp_root, "new", "product", "customer", "audited_customers",
                       "--input", "customer.customers", "--description", DESCRIPTION)
    assert created.returncode == 0, created.stderr
    contract = yaml.safe_load((root / "domains" / "customer" / "audited_customers.yaml").read_text())
    assert contract["pii"] == {"name": "hash", "address": "redact", "phone": "redact"}
    assert contract["retention"] == {"days": 36500}
    assert [f["policy"] for f in findings(root, erp_root, "customer.audited_customers")] == ["versions"]


def test_new_product_an_input_refuses_writes_nothing(tmp_path, erp_root):
    root = project(tmp_path)
    assert mesh_cli(root, erp_root, "new", "domain", "finance").returncode == 0
    refused = mesh_cli(root, erp_root, "new", "product", "finance", "billed_customers",
                       "--input", "customer.customers", "--description", DESCRIPTION)
    assert refused.returncode == 1
    assert "finance.billed_customers may not read customer.customers" in refused.stderr
    assert "customer.customers lists its consumers" in refused.stderr
    assert not list(root.glob("*/finance/*billed_customers*"))
    assert mesh_cli(root, erp_root, "lint").returncode == 0  # the domain still loads


def test_new_domain_twice_in_the_workspace_adds_one_location(tmp_path, erp_root):
    root = project(tmp_path)
    assert mesh_cli(root, erp_root, "new", "domain", "finance").returncode == 0
    for folder in ("domains", "assets", "checks", "tests"):  # a domain removed by hand, its location kept
        for path in sorted((root / folder / "finance").iterdir()):
            path.unlink()
        (root / folder / "finance").rmdir()
    assert mesh_cli(root, erp_root, "new", "domain", "finance").returncode == 0
    workspace = yaml.safe_load((root / "workspace.yaml").read_text())["load_from"]
    assert [e["python_module"]["location_name"] for e in workspace] == ["finance"]
