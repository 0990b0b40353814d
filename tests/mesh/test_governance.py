"""Governance: access and consumers at load and read time, versions, lint, catalog, export, scaffolding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import jsonschema
import pytest
import yaml

from mesh.contracts.access import Principal
from mesh.contracts.registry import load_mesh
from mesh.errors import AccessDenied, MeshError
from mesh.governance.catalog import search, show
from mesh.governance.odcs import SCHEMA_FILE, export
from mesh.governance.policies import domain_cycles, lint
from tests.conftest import DAY, ERP_DOMAINS, ROOT

MESH = str(Path(sys.executable).parent / "mesh")


def project(tmp_path: Path, domains=("customer", "sales")) -> Path:
    """A project with copies of some real domains (contracts, code, schema records)."""
    root = tmp_path / "project"
    for domain in domains:
        for folder in ("domains", "assets", "checks"):
            shutil.copytree(ROOT / folder / domain, root / folder / domain,
                            ignore=shutil.ignore_patterns("__pycache__"))
    for package in ("assets", "checks"):
        (root / package / "__init__.py").write_text("")
    customers = root / "domains" / "customer" / "customers.yaml"
    if customers.exists():  # the copy has no product_usage or marketing domains to list as consumers
        contract = yaml.safe_load(customers.read_text())
        contract["consumers"] = ["sales.orders", "sales.customer_revenue"]
        customers.write_text(yaml.safe_dump(contract, sort_keys=False))
    (root / "workspace.yaml").write_text("load_from:\n")
    return root


def with_customers(root: Path, customer_history: Path) -> Path:
    """The project's lake starts with the customer master's history, which sales.orders reads."""
    shutil.copytree(customer_history, root / ".products", dirs_exist_ok=True)
    return root


def mesh_cli(root: Path, erp_root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MESH_PROJECT_DIR": str(root), "PYTHONPATH": str(root),
           "MESH_STORAGE_URI": str(root / ".products"), "DAGSTER_HOME": str(root / ".dagster"),
           "MESH_OPERATIONAL_ROOT": str(erp_root), "MESH_WORK_DIR": str(root / ".mesh"),
           "MESH_PRINCIPAL_DOMAINS": "sales"}
    return subprocess.run([MESH, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


# -- access and consumers at load time ------------------------------------------------------------------
def test_reading_another_domains_internal_product_fails_at_load(tmp_path):
    root = project(tmp_path)
    edit(root / "domains" / "customer" / "customers.yaml", "access: public", "access: internal")
    mesh = load_mesh(root)
    message = str(mesh.failed["sales"])
    assert "sales.customer_revenue may not read customer.customers" in message
    assert "internal to domain 'customer'" in message


def test_reading_a_product_whose_consumer_list_excludes_you_fails_at_load(tmp_path):
    root = project(tmp_path)
    edit(root / "domains" / "customer" / "customers.yaml", "- sales.customer_revenue\n", "")
    message = str(load_mesh(root).failed["sales"])
    assert "sales.customer_revenue may not read customer.customers" in message
    assert "lists its consumers (sales.orders)" in message


# -- access at read time, both ports ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(tmp_path_factory, erp_root, customer_history):
    from tests.conftest import MeshEnv

    env = MeshEnv(tmp_path_factory.mktemp("gov") / "products", erp_root).seed(customer_history)
    assert env.materialize("2026-10-20", DAY, domains=ERP_DOMAINS).success
    return env


def internal_mesh():
    from mesh.contracts.contract import Access

    mesh = load_mesh()
    product = mesh.product("sales.order_lines")
    mesh.products[product.address] = type(product)(
        product.domain, product.contract.model_copy(update={"access": Access.internal}), product.file)
    return mesh


def test_read_rules_in_both_ports(published):
    mesh = internal_mesh()
    member = Principal("person:sam", frozenset({"sales"}))
    outsider = Principal("person:olga", frozenset({"customer"}))
    assert len(published.port(member, mesh).read("sales.order_lines")) > 0
    assert published.port(member, mesh).sql("SELECT count(*) n FROM sales.order_lines").to_pylist()[0]["n"] > 0
    with pytest.raises(AccessDenied, match="internal to domain 'sales'"):
        published.port(outsider, mesh).read("sales.order_lines")
    with pytest.raises(MeshError, match=r"sales\.order_lines: access denied for person:olga"):
        published.port(outsider, mesh).sql("SELECT * FROM sales.order_lines")
    # the outsider still reads public products
    assert published.port(outsider, mesh).sql("SELECT count(*) n FROM sales.orders").to_pylist()[0]["n"] > 0


def test_pipelines_read_as_their_product(published):
    mesh = load_mesh()
    revenue = Principal.pipeline(mesh.product("sales.customer_revenue"))
    pricing = Principal.pipeline(mesh.product("sales.pricing_summary"))
    assert len(published.port(revenue).read("customer.customers")) > 0
    with pytest.raises(AccessDenied, match="is not one of them"):
        published.port(Principal("pipeline:sales.pricing_summary", frozenset({"sales"}), False,
                                 pricing.product)).read("customer.customers")
    # a pipeline of another domain sees PII masked: joins still work on the keyed hash
    names = published.port(revenue).read("customer.customers")["name"]
    assert names.str.fullmatch(r"[0-9a-f]{32}").all()


def test_quarantine_of_a_pii_product_hides_the_record(published, tmp_path, erp_root):
    from tests.conftest import MeshEnv

    feeds = tmp_path / "feeds" / "erp" / "customers"
    feeds.mkdir(parents=True)
    lines = (erp_root / "erp" / "customers" / f"{DAY}.csv").read_text().splitlines()
    lines.append("77777,Customer#77777,Secret Street 1,6,FRANCE,EUROPE,16-111-111-1111,12x,BUILDING,c,2026-11-02")
    (feeds / f"{DAY}.csv").write_text("\n".join(lines) + "\n")
    env = MeshEnv(tmp_path / "products", tmp_path / "feeds")
    env.run("customer.customers", DAY)
    analyst = env.port(Principal("person:a", frozenset({"sales"})))
    row = analyst.read("customer.customers__quarantine").iloc[0]
    assert row["record"] == "[redacted]" and "Secret" not in json.dumps(row.astype(str).to_dict())
    steward = env.port(Principal("person:s", frozenset({"customer"}), pii=True))
    assert "Secret Street" in steward.read("customer.customers__quarantine").iloc[0]["record"]


# -- versions ------------------------------------------------------------------------------------------------
def test_breaking_change_needs_a_major_bump_and_the_old_major_stays_readable(tmp_path, erp_root, customer_history):
    root = with_customers(project(tmp_path), customer_history)
    assert mesh_cli(root, erp_root, "materialize", "--start", DAY, "--end", DAY).returncode == 0
    edit(root / "checks" / "sales" / "orders.py", "ship_priority: Series[int]", "ship_priority: Series[float]")
    edit(root / "assets" / "sales" / "orders.py", 'orders["o_shippriority"]', 'orders["o_shippriority"].astype(float)')
    failed = mesh_cli(root, erp_root, "lint", "--json")
    assert failed.returncode == 1
    findings = json.loads(failed.stdout)
    breaking = [f for f in findings if f["policy"] == "versions" and f["severity"] == "error"]
    assert breaking and breaking[0]["subject"] == "sales.orders"
    assert "ship_priority: type bigint -> double" in breaking[0]["message"]
    # without the bump, publishing is refused too: contract conformance protects v1
    refused = mesh_cli(root, erp_root, "materialize", "--start", DAY, "--end", DAY, "--domain", "sales")
    assert refused.returncode == 1 and "bump the contract's major version" in refused.stdout + refused.stderr
    edit(root / "domains" / "sales" / "orders.yaml", "version: 1.0.0",
         "version: 2.0.0\ndeprecations:\n  - major: 1\n    readable_until: '2099-01-01'")
    passed = mesh_cli(root, erp_root, "lint")
    assert passed.returncode == 0, passed.stdout
    assert "no schema recorded for v2 yet" in passed.stdout
    assert mesh_cli(root, erp_root, "materialize", "--start", DAY, "--end", DAY).returncode == 0
    old = mesh_cli(root, erp_root, "read", "sales.orders", "--version", "1", "--format", "json")
    assert old.returncode == 0 and "readable until 2099-01-01" in old.stderr
    assert isinstance(json.loads(old.stdout)[0]["ship_priority"], int)
    new = json.loads(mesh_cli(root, erp_root, "read", "sales.orders", "--format", "json").stdout)
    assert isinstance(new[0]["ship_priority"], float)
    via_sql = mesh_cli(root, erp_root, "sql", "SELECT count(*) AS n FROM sales.orders__v1", "--format", "json")
    assert json.loads(via_sql.stdout)[0]["n"] == len(new) and "readable until 2099-01-01" in via_sql.stderr
    assert (root / ".products" / "data" / "sales" / "orders__v1").is_dir()  # both majors are tables in the lake
    assert (root / ".products" / "data" / "sales" / "orders__v2").is_dir()


# -- lint ------------------------------------------------------------------------------------------------------
def test_lint_of_the_real_mesh_has_no_errors():
    errors = [f for f in lint() if f.severity == "error"]
    assert not errors, "\n".join(map(str, errors))


def test_lint_policies_and_domain_policies(tmp_path, erp_root):
    root = project(tmp_path)
    edit(root / "domains" / "sales" / "pricing_summary.yaml", "  freshness:\n    max_age: 30h\n    warn_age: 26h\n", "")
    edit(root / "checks" / "sales" / "orders.py", 'description="Clerk who took the order"', 'description=""')
    (root / "domains" / "sales" / "policies.py").write_text(
        "def policy_sales_tagged(product, mesh, code):\n"
        "    return [] if 'finance' in product.contract.tags or 'erp' in product.contract.tags "
        "else ['every sales product is tagged finance or erp']\n")
    edit(root / "domains" / "sales" / "customer_revenue.yaml", "tags: [finance, customer_360]", "tags: [customer_360]")
    with (root / "domains" / "sales" / "order_lines.yaml").open("a") as contract:
        contract.write("retention:\n  days: 90\n")  # pricing_summary, computed per partition from it, keeps all
    result = mesh_cli(root, erp_root, "lint", "--json")
    assert result.returncode == 1
    found = {(f["policy"], f["subject"]): f for f in json.loads(result.stdout)}
    assert "freshness SLO" in found[("slo_present", "sales.pricing_summary")]["message"]
    assert "column clerk has no description" in found[("described", "sales.orders")]["message"]
    assert found[("sales_tagged", "sales.customer_revenue")]["severity"] == "error"
    assert ("sales_tagged", "sales.orders") not in found
    assert "retention.days to at most 90" in found[("retention_within_inputs", "sales.pricing_summary")]["message"]


def test_domain_cycles_are_found(tmp_path):
    root = project(tmp_path)
    (root / "domains" / "customer" / "best_customers.yaml").write_text(
        "name: best_customers\ndescription: Customers ranked by their revenue, best first.\n"
        "kind: consumer-aligned\ninputs:\n  customer_revenue: sales.customer_revenue\n")
    assert domain_cycles(load_mesh(root)) == [["customer", "sales", "customer"]]


def test_lint_json_output_and_exit_status(tmp_path, erp_root):
    root = project(tmp_path)
    edit(root / "domains" / "sales" / "orders.yaml", "access: public", "access: public\nconsumers: [nobody.here]")
    result = mesh_cli(root, erp_root, "lint", "--json")
    assert result.returncode == 1
    assert any(f["policy"] == "consumers_match_lineage" and "nobody.here is no product" in f["message"]
               for f in json.loads(result.stdout))


# -- discovery -----------------------------------------------------------------------------------------------
def test_catalog_search_by_name_description_column_and_tag():
    mesh = load_mesh()
    assert [e.address for e in search(mesh, "ship_mode")] == ["sales.order_lines"]
    assert "column ship_mode" in search(mesh, "ship_mode")[0].matched
    assert "sales.pricing_summary" in {e.address for e in search(mesh, "tpch")}
    assert "sales.orders" not in {e.address for e in search(mesh, "tpch")}
    assert {e.address for e in search(mesh, None, domain="customer")} == {"customer.customers"}
    assert all(e.owner == "team:sales" for e in search(mesh, None, owner="team:sales"))
    assert search(mesh, "no such words anywhere") == []


def test_show_gives_lineage_across_domains():
    info = show(load_mesh(), "sales.customer_revenue")
    upstream = [u["product"] for u in info["upstream"]]
    assert "customer.customers" in upstream and "sales.orders" in upstream
    downstream = [d["product"] for d in show(load_mesh(), "customer.customers")["downstream"]]
    assert "sales.customer_revenue" in downstream
    assert any(c["name"] == "name" and c["pii"] == "hash" for c in show(load_mesh(), "customer.customers")["columns"])


@pytest.mark.parametrize("address", ["sales.orders; DROP TABLE x", "../etc.passwd", "sales.'orders'", "sales"])
def test_hostile_addresses_are_refused(tmp_path, erp_root, address):
    result = mesh_cli(project(tmp_path), erp_root, "show", address)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


# -- export ----------------------------------------------------------------------------------------------------
def test_every_exported_odcs_document_validates(tmp_path):
    schema = json.loads(SCHEMA_FILE.read_text())
    paths = export(load_mesh(), tmp_path / "odcs", "/data/products")
    assert len(paths) == len(load_mesh().products)
    for path in paths:
        document = yaml.safe_load(path.read_text())
        jsonschema.Draft201909Validator(schema).validate(document)
        assert {s["type"] for s in document["servers"]} == {"local", "s3"}
    orders = yaml.safe_load((tmp_path / "odcs" / "sales.orders.odcs.yaml").read_text())
    properties = {p["name"]: p for p in orders["schema"][0]["properties"]}
    assert properties["order_id"]["primaryKey"] and properties["order_date"]["logicalType"] == "date"
    assert {q["name"] for q in orders["schema"][0]["quality"]} >= {"structure", "total_price_positive", "error_rate"}
    assert orders["team"]["name"] == "team:sales"


# -- scaffolding -----------------------------------------------------------------------------------------------
def test_new_product_then_one_edit_materializes(tmp_path, erp_root, customer_history):
    root = with_customers(project(tmp_path), customer_history)
    created = mesh_cli(root, erp_root, "new", "product", "sales", "big_orders", "--input", "sales.orders")
    assert created.returncode == 0, created.stderr
    edit(root / "assets" / "sales" / "big_orders.py", "    return orders\n",
         "    return orders[orders[\"total_price_usd\"] > 100_000]\n")
    done = mesh_cli(root, erp_root, "materialize", "--start", DAY, "--end", DAY)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(mesh_cli(root, erp_root, "read", "sales.big_orders", "--format", "json").stdout)
    everything = json.loads(mesh_cli(root, erp_root, "read", "sales.orders", "--format", "json").stdout)
    assert 0 < len(rows) < len(everything) and all(r["total_price_usd"] > 100_000 for r in rows)
    lint_out = mesh_cli(root, erp_root, "lint").stdout
    assert "sales.big_orders: the description is still the scaffold's" in lint_out


def test_new_domain_adds_its_code_location(tmp_path, erp_root):
    root = project(tmp_path)
    assert mesh_cli(root, erp_root, "new", "domain", "finance", "--owner", "team:finance").returncode == 0
    assert "attribute: finance" in (root / "workspace.yaml").read_text()
    assert (root / "domains" / "finance" / "domain.yaml").exists()
    again = mesh_cli(root, erp_root, "new", "domain", "finance")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = mesh_cli(root, erp_root, "new", "domain", "../evil")
    assert bad.returncode == 1 and not (root.parent / "evil").exists()


def bumped_mesh(readable_until: str):
    """The real mesh with sales.orders at v2 and v1 deprecated until the given day (v1 is what is published)."""
    from mesh.contracts.contract import Deprecation

    mesh = load_mesh()
    product = mesh.product("sales.orders")
    contract = product.contract.model_copy(update={
        "version": "2.0.0", "deprecations": [Deprecation(major=1, readable_until=readable_until)]})
    mesh.products[product.address] = type(product)(product.domain, contract, product.file)
    return mesh


def test_deprecated_version_warning_in_python(published):
    from mesh.storage.ports import DeprecatedVersionWarning

    port = published.port(mesh=bumped_mesh("2099-01-01"))
    with pytest.warns(DeprecatedVersionWarning, match=r"sales.orders v1 is deprecated and readable until "
                                                      r"2099-01-01; move to v2") as python:
        rows = port.read("sales.orders", version=1)
    assert len(rows) > 0 and len(python) == 1
    with pytest.warns(DeprecatedVersionWarning, match=r"sales.orders v1 is deprecated .* 2099-01-01"):
        assert port.sql("SELECT count(*) AS n FROM sales.orders__v1").to_pylist() == [{"n": len(rows)}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current major warns of nothing
        with pytest.raises(MeshError, match=r"sales.orders has no published data in v2"):
            port.read("sales.orders")
    with pytest.raises(MeshError, match=r"sales.orders v7 is not a readable version \(current v2\)"):
        port.read("sales.orders", version=7)
    expired = published.port(mesh=bumped_mesh("2020-01-01"))
    with pytest.raises(MeshError, match=r"sales.orders v1 stopped being readable on 2020-01-01"):
        expired.read("sales.orders", version=1)
