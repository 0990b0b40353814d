"""Attacking happened_by_business_day with text dates, and planned declarations that name no date.

A feed may send its dates as text. What the model declares decides: a column the model declares a
date or timestamp is coerced cell by cell first, then judged like any date (a future text date is
quarantined, text that is no date is quarantined by ``structure``; a planned one is published
unjudged); a column the model declares text is text, published as sent, never read as a date. A
``planned`` entry naming text, a number or no column of the model is refused when definitions load
and by ``mesh lint``, naming the contract, the field and the column.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from mesh.contracts.contract import Contract
from mesh.errors import ContractError
from mesh.orchestration.compile import compile_product
from mesh.quality.business_day import NAME
from mesh.quality.code import resolve
from mesh.quality.rules import STRUCTURE
from tests.conftest import small_mesh

DEPOT = {
    "domains/depot/domain.yaml": """\
        name: depot
        description: The depot's deliveries, day by day.
        owner: team:depot
        snapshots: {cadence: daily, at: "01:00", timezone: Europe/Paris, start: "2026-11-01"}
        """,
    "domains/depot/deliveries.yaml": """\
        name: deliveries
        description: Every delivery, in the partition of the day it was ordered; the feed sends dates as text.
        kind: source-aligned
        version: 1.0.0
        access: public
        function: text_dates_code:deliveries
        schema: text_dates_code:Deliveries
        sources:
          raw: {system: depot, feed: deliveries, format: csv, event_date: ordered_on,
                columns: {delivery_id: bigint, ordered_on: date, promised_on: varchar, shipped_at: varchar,
                          delivered_on: varchar, remark: varchar, crates: integer}}
        partitioning: {column: ordered_on}
        primary_key: [delivery_id]
        planned: [promised_on]
        slo:
          error_rate: {max: 0.9}
        """,
    "text_dates_code.py": '''\
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
            remark: Series[str] = pa.Field(nullable=True, description="the driver's free text")
            crates: Series[pa.Int32] = pa.Field(description="crates delivered")
        ''',
}
HEADER = "delivery_id,ordered_on,promised_on,shipped_at,delivered_on,remark,crates"
FEED = {
    "2026-11-02": [
        "1,2026-11-02,2027-01-01,2026-11-02 09:30:00,2026-11-02,,1",  # a text plan next year: not judged
        "2,2026-11-02,2026-11-04,2026-11-02 10:00:00,2026-11-05,,2",  # delivered (as text) after its day
        "3,2026-11-02,2026-11-04,2026-11-03T00:00:00,,,3",  # shipped (ISO text) at the next day's midnight
        "4,2026-11-02,2026-11-04,2026-11-02 11:00:00,tomorrow,,4",  # no date at all: structure's
        "5,2026-11-02,2026-11-04,,,2027-03-01,5",  # text that looks like a future date, in a text column
        "6,2026-11-02,someday,,,,6",  # a plan that is no date: structure's, though planned
        "8,2026-11-02,today,2026-11-02 12:00:00,,,8",  # pandas reads these as the wall clock: no date either
        "9,2026-11-02,2026-11-04,now,,,9",
    ],
    "2026-11-03": ["7,2026-11-03,2026-11-04,2026-11-03 23:59:59,2026-11-03,deliver 2026-12-24,7"],
}
AFTER = "it had not happened by then (a plan or an expectation is listed under the contract's 'planned')"


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-dates")
    mesh, env = small_mesh(root, DEPOT, {f"depot/deliveries/{day}.csv": HEADER + "\n" + "\n".join(rows) + "\n"
                                         for day, rows in FEED.items()})
    return root, mesh, env


def test_text_dates_are_judged_as_the_model_declares_them_and_every_row_is_accounted_for(depot):
    _, mesh, env = depot
    report = env.run("depot.deliveries", "2026-11-02", "2026-11-03", mesh=mesh)
    assert report.published == ["2026-11-02", "2026-11-03"]
    for day, rows in FEED.items():  # rows read = rows published + rows quarantined
        verdict = report.verdicts[day]
        assert verdict.rows_in == len(rows) == verdict.rows_published + verdict.rows_quarantined, day

    port = env.port(mesh=mesh)
    published = port.read("depot.deliveries").sort_values("delivery_id")
    assert published["delivery_id"].tolist() == [1, 5, 7]
    one, five, seven = published.to_dict("records")
    assert str(one["promised_on"]) == "2027-01-01"  # a plan sent as text, coerced to a date, not judged
    assert five["remark"] == "2027-03-01" and seven["remark"] == "deliver 2026-12-24"  # text stays text

    held = port.read("depot.deliveries__quarantine")
    assert len(held) == len(set(held["record"])) == 6  # each failing row held once
    entries = {json.loads(r["record"])["delivery_id"]: r for r in held.to_dict("records")}
    assert sorted(entries) == [2, 3, 4, 6, 8, 9] and {e["partition"] for e in entries.values()} == {"2026-11-02"}
    assert (entries[2]["rule"], entries[2]["column"], entries[2]["value"]) == (NAME, "delivered_on", "2026-11-05")
    assert entries[2]["reason"] == f"delivered_on 2026-11-05 is after its business day 2026-11-02: {AFTER}"
    assert (entries[3]["rule"], entries[3]["column"], entries[3]["value"]) == (NAME, "shipped_at",
                                                                               "2026-11-03T00:00:00")
    for key, column, text, line in ((4, "delivered_on", "tomorrow", 5), (6, "promised_on", "someday", 7),
                                    (8, "promised_on", "today", 8), (9, "shipped_at", "now", 9)):
        entry = entries[key]  # what, where and why: the text the feed sent, its column, its file and line
        kind = "timestamp" if column == "shipped_at" else "date"
        assert (entry["rule"], entry["column"], entry["value"]) == (STRUCTURE, column, text), entry
        assert entry["reason"] == f"value is not a valid {kind}" and json.loads(entry["record"])[column] == text
        assert entry["source_file"].endswith("deliveries/2026-11-02.csv") and entry["source_line"] == line
    assert json.loads(entries[6]["record"])["shipped_at"] is None  # a null is null, not "NaT"


def with_planned(product, planned: list[str]):
    data = {**product.contract.model_dump(by_alias=True, exclude={"planned"}), "planned": planned}
    return dataclasses.replace(product, contract=Contract.model_validate(data))


HINT = "declare it a Date or pd.Timestamp in Deliveries"
REFUSED = [
    (["promised_on", "remark"], rf"planned: depot\.deliveries\.remark is of type string: only date and timestamp "
                                rf"columns can be planned \(text dates are text to the mesh: {HINT}\)"),
    (["crates"], rf"planned: depot\.deliveries\.crates is of type integer: only date and timestamp columns can be "
                 rf"planned \({HINT}\)"),
    (["promised"], r"planned: depot\.deliveries has no column 'promised' \(expected a date or timestamp column of "
                   r"Deliveries\)"),
]


@pytest.mark.parametrize(("planned", "message"), REFUSED)
def test_a_planned_column_holding_text_a_number_or_nothing_is_refused_when_definitions_load(depot, planned, message):
    _, mesh, _ = depot
    product = with_planned(mesh.product("depot.deliveries"), planned)
    with pytest.raises(ContractError, match=r"^domains/depot/deliveries\.yaml: " + message + "$"):
        compile_product(mesh, product, resolve(product, mesh.root))


def test_mesh_lint_refuses_what_definitions_refuse(depot, tmp_path):
    root, _, _ = depot
    project = tmp_path / "project"
    subprocess.run(["cp", "-r", str(root / "project"), str(project)], check=True)
    contract = project / "domains" / "depot" / "deliveries.yaml"
    contract.write_text(contract.read_text().replace("planned: [promised_on]", "planned: [promised_on, remark]"))
    env = {**os.environ, "MESH_PROJECT_DIR": str(project), "PYTHONPATH": str(project),
           "MESH_WORK_DIR": str(tmp_path / "work")}
    done = subprocess.run([str(Path(os.sys.executable).parent / "mesh"), "lint"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("ERROR   [rules_bind] depot.deliveries: domains/depot/deliveries.yaml: planned: depot.deliveries.remark "
            "is of type string") in done.stdout, done.stdout
