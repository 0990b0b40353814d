"""SLOs across code locations, live: `dagster dev` (webserver + daemon) on a real instance.

A product that stops updating breaches its freshness SLO and recovers when it updates; a consumer in
another code location runs after its upstream publishes and waits after a failed blocking check;
every incident reaches the outbox exactly once, also across a daemon restart.
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

from tests.conftest import ERP_DOMAINS, ROOT, MeshEnv
from tests.servers import dagster

pytestmark = pytest.mark.slow

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
OLD = YESTERDAY - timedelta(days=10)
SOURCES = dg.AssetSelection.assets(["customer", "customers"], ["sales", "orders"], ["sales", "order_lines"])
FROM_AUTOMATION = {"dagster/from_automation_condition": "true"}


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def wait_for(condition, timeout: float, what: str, every: float = 3):
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
    """Completed ticks of a sensor (by name) after a moment: proof that the daemon evaluated it."""
    done = [TickStatus.SUCCESS, TickStatus.SKIPPED, TickStatus.FAILURE]
    return sum(len(instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since, statuses=done))
               for state in instance.all_instigator_state() if state.instigator_name == sensor)


def automation_runs(instance: dg.DagsterInstance, asset: list[str]) -> list:
    runs = instance.get_runs(RunsFilter(tags=FROM_AUTOMATION))
    return [r for r in runs if dg.AssetKey(asset) in (r.asset_selection or set())]


def test_freshness_automation_and_alerts_across_locations(tmp_path, erp_root):
    operational = tmp_path / "operational"
    for feed in ("customers", "orders", "lineitems"):
        (operational / "erp" / feed).mkdir(parents=True)
        for day in [OLD.isoformat(), *days(YESTERDAY - timedelta(days=2), YESTERDAY)]:
            shutil.copy(erp_root / "erp" / feed / f"{day}.csv", operational / "erp" / feed / f"{day}.csv")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    box = tmp_path / "outbox.jsonl"
    env = {"DAGSTER_HOME": str(home), "MESH_STORAGE_URI": str(tmp_path / "products"),
           "MESH_OPERATIONAL_ROOT": str(operational), "MESH_ALERT_OUTBOX": str(box)}
    mesh_env = MeshEnv(tmp_path / "products", operational)
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    assert mesh_env.materialize(OLD.isoformat(), domains=ERP_DOMAINS, instance=instance).success

    with dagster(ROOT, env, command="dev", expect_locations=3) as server:
        # 1. the products stopped updating ten days ago: freshness breaches, one alert each
        def breached():
            kinds = {(n["product"], n["kind"]) for n in outbox(box) if n["status"] == "breached"}
            wanted = {("sales.orders", "freshness"), ("customer.customers", "freshness"),
                      ("sales.pricing_summary", "freshness")}
            return wanted <= kinds
        wait_for(breached, 150, "freshness breaches in the outbox")
        record = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "partition_freshness"), limit=1)[0]
        assert not record.evaluation.passed and "is not published" in record.evaluation.description

        # 2. upstream publishes: the consumer in the sales location follows customer.customers
        assert mesh_env.materialize((YESTERDAY - timedelta(days=1)).isoformat(), YESTERDAY.isoformat(),
                                    selection=SOURCES, instance=instance, domains=ERP_DOMAINS).success
        revenue_runs = wait_for(lambda: [r for r in automation_runs(instance, ["sales", "customer_revenue"])
                                         if r.status == dg.DagsterRunStatus.SUCCESS], 180,
                                "customer_revenue launched by automation")
        wait_for(lambda: [r for r in automation_runs(instance, ["sales", "pricing_summary"])
                          if r.status == dg.DagsterRunStatus.SUCCESS], 120, "pricing_summary launched by automation")

        def recovered():
            done = {(n["product"], n["kind"]) for n in outbox(box) if n["status"] == "recovered"}
            return {("sales.orders", "freshness"), ("customer.customers", "freshness"),
                    ("sales.pricing_summary", "freshness")} <= done
        wait_for(recovered, 150, "freshness recoveries in the outbox")

        # 3. a delivery breaks customer.customers' blocking error-rate check: the consumer waits
        broken_day = (YESTERDAY - timedelta(days=2)).isoformat()
        feed = operational / "erp" / "customers" / f"{broken_day}.csv"
        feed.write_text(feed.read_text() + "".join(f"{9000 + i},not,enough,fields\n" for i in range(30)))
        result = mesh_env.materialize(broken_day, YESTERDAY.isoformat(), instance=instance, raise_on_error=False,
                                      selection=dg.AssetSelection.assets(["customer", "customers"]),
                                      domains=ERP_DOMAINS)
        assert not result.success
        wait_for(lambda: any(n["product"] == "customer.customers" and n["kind"] == "error_rate"
                             for n in outbox(box)), 120, "the error-rate alert")
        since = time.time()  # the sales location's automation evaluates twice more and launches nothing
        wait_for(lambda: ticks_since(instance, "sales_automation", since) >= 2, 180, "two automation ticks")
        assert len(automation_runs(instance, ["sales", "customer_revenue"])) == len(revenue_runs)
        evaluations = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey(["customer", "customers"]), "error_rate"))
        assert not evaluations.evaluation.passed
        sent = outbox(box)
        server.process.terminate()

    # 4. a daemon restart resumes from the cursor: no notification is sent twice
    restarted = time.time()
    with dagster(ROOT, env, command="dev", expect_locations=3):  # the monitors tick again, alerting nothing new
        wait_for(lambda: all(ticks_since(instance, f"{domain}_slo_monitor", restarted) >= 2
                             for domain in ERP_DOMAINS), 180, "two ticks of each SLO monitor after the restart")
    after = outbox(box)
    counts = Counter((n["product"], n["kind"], n["status"]) for n in after)
    assert all(count == 1 for count in counts.values()), counts
    assert len({n["id"] for n in after}) == len(after)
    assert [n for n in after if n not in sent] == [n for n in after[len(sent):]]  # only new incidents appended
