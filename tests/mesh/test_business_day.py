"""Nothing is published before it happens: the mesh-wide rule happened_by_business_day.

A test domain (daily, in Europe/Paris) publishes deliveries whose ship times and delivery days may lie
after the day they were ordered. That the example mesh, as `make up` publishes it, publishes no event
after its business day and quarantines nothing under the rule is tested on what `make up` publishes,
in ``tests/test_readme_stories.py``.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from mesh.contracts.contract import Cadence, Contract, parse_model
from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh
from mesh.errors import ContractError
from mesh.governance.scaffold import new_product
from mesh.orchestration.compile import check_specs, compile_product
from mesh.quality.business_day import (
    NAME,
    BusinessDay,
    business_day_rule,
    check,
    evaluate,
    judged_window,
    local_moments,
)
from mesh.quality.code import resolve
from mesh.quality.rules import Rule
from tests.conftest import small_mesh
from tests.mesh.test_governance import project

DEPOT = {
    "domains/depot/domain.yaml": """\
        name: depot
        description: The depot's deliveries, day by day.
        owner: team:depot
        snapshots: {cadence: daily, at: "01:00", timezone: Europe/Paris, start: "2026-11-01"}
        """,
    "domains/depot/deliveries.yaml": """\
        name: deliveries
        description: Every delivery, in the partition of the day it was ordered.
        kind: source-aligned
        version: 1.0.0
        access: public
        function: business_day_code:deliveries
        schema: business_day_code:Deliveries
        sources:
          raw: {system: depot, feed: deliveries, format: csv, event_date: ordered_on,
                columns: {delivery_id: bigint, ordered_on: date, promised_on: date, shipped_at: timestamp,
                          delivered_on: date}}
        partitioning: {column: ordered_on}
        primary_key: [delivery_id]
        planned: [promised_on]
        slo:
          error_rate: {max: 0.5}
        """,
    "business_day_code.py": '''\
        import pandas as pd
        import pandera.pandas as pa
        from pandera.typing import Series

        from mesh.types import Date


        def deliveries(raw: pd.DataFrame) -> pd.DataFrame:
            return raw


        class Deliveries(pa.DataFrameModel):
            delivery_id: Series[int] = pa.Field(gt=0, description="delivery")
            ordered_on: Series[Date] = pa.Field(description="day it was ordered; the partition")
            promised_on: Series[Date] = pa.Field(description="day the depot promised it for: a plan")
            shipped_at: Series[pd.Timestamp] = pa.Field(nullable=True, description="when it left, local time")
            delivered_on: Series[Date] = pa.Field(nullable=True, description="day it was delivered")
        ''',
}
FEED = {  # delivery_id, ordered_on, promised_on, shipped_at, delivered_on
    "2026-11-02": ["1,2026-11-02,2026-11-20,2026-11-02 23:30:00,",  # shipped late in the evening: happened
                   "2,2026-11-02,2026-11-05,2026-11-03 00:00:00,",  # midnight: the next day
                   "3,2026-11-02,2026-11-04,2026-11-02 10:00:00,2026-11-03",
                   "4,2026-11-02,2026-11-04,2026-11-04 08:00:00,2026-11-05",
                   "5,2026-11-02,2027-01-01,,"],  # promised next year: a plan, not judged
    "2026-11-03": ["6,2026-11-03,2026-11-04,2026-11-03 08:00:00,2026-11-03",  # on its own day: happened
                   "7,2026-11-03,2026-11-04,2026-11-03 23:59:59,"],
}
AFTER = "it had not happened by then (a plan or an expectation is listed under the contract's 'planned')"


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    header = "delivery_id,ordered_on,promised_on,shipped_at,delivered_on\n"
    return small_mesh(tmp_path_factory.mktemp("depot"), DEPOT, {
        f"depot/deliveries/{day}.csv": header + "\n".join(rows) + "\n" for day, rows in FEED.items()})


def test_events_after_the_business_day_are_quarantined_with_the_reason_and_the_rest_published(depot):
    mesh, env = depot
    result = env.materialize("2026-11-02", "2026-11-03", mesh=mesh)
    assert result.success
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == NAME]
    assert check.passed and check.metadata["rows_failing"].value == 3  # quarantined: published rows all pass
    assert check.severity == dg.AssetCheckSeverity.ERROR

    port = env.port(mesh=mesh)
    published = port.read("depot.deliveries").sort_values("delivery_id")
    assert published["delivery_id"].tolist() == [1, 5, 6, 7]
    held = port.read("depot.deliveries__quarantine").sort_values("partition")
    entries = {json.loads(r)["delivery_id"]: e for r, e in zip(held["record"], held.to_dict("records"), strict=True)}
    assert sorted(entries) == [2, 3, 4] and set(held["rule"]) == {NAME}
    assert (entries[2]["column"], entries[2]["value"]) == ("shipped_at", "2026-11-03T00:00:00")
    assert entries[2]["reason"] == f"shipped_at 2026-11-03T00:00:00 is after its business day 2026-11-02: {AFTER}"
    assert (entries[3]["column"], entries[3]["value"]) == ("delivered_on", "2026-11-03")
    assert entries[4]["column"] == "shipped_at"  # the first of the columns it fails on; the reason names both
    assert entries[4]["reason"] == (f"shipped_at 2026-11-04T08:00:00, delivered_on 2026-11-05 are after its "
                                    f"business day 2026-11-02: {AFTER}")
    assert {e["partition"] for e in entries.values()} == {"2026-11-02"}

    state = port.lake.published(mesh.product("depot.deliveries").address, 1)
    for day, rows in FEED.items():  # rows read = rows published + rows quarantined
        entry = state.partitions[day]
        assert entry.rows_in == len(rows) == entry.rows + entry.rows_quarantined
    assert (state.partitions["2026-11-02"].rows_quarantined, state.partitions["2026-11-03"].rows_quarantined) == (3, 0)


def test_the_rule_is_an_error_check_of_every_product_naming_what_it_judges(depot):
    mesh, _ = depot
    product = mesh.product("depot.deliveries")
    [spec] = [s for s in check_specs(product, resolve(product, mesh.root)) if s.name == NAME]
    assert spec.blocking and spec.description == (
        "[ERROR] Nothing is published before it happens: shipped_at, delivered_on not later than the end of the "
        "row's partition, its business day (Europe/Paris); planned, not judged: promised_on")
    example = load_mesh()
    for product in example.products.values():
        specs = {s.name: s for s in check_specs(product, resolve(product, example.root))}
        assert specs[NAME].blocking and specs[NAME].description.startswith("[ERROR]"), product.address


def rule(*events: str, timezone: str = "UTC", partitioned: bool = True) -> Rule:
    return Rule(NAME, events, "error", True, "", check=BusinessDay(events, (), timezone, partitioned))


def daily(first: str, days: int) -> RunWindow:
    start = datetime.fromisoformat(first)
    keys = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    return RunWindow(start, start + timedelta(days=days), Cadence.daily, keys, start + timedelta(days=days))


def test_zoned_timestamps_are_judged_in_the_domains_timezone():
    at = pd.Series(pd.to_datetime(["2026-11-02 22:30", "2026-11-02 23:30", None], utc=True))  # 23:30, 00:30 Paris
    frame = pd.DataFrame({"at": at.astype(pd.ArrowDtype(pa.timestamp("us", tz="UTC")))})
    keys = pd.Series(["2026-11-02"] * 3)
    paris = evaluate(frame, rule("at", timezone="Europe/Paris"), keys, daily("2026-11-02", 1), np.zeros(3, bool))
    assert paris.failing.tolist() == [False, True, False]  # a null has not happened either: not judged
    assert paris.reasons[1].startswith("at 2026-11-02T23:30:00+00:00 is after its business day 2026-11-02")
    utc = evaluate(frame, rule("at"), keys, daily("2026-11-02", 1), np.zeros(3, bool))
    assert not utc.failing.any()
    assert local_moments(frame["at"], "Asia/Tokyo").tolist()[:2] == [pd.Timestamp("2026-11-03 07:30"),
                                                                     pd.Timestamp("2026-11-03 08:30")]


def test_dates_are_after_a_period_when_they_begin_after_it_ends():
    days = pd.Series([date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 3)], dtype=pd.ArrowDtype(pa.date32()))
    frame = pd.DataFrame({"on": days, "at": pd.to_datetime(["2026-11-02 05:59:59", "2026-11-02 06:00:00", None])})
    hour = datetime(2026, 11, 2, 5)
    window = RunWindow(hour, hour + timedelta(hours=1), Cadence.hourly, ["2026-11-02-05:00"], hour)
    keys = pd.Series(["2026-11-02-05:00"] * 3)
    outcome = evaluate(frame, rule("on", "at"), keys, window, np.array([False, False, True]))
    assert outcome.failing.tolist() == [False, True, False]  # the hour's own day has begun; row 2 is skipped
    assert outcome.columns == {1: "on"} and outcome.reasons[1] == (
        f"on 2026-11-03, at 2026-11-02T06:00:00 are after the end of its business period 2026-11-02-05:00 "
        f"(2026-11-02 06:00 UTC): {AFTER}")


def test_an_unpartitioned_product_is_judged_against_the_runs_as_of_moment():
    as_of = datetime(2026, 11, 2, 10, 15)
    frame = pd.DataFrame({"on": pd.Series([date(2026, 11, 2), date(2026, 11, 3)], dtype=pd.ArrowDtype(pa.date32())),
                          "at": pd.to_datetime(["2026-11-02 10:15:00", "2026-11-02 10:15:01"])})
    outcome = evaluate(frame, rule("on", "at", partitioned=False), pd.Series(["all", "all"]),
                       RunWindow.unpartitioned(as_of), np.zeros(2, bool))
    assert outcome.failing.tolist() == [False, True]
    assert outcome.reasons[1] == (f"on 2026-11-03, at 2026-11-02T10:15:01 are after the run's as-of moment "
                                  f"2026-11-02 10:15:00 UTC: {AFTER}")


def test_an_unpartitioned_run_is_as_of_the_clock_or_of_its_inputs_newest_partition_if_later():
    mesh = load_mesh()
    revenue = mesh.product("sales.customer_revenue")  # unpartitioned, reads sales.orders and customer.customers
    clock = datetime(2026, 12, 1, 10, 15)

    def newest(day: str):
        return lambda address: SimpleNamespace(keys=lambda: ["2023-01-01", day])

    ahead = judged_window(RunWindow.unpartitioned(clock), mesh, revenue, newest("2029-08-01"))
    assert ahead.as_of == datetime(2029, 8, 2) - timedelta(microseconds=1)  # a history replayed ahead of the clock
    assert judged_window(RunWindow.unpartitioned(clock), mesh, revenue, newest("2026-11-30")).as_of == clock
    window = daily("2026-11-02", 1)
    assert judged_window(window, mesh, mesh.product("sales.orders"), newest("2029-08-01")) is window


def with_planned(product, planned: list[str]):
    data = {**product.contract.model_dump(by_alias=True, exclude={"planned"}), "planned": planned}
    return dataclasses.replace(product, contract=Contract.model_validate(data))


@pytest.mark.parametrize(("planned", "message"), [
    (["promised_on", "promised"], r"planned: depot\.deliveries has no column 'promised' \(expected a date or "
                                  r"timestamp column of Deliveries\)"),
    (["delivery_id"], r"planned: depot\.deliveries\.delivery_id is of type bigint: only date and timestamp "
                      r"columns can be planned \(declare it a Date or pd\.Timestamp in Deliveries\)"),
])
def test_a_planned_column_that_is_no_date_is_refused_when_definitions_load(depot, planned, message):
    mesh, _ = depot
    product = with_planned(mesh.product("depot.deliveries"), planned)
    with pytest.raises(ContractError, match=r"^domains/depot/deliveries\.yaml: " + message):
        compile_product(mesh, product, resolve(product, mesh.root))


def test_a_product_rule_may_not_take_the_mesh_wide_rules_name(depot):
    mesh, _ = depot
    product = mesh.product("depot.deliveries")
    schema = resolve(product, mesh.root).schema
    taken = dataclasses.replace(schema, rules=(*schema.rules, rule("shipped_at")))
    with pytest.raises(ContractError, match=r"schema: 'happened_by_business_day' is the mesh-wide rule's name"):
        check(product, taken)
    check(product, schema)


@pytest.mark.parametrize(("planned", "message"), [
    ("[ordered_on]", r"planned: 'ordered_on' is the partition column, the business day itself, which is never a plan"),
    ("[promised_on, promised_on]", r"planned: \['promised_on'\] named more than once"),
    ("[Promised On]", r"planned\.0: "),
])
def test_a_planned_declaration_that_cannot_hold_is_refused_when_the_contract_loads(planned, message):
    data = yaml.safe_load(textwrap.dedent(DEPOT["domains/depot/deliveries.yaml"]).replace(
        "planned: [promised_on]", f"planned: {planned}"))
    with pytest.raises(ContractError, match=r"domains/depot/deliveries\.yaml: " + message):
        parse_model(Contract, data, "domains/depot/deliveries.yaml")


def test_a_scaffolded_product_inherits_the_planned_dates_it_passes_through(tmp_path):
    root = project(tmp_path)
    new_product(root, "sales", "shipped_lines", ["sales.order_lines"],
                description="Order lines as the warehouse ships them, for the warehouse team.")
    contract = yaml.safe_load((root / "domains" / "sales" / "shipped_lines.yaml").read_text())
    assert contract["planned"] == ["ship_date", "commit_date", "receipt_date"]
    mesh = load_mesh(root)
    lines = mesh.product("sales.order_lines")
    schema = resolve(lines, mesh.root).schema  # the scaffold's model has the input's columns
    assert business_day_rule(mesh.product("sales.shipped_lines"), schema).columns == ()
    assert business_day_rule(with_planned(lines, []), schema).columns == ("ship_date", "commit_date", "receipt_date")
