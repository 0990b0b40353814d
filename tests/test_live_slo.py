"""SLOs across code locations, live: the Dagster daemon (`dagster-daemon run`) on a real instance.

A product that stops updating breaches its freshness SLO and recovers when it updates; a consumer in
another code location runs after its upstream publishes and waits after a failed blocking check;
every incident reaches the outbox exactly once, also across a daemon restart.

Nothing here needs the webserver, so only the daemon runs, as in production, on a workspace of the
two locations involved (customer and sales). The sensors tick every 5 s instead of 30
(``MESH_SENSOR_INTERVAL_SECONDS``, as fast as Dagster's sensor daemon evaluates them): the waits poll
every second, and what waits for the same ticks waits once.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.dagster_run import RunsFilter

from mesh.contracts.registry import load_mesh
from tests.conftest import ERP_DOMAINS, ROOT, MeshEnv
from tests.servers import dagster, write_workspace

pytestmark = pytest.mark.slow

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
OLD = YESTERDAY - timedelta(days=10)
SOURCES = dg.AssetSelection.assets(["customer", "customers"], ["sales", "orders"], ["sales", "order_lines"])
FROM_AUTOMATION = {"dagster/from_automation_condition": "true"}
FOLLOWED = {("sales.orders", "freshness"), ("customer.customers", "freshness"), ("sales.pricing_summary", "freshness")}
# The freshness daemon evaluates every 5 s instead of 30 (an environment variable Dagster's daemon reads):
# a recovery waits for its verdict. The mesh's sensors (automation, SLO monitor) tick every 5 s too.
FAST_DAEMONS = {"FRESHNESS_DAEMON_INTERVAL_SECONDS": "5", "MESH_SENSOR_INTERVAL_SECONDS": "5"}


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def wait_for(condition, timeout: float, what: str, every: float = 1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def outbox(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ticks_since(instance: dg.DagsterInstance, sensor: str, since: float) -> int:
    """Ticks of a sensor (by name) after a moment that evaluated it without an error."""
    done = [TickStatus.SUCCESS, TickStatus.SKIPPED]
    return sum(len(instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since, statuses=done))
               for state in instance.all_instigator_state() if state.instigator_name == sensor)


def freshness_reported(instance: dg.DagsterInstance, product: str) -> float:
    """When the SLO monitor last reported a product's partition_freshness check (it does when the state changes)."""
    key = dg.AssetCheckKey(dg.AssetKey(product.split(".")), "partition_freshness")
    return instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0].event.timestamp


def automation_runs(instance: dg.DagsterInstance, asset: list[str], since: datetime) -> list[str]:
    """Ids of the runs of an asset that automation launched after a moment, oldest first."""
    records = instance.get_run_records(RunsFilter(tags=FROM_AUTOMATION, created_after=since), ascending=True)
    return [r.dagster_run.run_id for r in records if dg.AssetKey(asset) in (r.dagster_run.asset_selection or set())]


def succeeded(instance: dg.DagsterInstance, asset: list[str], since: datetime) -> list[str]:
    """Ids of those runs that succeeded."""
    run_ids = automation_runs(instance, asset, since)
    status = {r.run_id: r.status for r in instance.get_runs(RunsFilter(run_ids=run_ids))} if run_ids else {}
    return [i for i in run_ids if status[i] == dg.DagsterRunStatus.SUCCESS]


def alerted(box: Path, status: str) -> set[tuple[str, str]]:
    """(product, kind) of the notifications in the outbox with this status."""
    return {(n["product"], n["kind"]) for n in outbox(box) if n["status"] == status}


def test_freshness_automation_and_alerts_across_locations(tmp_path, erp_root):
    operational = tmp_path / "operational"
    for feed in ("customers", "orders", "lineitems"):
        (operational / "erp" / feed).mkdir(parents=True)
        for day in days(OLD, YESTERDAY):
            shutil.copy(erp_root / "erp" / feed / f"{day}.csv", operational / "erp" / feed / f"{day}.csv")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    serve = tmp_path / "serve"
    write_workspace(serve, ROOT, ERP_DOMAINS)  # the two locations the products live in, not all seven
    box = tmp_path / "outbox.jsonl"
    env = {"DAGSTER_HOME": str(home), "MESH_STORAGE_URI": str(tmp_path / "products"),
           "MESH_OPERATIONAL_ROOT": str(operational), "MESH_ALERT_OUTBOX": str(box), **FAST_DAEMONS}
    mesh_env = MeshEnv(tmp_path / "products", operational)
    # the customer master's history before, which sales reads as of each day (lake only), then the
    # last day both domains published, ten days ago
    start = load_mesh().domains["customer"].snapshots.start
    history = MeshEnv(tmp_path / "products", erp_root).run("customer.customers", start.isoformat(),
                                                            (OLD - timedelta(days=1)).isoformat())
    assert all(v.published for v in history.verdicts.values())
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    assert mesh_env.materialize(OLD.isoformat(), domains=ERP_DOMAINS, instance=instance).success

    with dagster(serve, env, command="daemon"):
        # 1. the products stopped updating ten days ago: freshness breaches, one alert each
        wait_for(lambda: alerted(box, "breached") >= FOLLOWED, 150, "freshness breaches in the outbox")
        record = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "partition_freshness"), limit=1)[0]
        assert not record.evaluation.passed and "is not published" in record.evaluation.description

        # 2. upstream catches up: the consumer in the sales location follows customer.customers
        published = datetime.now(UTC)
        assert mesh_env.materialize((OLD + timedelta(days=1)).isoformat(), YESTERDAY.isoformat(),
                                    selection=SOURCES, instance=instance, domains=ERP_DOMAINS).success
        revenue_runs = wait_for(lambda: succeeded(instance, ["sales", "customer_revenue"], published), 180,
                                "customer_revenue launched by automation")
        wait_for(lambda: succeeded(instance, ["sales", "pricing_summary"], published), 120,
                 "pricing_summary launched by automation")
        wait_for(lambda: alerted(box, "recovered") >= FOLLOWED, 150, "freshness recoveries in the outbox")

        # 3. a delivery breaks customer.customers' blocking error-rate check: the consumer waits
        broken_day = (YESTERDAY - timedelta(days=2)).isoformat()
        feed = operational / "erp" / "customers" / f"{broken_day}.csv"
        feed.write_text(feed.read_text() + "".join(f"{9000 + i},not,enough,fields\n" for i in range(30)))
        result = mesh_env.materialize(broken_day, YESTERDAY.isoformat(), instance=instance, raise_on_error=False,
                                      selection=dg.AssetSelection.assets(["customer", "customers"]),
                                      domains=ERP_DOMAINS)
        assert not result.success
        failed = time.time()
        wait_for(lambda: any(n["product"] == "customer.customers" and n["kind"] == "error_rate"
                             for n in outbox(box)), 120, "the error-rate alert")
        sent = outbox(box)

    # 4. the daemon restarts and resumes from the cursors: each
    # monitor evaluates again with the error-rate incident open, reports no freshness state again and
    # alerts nothing new (the outbox would refuse a repeated id anyway); the sales location's
    # automation evaluates twice after the failure, once after the restart, and launches nothing
    restarted = time.time()
    with dagster(serve, env, command="daemon"):
        wait_for(lambda: all(ticks_since(instance, f"{domain}_slo_monitor", restarted) >= 1 for domain in ERP_DOMAINS)
                 and ticks_since(instance, "sales_automation", restarted) >= 1
                 and ticks_since(instance, "sales_automation", failed) >= 2,
                 180, "a tick of each SLO monitor and of the sales automation after the restart")
    again = sorted(p for p, _ in FOLLOWED if freshness_reported(instance, p) >= restarted)
    assert not again, f"the monitors did not resume from their cursors: reported {again} again"
    assert automation_runs(instance, ["sales", "customer_revenue"], published) == revenue_runs
    evaluations = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["customer", "customers"]), "error_rate"))
    assert not evaluations.evaluation.passed
    after = outbox(box)
    counts = Counter((n["product"], n["kind"], n["status"]) for n in after)
    assert all(count == 1 for count in counts.values()), counts
    assert len({n["id"] for n in after}) == len(after)
    assert [n for n in after if n not in sent] == [n for n in after[len(sent):]]  # only new incidents appended
