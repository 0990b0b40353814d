"""SLOs between runs: partition freshness, incidents and alerts, snapshot schedules."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from mesh.contracts.contract import Freshness
from mesh.contracts.names import Address
from mesh.contracts.registry import load_mesh
from mesh.orchestration.alerts import AlertsResource, Breach, OutboxNotifier, WebhookNotifier, track
from mesh.orchestration.snapshots import snapshot_job, snapshot_schedule
from mesh.quality.freshness import evaluate
from mesh.storage.lake import PartitionState, Published


def manifest(*keys: str, published_at: str = "2026-11-25T03:00:00+00:00") -> Published:
    entry = PartitionState(1, 1, 0, "run", published_at)
    return Published(Address("sales", "orders"), 1, [("order_id", "BIGINT")], {k: entry for k in keys})


def with_freshness(address: str, **slo):
    mesh = load_mesh()
    product = mesh.product(address)
    contract = product.contract
    changed = contract.model_copy(update={"slo": contract.slo.model_copy(update={"freshness": Freshness(**slo)})})
    return type(product)(product.domain, changed, product.file)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_deadline_slo_expects_yesterday_after_six():
    orders = load_mesh().product("sales.orders")  # deadline 06:00 UTC
    before = evaluate(orders, manifest("2026-11-23"), at("2026-11-25T05:59"))
    assert before.state == "PASS" and before.newest_expected == "2026-11-23"
    after = evaluate(orders, manifest("2026-11-23"), at("2026-11-25T06:01"))
    assert after.state == "FAIL" and after.newest_expected == "2026-11-24"
    assert "partition 2026-11-24 was due by 06:00 UTC" in after.detail
    assert evaluate(orders, manifest("2026-11-23", "2026-11-24"), at("2026-11-25T06:01")).state == "PASS"


def test_max_age_slo_warns_then_fails():
    product = with_freshness("sales.pricing_summary", max_age="30h", warn_age="26h")
    assert evaluate(product, manifest("2026-11-24"), at("2026-11-25T12:00")).state == "PASS"  # ended 12h ago
    assert evaluate(product, manifest("2026-11-23"), at("2026-11-25T03:00")).state == "WARN"  # 27h
    failed = evaluate(product, manifest("2026-11-23"), at("2026-11-25T07:00"))  # 31h
    assert failed.state == "FAIL" and "1d7h" in failed.detail
    assert evaluate(product, None, at("2026-11-25T07:00")).state == "FAIL"


def test_unpartitioned_product_age():
    product = load_mesh().product("sales.customer_revenue")  # max_age 30h
    snapshot = manifest("all", published_at="2026-11-24T01:00:00+00:00")
    assert evaluate(product, snapshot, at("2026-11-24T20:00")).state == "PASS"
    assert evaluate(product, snapshot, at("2026-11-25T08:00")).state == "FAIL"


def breach(kind="freshness", evidence="2026-11-24") -> Breach:
    return Breach("sales.orders", "team:sales", kind, evidence, "partition missing")


def test_one_notification_per_incident_and_one_on_recovery():
    incidents, notes = track({}, [breach()])
    assert [n.status for n in notes] == ["breached"]
    incidents, notes = track(incidents, [breach(evidence="2026-11-25")])  # still breached a day later
    assert notes == []
    incidents, notes = track(incidents, [])
    assert [n.status for n in notes] == ["recovered"] and incidents == {}
    assert notes[0].id.endswith("|recovered")


def test_outbox_never_writes_an_id_twice(tmp_path):
    outbox = OutboxNotifier(tmp_path / "outbox.jsonl")
    _, notes = track({}, [breach(), breach("error_rate", "run-1")])
    assert [outbox.send(n) for n in notes] == [True, True]
    assert [outbox.send(n) for n in notes] == [False, False]  # a restart re-sending the same incidents
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["freshness", "error_rate"]


def test_webhook_receives_notifications(tmp_path):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        alerts = AlertsResource(outbox=str(tmp_path / "o.jsonl"), webhook_url=f"http://127.0.0.1:{server.server_port}/")
        _, notes = track({}, [breach()])
        assert alerts.deliver(notes) == 2
        assert received[0]["product"] == "sales.orders" and received[0]["status"] == "breached"
    finally:
        server.shutdown()
    with pytest.raises(RuntimeError, match=r"failed after 1 attempt\(s\) within"):
        WebhookNotifier(f"http://127.0.0.1:{server.server_port}/", attempts=1, timeout=1).send(notes[0])


def test_snapshot_schedule_requests_the_newest_partition():
    mesh = load_mesh()
    job = snapshot_job(mesh, "sales")
    schedule = snapshot_schedule(mesh, "sales", job)
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-24"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-24"
    assert request.run_key == "sales:2026-11-24"


def test_snapshot_job_selects_source_aligned_products_only():
    from mesh.orchestration.definitions import build_domain

    sales = build_domain("sales")
    job = sales.resolve_job_def("sales_snapshot")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == {"sales/orders", "sales/order_lines"}
    assert sales.resolve_schedule_def("sales_snapshot_schedule").default_status == dg.DefaultScheduleStatus.RUNNING


def test_webhook_retries_only_transient_failures_within_its_budget():
    answers: list[int] = []
    script: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            code = script.pop(0)
            answers.append(code)
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    slept: list[float] = []
    note = track({}, [breach()])[1][0]
    try:
        script[:] = [400]  # a client error will not change: no retry
        with pytest.raises(RuntimeError, match=r"HTTP 400 .*not retried"):
            WebhookNotifier(url, sleep=slept.append).send(note)
        assert answers == [400] and slept == []

        answers.clear()
        script[:] = [500, 429, 200]  # transient: retried with backoff, then delivered
        assert WebhookNotifier(url, sleep=slept.append).send(note)
        assert answers == [500, 429, 200] and slept == [1.0, 2.0]

        answers.clear()
        slept.clear()
        script[:] = [503] * 10  # the budget bounds the waiting, whatever the attempts allow
        with pytest.raises(RuntimeError, match="HTTP 503"):
            WebhookNotifier(url, attempts=10, budget=2.5, sleep=slept.append).send(note)
        assert sum(slept) <= 2.5
    finally:
        server.shutdown()
