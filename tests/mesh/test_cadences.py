"""Hourly and weekly cadences end to end, on two test domains of their own (the example mesh is daily).

For each: partition keys, feed files per partition, publishing through Dagster with a consumer product,
the snapshot schedule's request, the freshness deadline (Dagster's policy and the partition-aware
check) and the mesh's own freshness evaluation around the deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mesh.contracts.names import Address
from mesh.contracts.partitions import partitions_def
from mesh.orchestration.compile import freshness_policy
from mesh.quality.freshness import evaluate
from tests.conftest import small_mesh

METER, LEDGER = "meter", "ledger"
HOURS = [f"2026-11-28-{h:02d}:00" for h in range(6)]
WEEKS = ["2026-11-04", "2026-11-11", "2026-11-18"]  # the start date, 2026-11-04, is a Wednesday

FILES = {
    "domains/meter/domain.yaml": """\
        name: meter
        description: Smart meter readings, hour by hour.
        owner: team:meter
        snapshots: {cadence: hourly, at: "00:20", timezone: UTC, start: "2026-11-28"}
        """,
    "domains/meter/readings.yaml": """\
        name: readings
        description: Every meter reading, in the hour it was taken.
        kind: source-aligned
        version: 1.0.0
        access: public
        function: cadence_code:readings
        schema: cadence_code:Readings
        sources:
          raw: {system: meter, feed: readings, format: csv, event_date: read_at,
                columns: {reading_id: bigint, read_at: timestamp, kwh: double}}
        partitioning: {column: read_at}
        primary_key: [reading_id]
        slo:
          freshness: {deadline: "00:20", timezone: UTC}
          error_rate: {max: 0.0}
        """,
    "domains/meter/hourly_usage.yaml": """\
        name: hourly_usage
        description: Energy used per hour, from the readings.
        kind: consumer-aligned
        version: 1.0.0
        access: public
        function: cadence_code:hourly_usage
        schema: cadence_code:HourlyUsage
        inputs: {readings: meter.readings}
        partitioning: {column: hour}
        primary_key: [hour]
        slo:
          freshness: {max_age: 3h}
        """,
    "domains/ledger/domain.yaml": """\
        name: ledger
        description: The weekly ledger, booked Wednesday to Tuesday.
        owner: team:ledger
        snapshots: {cadence: weekly, at: "01:00", timezone: UTC, start: "2026-11-04"}
        """,
    "domains/ledger/entries.yaml": """\
        name: entries
        description: Ledger entries, in the week they were booked.
        kind: source-aligned
        version: 1.0.0
        access: public
        function: cadence_code:entries
        schema: cadence_code:Entries
        sources:
          raw: {system: ledger, feed: entries, format: csv, event_date: booked_on,
                columns: {entry_id: bigint, booked_on: date, amount: double}}
        partitioning: {column: booked_on}
        primary_key: [entry_id]
        slo:
          freshness: {deadline: "06:00", timezone: UTC}
        """,
    "cadence_code.py": '''\
        import pandas as pd
        import pandera.pandas as pa
        from pandera.typing import Series

        from mesh.types import Date


        def readings(raw: pd.DataFrame) -> pd.DataFrame:
            return raw


        def hourly_usage(readings: pd.DataFrame) -> pd.DataFrame:
            hours = readings["read_at"].dt.floor("h")
            return (readings.assign(hour=hours).groupby("hour", as_index=False)
                    .agg(kwh=("kwh", "sum"), readings=("reading_id", "count")))


        def entries(raw: pd.DataFrame) -> pd.DataFrame:
            return raw


        class Readings(pa.DataFrameModel):
            reading_id: Series[int] = pa.Field(gt=0, description="reading")
            read_at: Series[pd.Timestamp] = pa.Field(description="when the meter was read")
            kwh: Series[float] = pa.Field(ge=0, description="energy since the last reading")


        class HourlyUsage(pa.DataFrameModel):
            hour: Series[pd.Timestamp] = pa.Field(description="the hour")
            kwh: Series[float] = pa.Field(ge=0, description="energy used in the hour")
            readings: Series[int] = pa.Field(gt=0, description="readings taken")


        class Entries(pa.DataFrameModel):
            entry_id: Series[int] = pa.Field(gt=0, description="entry")
            booked_on: Series[Date] = pa.Field(description="booking day")
            amount: Series[float] = pa.Field(description="amount booked")
        ''',
}


def write_feeds(operational: Path) -> None:
    """Four readings an hour (one file per hour, named by its key); a week of entries per weekly file."""
    reading = 0
    for key in HOURS:
        start = datetime.strptime(key, "%Y-%m-%d-%H:%M")
        rows = []
        for quarter in range(4):
            reading += 1
            rows.append(f"{reading},{start.replace(minute=15 * quarter):%Y-%m-%d %H:%M:%S},{0.25 * quarter + 0.5}")
        path = operational / "meter" / "readings" / f"{key.replace(':', '')}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("reading_id,read_at,kwh\n" + "\n".join(rows) + "\n")
    entry = 0
    for key in WEEKS:
        days = pd.date_range(key, periods=7, freq="D")
        rows = []
        for day in days:
            entry += 1
            rows.append(f"{entry},{day.date()},{entry * 10.0}")
        path = operational / "ledger" / "entries" / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("entry_id,booked_on,amount\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def cadences(tmp_path_factory):
    root = tmp_path_factory.mktemp("cadences")
    write_feeds(root / "operational")
    return small_mesh(root, FILES)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_partition_keys_follow_the_cadence(cadences):
    mesh, _ = cadences
    hourly = partitions_def(mesh.domains[METER]).get_partition_keys(current_time=moment("2026-11-28T06:00"))
    assert hourly == HOURS
    weekly = partitions_def(mesh.domains[LEDGER]).get_partition_keys(current_time=moment("2026-11-25T00:00"))
    assert weekly == WEEKS  # weeks begin on the start date's weekday; the week of the 25th is not over


def test_hourly_products_publish_each_hour_and_the_consumer_follows(cadences):
    mesh, env = cadences
    result = env.materialize(HOURS[0], HOURS[-1], domains=[METER], mesh=mesh)
    assert result.success
    port = env.port(mesh=mesh)
    readings = port.read("meter.readings")
    assert len(readings) == 4 * len(HOURS) and port.read("meter.readings__quarantine").empty
    assert port.lake.published(Address.parse("meter.readings"), 1).keys() == HOURS
    usage = port.read("meter.hourly_usage").sort_values("hour")
    assert usage["readings"].tolist() == [4] * len(HOURS) and usage["kwh"].tolist() == [3.5] * len(HOURS)
    assert port.lake.published(Address.parse("meter.hourly_usage"), 1).keys() == HOURS


def test_weekly_products_publish_each_week(cadences):
    mesh, env = cadences
    assert env.materialize(WEEKS[0], WEEKS[-1], domains=[LEDGER], mesh=mesh).success
    port = env.port(mesh=mesh)
    entries = port.read("ledger.entries")
    assert len(entries) == 7 * len(WEEKS)
    assert port.lake.published(Address.parse("ledger.entries"), 1).keys() == WEEKS
    by_week = port.sql("SELECT min(booked_on) AS first, max(booked_on) AS last FROM ledger.entries "
                       "GROUP BY date_trunc('week', booked_on - INTERVAL 2 DAY) ORDER BY first").to_pylist()
    assert [(str(w["first"]), str(w["last"])) for w in by_week] == [
        ("2026-11-04", "2026-11-10"), ("2026-11-11", "2026-11-17"), ("2026-11-18", "2026-11-24")]


def schedule_request(mesh, domain: str, when: str) -> dg.RunRequest:
    from mesh.orchestration.definitions import build_domain

    schedule = build_domain(domain, mesh).resolve_schedule_def(f"{domain}_snapshot_schedule")
    with dg.build_schedule_context(scheduled_execution_time=moment(when)) as context:
        return schedule.evaluate_tick(context).run_requests[0]


def test_schedules_request_the_newest_complete_period(cadences):
    mesh, _ = cadences
    assert mesh.domains[METER].snapshots.cron_schedule == "20 * * * *"
    assert mesh.domains[LEDGER].snapshots.cron_schedule == "0 1 * * 3"  # Wednesdays, when a week ends
    hourly = schedule_request(mesh, METER, "2026-11-28T06:20")
    assert hourly.tags["dagster/asset_partition_range_end"] == "2026-11-28-05:00"
    weekly = schedule_request(mesh, LEDGER, "2026-11-25T01:00")
    assert weekly.tags["dagster/asset_partition_range_end"] == "2026-11-18"


def test_freshness_deadlines_fall_when_the_period_ends(cadences):
    mesh, env = cadences
    readings, entries = mesh.product("meter.readings"), mesh.product("ledger.entries")
    assert freshness_policy(readings).deadline_cron == "20 * * * *"
    assert freshness_policy(entries).deadline_cron == "0 6 * * 3"  # the week ends on a Wednesday
    lake = env.port(mesh=mesh).lake
    published = lake.published(readings.address, 1)
    if published is None:  # this test may run alone
        assert env.materialize(HOURS[0], HOURS[-1], domains=[METER], mesh=mesh).success
        published = lake.published(readings.address, 1)
    before = evaluate(readings, published, moment("2026-11-28T06:19"))  # hour 05 not due until 06:20
    assert (before.state, before.newest_expected) == ("PASS", "2026-11-28-04:00")
    due = evaluate(readings, published, moment("2026-11-28T06:21"))
    assert (due.state, due.newest_expected) == ("PASS", "2026-11-28-05:00")
    late = evaluate(readings, published, moment("2026-11-28T07:21"))
    assert (late.state, late.newest_expected) == ("FAIL", "2026-11-28-06:00") and "is not published" in late.detail
    weeks = lake.published(entries.address, 1)
    if weeks is None:
        assert env.materialize(WEEKS[0], WEEKS[-1], domains=[LEDGER], mesh=mesh).success
        weeks = lake.published(entries.address, 1)
    on_time = evaluate(entries, weeks, moment("2026-11-25T05:59"))
    assert (on_time.state, on_time.newest_expected) == ("PASS", "2026-11-11")
    overdue = evaluate(entries, weeks, moment("2026-12-02T06:01"))
    assert (overdue.state, overdue.newest_expected) == ("FAIL", "2026-11-25")
    assert evaluate(entries, weeks, moment("2026-12-02T05:59")).newest_expected == "2026-11-18"
