"""The compiler: contract + function + schema -> a Dagster asset with everything DESIGN.md lists."""

from __future__ import annotations

import dagster as dg
import pytest

from mesh.contracts.registry import load_mesh
from mesh.orchestration.compile import compile_product, freshness_policy
from mesh.orchestration.definitions import build_domain, build_mesh
from mesh.quality.code import resolve


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(strict=True)


def compiled(mesh, address: str) -> dg.AssetsDefinition:
    product = mesh.product(address)
    return compile_product(mesh, product, resolve(product, mesh.root))


def test_asset_carries_the_contract(mesh):
    asset = compiled(mesh, "sales.orders")
    key = dg.AssetKey(["sales", "orders"])
    spec = next(iter(asset.specs))
    assert spec.key == key
    assert spec.group_name == "sales"
    assert spec.owners == ["team:sales"]
    assert spec.tags["mesh/access"] == "public" and spec.tags["mesh/kind"] == "source-aligned"
    assert spec.tags["mesh/version"] == "1.0.0" and "erp" in spec.tags
    assert spec.kinds == {"ducklake", "pandas"}
    assert spec.description.startswith("Every order placed")
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["order_date"].type == "date" and columns["order_id"].type == "bigint"
    assert columns["total_price_usd"].description
    assert spec.metadata["mesh/address"] == "sales.orders"
    assert isinstance(spec.partitions_def, dg.DailyPartitionsDefinition)
    assert spec.partitions_def.start.strftime("%Y-%m-%d") == "2023-01-01"
    assert isinstance(spec.freshness_policy, dg.FreshnessPolicy)
    assert spec.code_version and len(spec.code_version) == 12
    assert spec.automation_condition is None  # source-aligned: the snapshot schedule runs it


def test_checks_one_per_rule_plus_structure_and_slos(mesh):
    asset = compiled(mesh, "sales.order_lines")
    checks = {s.name: s for s in asset.check_specs}
    assert {"structure", "error_rate", "volume", "contract_conformance", "receipt_not_before_ship",
            "ship_not_before_order", "quantity_positive", "discount_within_policy"} <= set(checks)
    assert checks["structure"].blocking and checks["error_rate"].blocking
    assert checks["receipt_not_before_ship"].blocking
    assert not checks["discount_within_policy"].blocking  # a WARN rule does not block by default
    assert not checks["volume"].blocking


def test_consumer_products_follow_their_inputs(mesh):
    asset = compiled(mesh, "sales.customer_revenue")
    spec = next(iter(asset.specs))
    assert spec.partitions_def is None
    expected = {dg.AssetKey(["sales", "orders"]), dg.AssetKey(["customer", "customers"])}
    assert {d.asset_key for d in spec.deps} == expected
    assert spec.automation_condition is not None
    assert spec.kinds == {"ducklake", "pandas"}
    assert next(iter(compiled(mesh, "sales.pricing_summary").specs)).kinds == {"ducklake", "duckdb"}


def test_freshness_policies_from_the_contract(mesh):
    deadline = freshness_policy(mesh.product("sales.orders"))
    assert deadline.deadline_cron == "0 6 * * *"
    window = freshness_policy(mesh.product("sales.pricing_summary"))
    assert window.fail_window.to_timedelta().total_seconds() == 30 * 3600


def test_code_version_changes_with_the_contract(mesh, tmp_path):
    import shutil

    before = next(iter(compiled(mesh, "sales.orders").specs)).code_version
    shutil.copytree(mesh.root / "domains", tmp_path / "domains")
    contract = tmp_path / "domains" / "sales" / "orders.yaml"
    contract.write_text(contract.read_text().replace("Every order placed", "Every order ever placed"))
    after = next(iter(compiled(load_mesh(tmp_path, strict=True), "sales.orders").specs)).code_version
    assert after != before


def test_domain_definitions_reference_other_domains_as_external(mesh):
    sales = build_domain("sales", mesh)
    graph = sales.resolve_asset_graph()
    customers = graph.get(dg.AssetKey(["customer", "customers"]))
    assert not customers.is_materializable
    assert dg.AssetKey(["customer", "customers"]) in graph.get(dg.AssetKey(["sales", "customer_revenue"])).parent_keys
    assert sales.resolve_schedule_def("sales_snapshot_schedule").cron_schedule == "0 2 * * *"


def test_whole_mesh_as_one_definitions(mesh):
    definitions, failures = build_mesh(mesh)
    assert not failures
    keys = {k.to_user_string() for k in definitions.resolve_all_asset_keys()}
    assert {"customer/customers", "sales/orders", "sales/customer_revenue"} <= keys


def test_code_version_covers_the_shared_modules_a_product_imports(mesh, monkeypatch):
    """Editing a shared helper changes the code version of exactly the products that import it."""
    from pathlib import Path

    import mesh.orchestration.compile as compile_module

    root = Path(mesh.root)

    def versions() -> dict[str, str]:
        out = {}
        for product in mesh.products.values():
            code = resolve(product, mesh.root)
            text = (root / product.file).read_text()
            out[str(product.address)] = compile_module.code_version(product, code, text, root)
        return out

    before = versions()
    real = compile_module._file_digest
    for helper, users in {
        "assets/supply_chain/__init__.py": {"supply_chain.inventory_levels", "supply_chain.stockout_alerts",
                                            "supply_chain.supplier_performance"},
        "assets/marketing/churn_model.py": {"marketing.churn_scores"},
        "checks/consulting/__init__.py": {f"consulting.{n}" for n in (
            "certification_compliance", "trainings", "certification_coverage", "certifications",
            "practice_requirements", "skill_assessments", "consultant_profiles", "skill_gaps", "consultants")},
    }.items():
        edited = (root / helper).resolve()
        monkeypatch.setattr(compile_module, "_file_digest",
                            lambda path, e=edited: "edited" if path == e else real(path))
        after = versions()
        changed = {a for a in before if before[a] != after[a]}
        assert changed == users, (helper, changed ^ users)
    monkeypatch.setattr(compile_module, "_file_digest", real)
    assert versions() == before  # stable when nothing changes
