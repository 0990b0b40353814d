"""Relation rules: rows judged against an input (references, reconciles), quarantined with what did not match."""

from __future__ import annotations

import dataclasses
import textwrap

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from mesh.contracts.contract import Contract, Relation, parse_model
from mesh.contracts.registry import load_mesh
from mesh.errors import ContractError
from mesh.orchestration.compile import check_specs, compile_product
from mesh.quality.code import resolve
from mesh.quality.relations import Scoped, as_rule, check, evaluate

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


def days(*keys: str) -> np.ndarray:
    return np.array(keys, dtype=object)


def test_in_a_run_of_several_partitions_a_row_sees_what_its_own_partition_would():
    """A customer registered on the 3rd does not validate an order of the 2nd run together with it; an
    order of a day that sees nothing of the input fails."""
    orders = pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_id": [7, 7, 8, 8]})
    customers = pa.table({"customer_id": [8, 7]})
    scoped = Scoped(customers, days("2026-11-01", "2026-11-03"), {
        "2026-11-02": ("2026-11-01", "2026-11-02"), "2026-11-03": ("2026-11-01", "2026-11-03"), "2026-11-04": None})
    exists = as_rule("customer_exists", Relation(references="customers", key={"customer_id": "customer_id"}))
    partitions = days("2026-11-02", "2026-11-03", "2026-11-03", "2026-11-04")
    [outcome] = evaluate(orders, [exists], {"customers": scoped}, np.zeros(4, dtype=bool), "error", partitions)
    assert outcome.failing.tolist() == [True, False, False, True]
    [unscoped] = evaluate(orders, [exists], {"customers": scoped}, np.zeros(4, dtype=bool), "error")
    assert not unscoped.failing.any()  # without the rows' partitions, the whole input counts


def test_a_reconciliation_in_a_run_of_several_partitions_sums_its_own_partitions_rows():
    orders = pd.DataFrame({"order_id": [1, 1, 2], "total_usd": [10.0, 4.0, 6.0]})
    lines = pd.DataFrame({"l_orderkey": [1, 1, 1, 2], "amount": [4.0, 6.0, 4.0, 6.0]})
    scoped = Scoped(lines, days("2026-11-02", "2026-11-02", "2026-11-03", "2026-11-02"),
                    {"2026-11-02": ("2026-11-02", "2026-11-02"), "2026-11-03": ("2026-11-03", "2026-11-03")})
    partitions = days("2026-11-02", "2026-11-03", "2026-11-03")
    [outcome] = evaluate(orders, [TOTAL_MATCHES], {"lines": scoped}, np.zeros(3, dtype=bool), "error", partitions)
    # order 1 of the 2nd sums 4 + 6; of the 3rd, its own 4; order 2 has no line on the 3rd: not judged
    assert outcome.error is None and not outcome.failing.any()
    [unscoped] = evaluate(orders, [TOTAL_MATCHES], {"lines": lines}, np.zeros(3, dtype=bool), "error", partitions)
    assert unscoped.failing.tolist() == [True, True, False]  # every line of order 1: 14
    assert unscoped.reasons[0].startswith("order_id=1: total_usd is 10, expected 14 ")


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


def test_each_relation_is_an_asset_check_and_its_input_a_dependency():
    mesh = load_mesh()
    for address, rule in (("sales.orders", "total_matches_lines"), ("sales.orders", "customer_exists"),
                          ("sales.order_lines", "order_exists")):
        product = mesh.product(address)
        spec = next(s for s in check_specs(product, resolve(product, mesh.root)) if s.name == rule)
        assert spec.blocking and spec.description.startswith("[ERROR]")
    for address, upstream in (("sales.order_lines", "sales.orders"), ("sales.orders", "customer.customers")):
        product = mesh.product(address)
        assets = compile_product(mesh, product, resolve(product, mesh.root))
        key = dg.AssetKey(address.split("."))
        assert dg.AssetKey(upstream.split(".")) in assets.asset_deps[key]
