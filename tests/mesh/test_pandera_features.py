"""pandera features a model uses are honored with pandera's own semantics, or refused when definitions load.

Honored features are compared with pandera's ``validate`` over the same frame: the rows the mesh would
quarantine are exactly the rows pandera reports as failure cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Index, Series

from checks.sales.orders import Orders
from mesh.contracts.registry import load_mesh
from mesh.errors import ContractError
from mesh.quality.code import ProductCode, resolve
from mesh.quality.rules import UnsupportedFeature, check_structure, evaluate_rules, schema_from_model
from tests.conftest import MeshEnv

DAY, WEEK_END = "2026-11-02", "2026-11-08"


# -- honored: uniqueness --------------------------------------------------------------------------------------
class UniqueCode(pa.DataFrameModel):
    id: Series[int]
    code: Series[str] = pa.Field(unique=True, nullable=True)
    region: Series[str]


class UniquePair(pa.DataFrameModel):
    id: Series[int]
    code: Series[str] = pa.Field(nullable=True)
    region: Series[str]

    class Config:
        unique = ["code", "region"]


FRAME = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7],
                      "code": ["a", "b", "a", None, None, "c", "a"],
                      "region": ["x", "x", "y", "x", "x", "z", "x"]})


def mesh_failing(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> set[int]:
    schema = schema_from_model(model, ["id"])
    coerced, structure = check_structure(frame, schema)
    assert not structure.fatal
    failing = structure.failing.copy()
    for outcome in evaluate_rules(coerced, schema):
        assert outcome.error is None, outcome.error
        failing |= outcome.failing
    return set(np.flatnonzero(failing).tolist())


def pandera_failing(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> set[int]:
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return set(err.failure_cases["index"].astype(int))
    return set()


@pytest.mark.parametrize(("model", "expected"), [
    (UniqueCode, {0, 2, 6}),  # every occurrence of a repeated value; nulls repeat nothing
    (UniquePair, {0, 6, 3, 4}),  # (a, x) twice, and (null, x) twice: a repeated combination, nulls or not
])
def test_uniqueness_fails_the_rows_pandera_fails(model, expected):
    assert pandera_failing(model, FRAME) == expected
    assert mesh_failing(model, FRAME) == expected
    assert mesh_failing(model, FRAME.drop_duplicates(["code", "region"]).drop_duplicates("code")) == set()


def test_uniqueness_is_a_rule_of_its_own():
    assert [(r.name, r.columns, r.severity) for r in schema_from_model(UniqueCode, ["id"]).rules] == [
        ("code_unique", ("code",), "error")]
    pair = schema_from_model(UniquePair, ["id"]).rules
    assert [(r.name, r.columns) for r in pair] == [("unique_code_region", ())]
    assert "code, region unique" in pair[0].description


def test_uniqueness_over_columns_the_model_lacks_is_refused_when_it_loads():
    class UniqueNothing(pa.DataFrameModel):
        id: Series[int]

        class Config:
            unique = ["id", "nope"]

    with pytest.raises(ValueError, match=r"UniqueNothing: Config.unique names \['nope'\], which are not columns"):
        schema_from_model(UniqueNothing, ["id"])


class UniqueClerk(Orders):
    clerk: Series[str] = pa.Field(unique=True, description="Clerk who took the order, one order each")


def test_a_unique_field_quarantines_repeats_under_its_rule_and_conserves_rows(tmp_path, erp_root, customer_history):
    from assets.sales.orders import orders

    env = MeshEnv(tmp_path / "products", erp_root).seed(customer_history)
    code = ProductCode(orders, schema_from_model(UniqueClerk, ["order_id"]), UniqueClerk)
    report = env.run("sales.orders", DAY, WEEK_END, code=code)  # a week's orders: clerks take several
    published = env.port().read("sales.orders")
    quarantined = env.port().read("sales.orders__quarantine")
    verdicts = report.verdicts.values()
    assert all(v.published for v in verdicts) and len(quarantined) == report.findings["clerk_unique"].rows_failing > 0
    assert set(quarantined["rule"]) == {"clerk_unique"} and set(quarantined["column"]) == {"clerk"}
    assert published["clerk"].is_unique and not set(published["clerk"]) & set(quarantined["value"])
    assert sum(v.rows_in for v in verdicts) == len(published) + len(quarantined)
    assert all(v.rows_in == v.rows_published + v.rows_quarantined for v in verdicts)


# -- honored: strictness and column order ----------------------------------------------------------------
class Filtered(pa.DataFrameModel):
    id: Series[int]
    code: Series[str]

    class Config:
        strict = "filter"


class Ordered(pa.DataFrameModel):
    id: Series[int]
    code: Series[str]

    class Config:
        ordered = True


class Plain(pa.DataFrameModel):
    id: Series[int]
    code: Series[str]


def test_strict_filter_drops_undeclared_columns_and_every_other_model_is_strict():
    frame = pd.DataFrame({"id": [1], "code": ["a"], "debug": ["?"]})
    kept, structure = check_structure(frame, schema_from_model(Filtered, ["id"]))
    assert not structure.fatal and list(kept.columns) == ["id", "code"]
    assert list(Filtered.validate(frame).columns) == ["id", "code"]  # pandera's own filter: the same
    _, strict = check_structure(frame, schema_from_model(Plain, ["id"]))
    assert strict.fatal == ["columns not in the schema ['debug']"]


def test_ordered_models_refuse_columns_out_of_order():
    swapped = pd.DataFrame({"code": ["a"], "id": [1]})
    _, structure = check_structure(swapped, schema_from_model(Ordered, ["id"]))
    assert structure.fatal == ["columns out of the model's order: expected ['id', 'code'], found ['code', 'id']"]
    with pytest.raises(pa.errors.SchemaErrors, match="out-of-order"):  # pandera refuses it too
        Ordered.validate(swapped, lazy=True)
    _, unordered = check_structure(swapped, schema_from_model(Plain, ["id"]))
    assert not unordered.fatal


# -- refused: named with the model, the field and the feature ----------------------------------------------
class WithIndex(pa.DataFrameModel):
    idx: Index[int]
    id: Series[int]


class WithRegex(pa.DataFrameModel):
    id: Series[int]
    metric: Series[float] = pa.Field(alias=r"metric_\d+", regex=True)


class WithOptional(pa.DataFrameModel):
    id: Series[int]
    note: Series[str] = pa.Field(required=False)


class WithDefault(pa.DataFrameModel):
    id: Series[int]
    note: Series[str] = pa.Field(default="none", nullable=True)


class WithParser(pa.DataFrameModel):
    id: Series[int]
    note: Series[str]

    @pa.parser("note")
    def stripped(cls, note):
        return note.str.strip()


class WithGroupedCheck(pa.DataFrameModel):
    id: Series[int]
    amount: Series[float]
    region: Series[str]

    @pa.check("amount", groupby="region")
    def balanced(cls, grouped):
        return True


class WithMissingColumnsAdded(pa.DataFrameModel):
    id: Series[int]

    class Config:
        add_missing_columns = True


@pytest.mark.parametrize(("model", "where", "feature"), [
    (WithIndex, "the index", "index fields"),
    (WithRegex, r"metric_\d+", "regex=True"),
    (WithOptional, "note", "required=False"),
    (WithDefault, "note", "default='none'"),
    (WithParser, "note", "parsers"),
    (WithGroupedCheck, "amount", "check balanced with groupby"),
    (WithMissingColumnsAdded, "Config", "add_missing_columns = True"),
])
def test_unsupported_features_are_refused_naming_model_field_and_feature(model, where, feature):
    with pytest.raises(UnsupportedFeature) as caught:
        schema_from_model(model, ["id"])
    assert str(caught.value).startswith(f"{model.__name__} uses pandera features the mesh does not support: ")
    assert f"{where}: {feature}" in str(caught.value)


class OrdersWithParser(Orders):
    @pa.parser("clerk")
    def trimmed(cls, clerk):
        return clerk.str.strip()


def test_a_refused_feature_fails_the_product_when_definitions_load():
    mesh = load_mesh()
    product = mesh.product("sales.orders")
    contract = product.contract.model_copy(update={"schema_": f"{__name__}:OrdersWithParser"})
    with pytest.raises(ContractError, match=r"domains/sales/orders.yaml.*OrdersWithParser uses pandera features "
                                            r"the mesh does not support: clerk: parsers"):
        resolve(type(product)(product.domain, contract, product.file), mesh.root)
