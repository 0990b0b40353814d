"""The Dagster UI, through the GraphQL API of a real webserver, after a real materialization.

The workspace has one code location per domain plus a deliberately broken domain: the UI lists
every product with owners, column schema, checks and the cross-domain edges, and reports the
broken location's error while the others load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DAY, ROOT
from tests.servers import dagster

pytestmark = pytest.mark.slow

ASSET_NODES = """{ assetNodes {
    assetKey { path } groupName isMaterializable
    repository { location { name } }
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type description } } } }
    assetChecksOrError { ... on AssetChecks { checks { name blocking
        executionForLatestMaterialization { status } } } }
    dependencyKeys { path } dependedByKeys { path }
} }"""


def make_ui_project(tmp_path: Path, broken: bool = True) -> Path:
    project = tmp_path / "project"
    for folder in ("domains", "assets", "checks", "deploy"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    workspace = (ROOT / "workspace.yaml").read_text()
    if broken:
        (project / "domains" / "broken").mkdir()
        (project / "domains" / "broken" / "domain.yaml").write_text(
            "name: broken\ndescription: A domain whose code does not import.\nowner: team:broken\n"
            "snapshots:\n  start: '2023-01-01'\n")
        (project / "domains" / "broken" / "widgets.yaml").write_text(
            "name: widgets\ndescription: Widgets.\nkind: consumer-aligned\ninputs:\n  orders: sales.orders\n")
        (project / "assets" / "broken").mkdir()
        (project / "assets" / "broken" / "__init__.py").write_text("")
        (project / "assets" / "broken" / "widgets.py").write_text("def widgets(orders:\n    return orders\n")
        workspace += ("  - python_module:\n      module_name: mesh.locations\n      attribute: broken\n"
                      "      location_name: broken\n      working_directory: .\n")
    (project / "workspace.yaml").write_text(workspace)
    return project


def project_env(project: Path, tmp_path: Path, erp_root: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    return {"MESH_PROJECT_DIR": str(project), "DAGSTER_HOME": str(home), "MESH_STORAGE_URI": str(tmp_path / "products"),
            "MESH_OPERATIONAL_ROOT": str(erp_root), "PYTHONPATH": str(project)}


def materialize(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "mesh"), "materialize", *args], cwd=project,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, erp_root, customer_history):
    tmp_path = tmp_path_factory.mktemp("ui")
    project = make_ui_project(tmp_path)
    env = project_env(project, tmp_path, erp_root)
    shutil.copytree(customer_history, tmp_path / "products")  # the customer master's history: orders read it
    done = materialize(project, env, "--start", DAY, "--end", DAY, "--domain", "customer", "--domain", "sales")
    assert done.returncode == 0, done.stderr + done.stdout
    with dagster(project, env, command="webserver", expect_locations=3) as server:
        server.project, server.env = project, env
        yield server


def test_broken_domain_is_reported_and_others_load(ui):
    locations = ui.locations()
    assert locations["customer"] == "RepositoryLocation"
    assert locations["sales"] == "RepositoryLocation"
    assert locations["broken"] == "PythonError"
    data = ui.graphql("""{ workspaceOrError { ... on Workspace { locationEntries { name
        locationOrLoadError { ... on PythonError { message causes { message } } } } } } }""")
    error = next(e for e in data["workspaceOrError"]["locationEntries"] if e["name"] == "broken")
    text = " ".join([error["locationOrLoadError"]["message"], *(c["message"] for c in
                                                                  error["locationOrLoadError"]["causes"])])
    assert "domains/broken/widgets.yaml" in text and "assets/broken/widgets.py failed to import" in text


def test_every_product_with_owners_schema_checks_and_edges(ui):
    from mesh.contracts.registry import load_mesh
    from mesh.quality.code import resolve

    mesh = load_mesh()
    nodes = {"/".join(n["assetKey"]["path"]): n for n in ui.graphql(ASSET_NODES)["assetNodes"]}
    products = {"customer/customers": "team:customer", "sales/orders": "team:sales",
                "sales/order_lines": "team:sales", "sales/pricing_summary": "team:sales",
                "sales/customer_revenue": "team:sales"}
    for key, owner in products.items():
        node = nodes[key]
        assert node["isMaterializable"], key
        assert node["repository"]["location"]["name"] == key.split("/")[0]
        assert node["groupName"] == key.split("/")[0]
        assert [o.get("team") for o in node["owners"]] == [owner.split(":")[1]]
        schema = next(e for e in node["metadataEntries"] if e["label"] == "dagster/column_schema")["schema"]
        assert schema["columns"] and all(c["description"] for c in schema["columns"]), key
        checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
        assert {"structure", "error_rate", "volume", "contract_conformance"} <= set(checks), key
        rules = {r.name for r in resolve(mesh.product(key.replace("/", ".")), ROOT).schema.rules}
        assert rules and rules <= set(checks), key  # one check per named rule
        for name in rules | {"structure", "error_rate", "volume", "contract_conformance"}:
            assert checks[name]["executionForLatestMaterialization"]["status"] in ("SUCCEEDED", "FAILED"), name
        assert checks["structure"]["blocking"]
        assert checks["structure"]["executionForLatestMaterialization"]["status"] == "SUCCEEDED", key
    # the cross-domain edge, seen from both code locations
    assert ["customer", "customers"] in [k["path"] for k in nodes["sales/customer_revenue"]["dependencyKeys"]]
    assert ["sales", "customer_revenue"] in [k["path"] for k in nodes["customer/customers"]["dependedByKeys"]]
    assert ["sales", "order_lines"] in [k["path"] for k in nodes["sales/pricing_summary"]["dependencyKeys"]]


def test_check_results_carry_their_metadata(ui):
    data = ui.graphql("""{ assetNodes(assetKeys: [{path: ["sales", "order_lines"]}]) {
        assetChecksOrError { ... on AssetChecks { checks { name
            executionForLatestMaterialization { status evaluation { severity
                metadataEntries { label } } } } } } } }""")
    checks = {c["name"]: c for c in data["assetNodes"][0]["assetChecksOrError"]["checks"]}
    rule = checks["receipt_not_before_ship"]["executionForLatestMaterialization"]["evaluation"]
    labels = {e["label"] for e in rule["metadataEntries"]}
    assert {"rows_checked", "rows_failing", "failure_rate", "columns"} <= labels
    slo = checks["error_rate"]["executionForLatestMaterialization"]["evaluation"]
    slo_labels = {e["label"] for e in slo["metadataEntries"]}
    assert {"slo_max_error_rate", "worst_error_rate", "rows_quarantined"} <= slo_labels


def test_mesh_review_reads_the_instance(ui):
    import json

    project, env = ui.project, ui.env
    done = subprocess.run([str(Path(sys.executable).parent / "mesh"), "review", "--json", "--domain", "sales"],
                          cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reviews = {r["address"]: r for r in json.loads(done.stdout)}
    assert set(reviews) == {"sales.orders", "sales.order_lines", "sales.pricing_summary", "sales.customer_revenue"}
    assert reviews["sales.orders"]["last_partition"] == DAY
    assert reviews["sales.orders"]["ui_url"].endswith("/assets/sales/orders")
    # Every check passed on clean data but the partition freshness SLO: the newest day published is DAY, an
    # old one, so products with a freshness SLO are failing for it alone, and review says so.
    for review in reviews.values():
        failing = {c["name"] for c in review["checks"] if c["passed"] is False and c["severity"] == "ERROR"}
        assert failing <= {"partition_freshness"}, (review["address"], failing)
        assert review["status"] == "failing" if failing else review["status"] in ("ok", "warning")
    assert any(c["name"] == "partition_freshness" and c["passed"] is False for c in reviews["sales.orders"]["checks"])
    human = subprocess.run([str(Path(sys.executable).parent / "mesh"), "review", "--owner", "team:customer"],
                           cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert "customer.customers" in human.stdout and "sales." not in human.stdout
