"""Relation rules: rows judged against an input (references, reconciles), quarantined with what did not match."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from mesh.code import resolve
from mesh.compile import check_specs, compile_product
from mesh.contract import Contract, Relation, parse_model
from mesh.errors import ContractError
from mesh.registry import load_mesh
from mesh.relations import as_rule, check, evaluate
from operational.erp import FEEDS
from operational.feeds import DefectLog, Defects, count_records, inject
from tests.conftest import MeshEnv
from tests.test_quality import copy_feeds

ORDER_EXISTS = as_rule("order_exists", Relation(references="orders", key={"order_id": "order_id"}))
TOTAL_MATCHES = as_rule("total_matches_lines", Relation(
    reconciles="lines", key={"order_id": "l_orderkey"}, column="total_usd", equals="sum(amount)", tolerance=0.01))


def test_references_quarantine_rows_whose_key_the_input_lacks():
    lines = pd.DataFrame({"order_id": pd.array([1, 2, 3, None, 2], dtype="Int64"), "line_number": [1, 1, 1, 1, 2]})
    orders = pa.table({"order_id": [1, 3, 9]})
    [outcome] = evaluate(lines, [ORDER_EXISTS], {"orders": orders}, np.zeros(5, dtype=bool), "error")
    assert outcome.error is None
    assert outcome.failing.tolist() == [False, True, False, False, True]  # a null key references nothing
    assert outcome.reasons == {1: "order_id=2: no row of input orders has this order_id",
                               4: "order_id=2: no row of input orders has this order_id"}
    skipped = np.array([False, True, False, False, False])  # rows already failing are not judged again
    [outcome] = evaluate(lines, [ORDER_EXISTS], {"orders": orders}, skipped, "error")
    assert outcome.failing.tolist() == [False, False, False, False, True]
    assert evaluate(lines, [ORDER_EXISTS], {"orders": orders}, skipped, "warn") == []


def test_reconciles_compare_a_column_with_an_aggregate_of_the_input_within_the_tolerance():
    orders = pd.DataFrame({"order_id": [1, 2, 3, 4], "total_usd": [10.0, 5.0, 7.0, None]})
    lines = pd.DataFrame({"l_orderkey": [1, 1, 2, 2, 4], "amount": [4.0, 6.009, 2.0, 2.0, 1.0]})
    [outcome] = evaluate(orders, [TOTAL_MATCHES], {"lines": lines}, np.zeros(4, dtype=bool), "error")
    # 1: 10.009 is within a cent of 10.0; 3: the input holds no lines, so it is not judged; 4: a null total
    assert outcome.failing.tolist() == [False, True, False, True]
    assert outcome.reasons[1] == ("order_id=2: total_usd is 5, expected 4 = sum(amount) over input lines "
                                  "(tolerance 0.01)")
    assert outcome.reasons[3].startswith("order_id=4: total_usd is None, expected 1 ")


def test_a_relation_that_fails_to_evaluate_is_that_rules_error():
    orders = pd.DataFrame({"order_id": [1], "total_usd": [1.0]})
    [outcome] = evaluate(orders, [TOTAL_MATCHES], {"lines": pa.table({"l_orderkey": [1]})},
                         np.zeros(1, dtype=bool), "error")
    assert outcome.failing is None and "amount" in outcome.error


def contract(relations: str) -> dict:
    text = textwrap.dedent("""\
        name: thing
        description: A test product.
        kind: consumer-aligned
        inputs:
          orders: sales.orders
        """) + textwrap.dedent(relations)
    return yaml.safe_load(text)


@pytest.mark.parametrize(("relations", "message"), [
    ("relations:\n  order_exists: {references: ordrs, key: {order_id: order_id}}",
     r"relations\.order_exists\.references: expected one of the contract's inputs or sources \['orders'\], "
     r"found 'ordrs'"),
    ("relations:\n  total_matches: {reconciles: orders, key: {order_id: order_id}}",
     r"relations\.total_matches: 'reconciles' needs 'column'"),
    ("relations:\n  both: {references: orders, reconciles: orders, key: {order_id: order_id}}",
     r"relations\.both: declare exactly one of 'references' or 'reconciles'"),
    ("relations:\n  order_exists: {references: orders, key: {}}",
     r"relations\.order_exists\.key: Dictionary should have at least 1 item"),
])
def test_a_declaration_naming_no_input_or_missing_fields_is_refused_when_the_contract_loads(relations, message):
    with pytest.raises(ContractError, match=r"domains/demo/thing\.yaml: " + message):
        parse_model(Contract, contract(relations), "domains/demo/thing.yaml")


def with_relations(product, **relations: Relation):
    """The product reading sales.orders as input ``orders``, with these relations."""
    inputs = {**product.contract.inputs, "orders": {"product": "sales.orders", "window": "partition"}}
    contract = Contract.model_validate({**product.contract.model_dump(by_alias=True, exclude={"relations"}),
                                        "inputs": inputs})
    return dataclasses.replace(product, contract=contract.model_copy(update={"relations": relations}))


ORDERS_RELATIONS = """\
relations:
  total_matches_lines:
    reconciles: lineitems
    key: {order_id: l_orderkey}
    column: total_price_usd
    # the ERP charges each line in whole cents, truncated after the discount and after the tax
    equals: "sum(floor(floor(l_extendedprice * (100 - 100 * l_discount) + 1e-6) * (1 + l_tax) + 1e-6) / 100)"
    tolerance: 0.01
"""
LINES_RELATIONS = """\
inputs:
  orders: {product: sales.orders, window: partition}
relations:
  order_exists:
    references: orders
    key: {order_id: order_id}
"""


def sales_with_relations(tmp_path: Path):
    """The mesh with sales.orders reconciled against the ERP's lines feed and sales.order_lines referencing
    sales.orders, as a copy of the project's contracts."""
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "domains", project / "domains")
    sales = project / "domains" / "sales"
    lines = (sales / "order_lines.yaml").read_text()
    feed = "  lineitems:\n" + lines.split("sources:\n  lineitems:\n")[1].split("partitioning:")[0]
    orders = (sales / "orders.yaml").read_text().replace("partitioning:", feed + "partitioning:", 1)
    (sales / "orders.yaml").write_text(orders + ORDERS_RELATIONS)
    (sales / "order_lines.yaml").write_text(lines + LINES_RELATIONS)
    mesh = load_mesh(project)
    assert not mesh.failed, mesh.failed
    return mesh


@pytest.mark.parametrize(("relation", "message"), [
    (Relation(references="orders", key={"order_key": "order_id"}),
     r"relations\.order_exists\.key: expected columns of OrderLines, found \['order_key'\]"),
    (Relation(references="orders", key={"order_id": "id"}),
     r"relations\.order_exists\.key: expected columns of input orders, found \['id'\]"),
    (Relation(reconciles="orders", key={"order_id": "order_id"}, column="quantity", equals="total_price_usd"),
     r"relations\.order_exists\.equals: does not evaluate over input orders: Binder Error.*GROUP BY"),
    (Relation(reconciles="orders", key={"order_id": "order_id"}, column="quantity", equals="sum(price)"),
     r"relations\.order_exists\.equals: does not evaluate over input orders: Binder Error.*price"),
])
def test_a_relation_naming_unknown_columns_is_refused_when_definitions_load(relation, message):
    mesh = load_mesh()
    product = mesh.product("sales.order_lines")
    code = resolve(product, mesh.root)
    with pytest.raises(ContractError, match=r"domains/sales/order_lines\.yaml: " + message):
        check(mesh, with_relations(product, order_exists=relation), code.schema)
    with pytest.raises(ContractError, match=r"relations\.quantity_positive: OrderLines already has a rule named"):
        check(mesh, with_relations(product, quantity_positive=Relation(references="orders", key={
            "order_id": "order_id"})), code.schema)


def test_each_relation_is_an_asset_check_and_its_input_a_dependency(tmp_path):
    mesh = sales_with_relations(tmp_path)
    for address, rule in (("sales.orders", "total_matches_lines"), ("sales.order_lines", "order_exists")):
        product = mesh.product(address)
        spec = next(s for s in check_specs(product, resolve(product, mesh.root)) if s.name == rule)
        assert spec.blocking and spec.description.startswith("[ERROR]")
    product = mesh.product("sales.order_lines")
    assets = compile_product(mesh, product, resolve(product, mesh.root))
    key = dg.AssetKey(["sales", "order_lines"])
    assert dg.AssetKey(["sales", "orders"]) in assets.asset_deps[key]


DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]


def test_an_outlier_order_is_quarantined_with_its_lines_and_every_row_is_accounted_for(tmp_path, erp_root):
    root = copy_feeds(erp_root, tmp_path / "feeds", DAYS)
    log = DefectLog()
    inject(root / "erp" / "orders", FEEDS["orders"], "csv", Defects(0.2, ("out_of_range",), seed=5), log)
    spoiled = {}  # order key -> what the injector did to its total
    for entry in log.entries:
        record = (root / "erp" / "orders" / f"{entry['day']}.csv").read_text().splitlines()[entry["line"] - 1]
        spoiled[int(record.split(",")[0])] = entry["detail"]
    outliers = {k for k, detail in spoiled.items() if "larger" in detail}
    assert outliers and len(outliers) < len(spoiled)  # both kinds: made larger (a WARN only) and negative

    env = MeshEnv(tmp_path / "products", root)
    mesh = sales_with_relations(tmp_path)
    orders = env.run("sales.orders", DAYS[0], DAYS[-1], mesh=mesh)
    lines = env.run("sales.order_lines", DAYS[0], DAYS[-1], mesh=mesh)
    for report, feed in ((orders, "orders"), (lines, "lineitems")):
        for day in DAYS:
            verdict = report.verdicts[day]
            assert verdict.published
            # rows read = rows published + rows quarantined; the lines orders read for the rule are not its rows
            assert verdict.rows_in == count_records(root / "erp" / feed / f"{day}.csv")
            assert verdict.rows_in == verdict.rows_published + verdict.rows_quarantined

    port = env.port(mesh=mesh)
    published = port.read("sales.orders")
    assert not outliers & set(published["order_id"])
    assert published["total_price_usd"].max() < 1_000_000
    held = port.read("sales.orders__quarantine")
    reconciled = held[held["rules_failed"].str.contains("total_matches_lines")]
    assert {json.loads(r)["order_id"] for r in reconciled["record"]} == set(spoiled)
    for _, entry in held[held["rule"] == "total_matches_lines"].iterrows():  # the outliers: no other rule fails
        order = json.loads(entry["record"])["order_id"]
        assert order in outliers and float(entry["value"]) > 1_000_000
        assert entry["reason"].startswith(f"order_id={order}: total_price_usd is {float(entry['value']):.12g}, "
                                          f"expected ")
    assert set(held.loc[held["rule"] == "total_matches_lines", "record"].map(lambda r: json.loads(r)["order_id"])) \
        == outliers
    assert orders.findings["total_matches_lines"].rows_failing == len(spoiled)
    assert orders.findings["total_price_plausible"].rows_failing == 0  # the WARN never sees a quarantined row

    feed_lines = pd.concat(pd.read_csv(root / "erp" / "lineitems" / f"{day}.csv") for day in DAYS)
    orphans = feed_lines[feed_lines["l_orderkey"].isin(list(spoiled))]
    published_lines = port.read("sales.order_lines")
    assert not set(spoiled) & set(published_lines["order_id"])
    held_lines = port.read("sales.order_lines__quarantine")
    assert (held_lines["rule"] == "order_exists").sum() == len(orphans)
    assert set(held_lines["value"].astype(int)) == set(spoiled)
    assert all(f"order_id={v}: no row of input orders has this order_id" == r
               for v, r in zip(held_lines["value"], held_lines["reason"], strict=True))
    assert len(published_lines) + len(orphans) == len(feed_lines)
