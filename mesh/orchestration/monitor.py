"""The SLO monitor: a sensor per domain that watches its products between runs.

Every tick it evaluates each product's partition freshness (reported as the ``partition_freshness``
check, runless, whenever the state changes), reads the freshness daemon's verdict and the latest
results of the blocking checks, and notifies owners through ``mesh.orchestration.alerts`` when an incident opens
or recovers. Its cursor, stored in the instance, holds the open incidents, so a daemon restart
resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import dagster as dg

from mesh.contracts.registry import Mesh, Product
from mesh.governance.review import latest_check_result
from mesh.orchestration.alerts import AlertsResource, Breach, track
from mesh.orchestration.environment import sensor_interval_seconds
from mesh.orchestration.keys import asset_key
from mesh.orchestration.resources import StorageResource
from mesh.quality import freshness

log = logging.getLogger(__name__)


def _daemon_state(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    try:
        record = instance.get_freshness_state_records([key]).get(key)
    except NotImplementedError:  # storage without freshness records: nothing to add
        return None
    except Exception as err:  # the instance is there but failing: say so, judge by the lake alone
        log.warning("freshness state of %s unavailable, judged from the lake alone: %s", key.to_user_string(), err)
        return None
    return record.freshness_state.value if record else None


def breaches_of(product: Product, instance: dg.DagsterInstance, status: freshness.FreshnessStatus,
                blocking_checks: list[str]) -> list[Breach]:
    address, owner, key = str(product.address), product.owner, asset_key(product)
    found = []
    daemon = _daemon_state(instance, key)
    if status.state == "FAIL" or daemon == "FAIL":
        evidence = status.newest_expected or status.newest_published or "snapshot"
        detail = status.detail if status.state == "FAIL" else "the freshness daemon reports FAIL"
        found.append(Breach(address, owner, "freshness", evidence, detail))
    for name in blocking_checks:
        record = latest_check_result(instance, dg.AssetCheckKey(key, name))
        evaluation = record.evaluation if record else None
        if evaluation is None or evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        kind = "error_rate" if name == "error_rate" else f"blocking_check:{name}"
        found.append(Breach(address, owner, kind, record.run_id or str(record.id),
                            evaluation.description or f"{name} failed"))
    return found


def monitor_sensor(mesh: Mesh, domain: str, blocking: dict[str, list[str]]) -> dg.SensorDefinition:
    products = mesh.in_domain(domain)

    @dg.sensor(name=f"{domain}_slo_monitor", minimum_interval_seconds=sensor_interval_seconds(),
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Freshness, blocking checks and error-rate SLOs of domain {domain}; alerts owners.")
    def _monitor(context: dg.SensorEvaluationContext, storage: StorageResource, alerts: AlertsResource):
        state = json.loads(context.cursor) if context.cursor else {}
        incidents, seen = state.get("incidents", {}), state.get("freshness", {})
        lake, now, breaches = storage.lake(), datetime.now(UTC), []
        published = lake.published_many([(p.address, p.contract.major) for p in products])
        for product in products:
            manifest = published[(product.address, product.contract.major)]
            status = freshness.evaluate(product, manifest, now)
            address = str(product.address)
            if product.contract.slo.freshness is not None and seen.get(address) != status.state:
                context.instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                    asset_key=asset_key(product), check_name=freshness.CHECK_NAME, **freshness.check_fields(status)))
                seen[address] = status.state
            breaches += breaches_of(product, context.instance, status, blocking.get(address, []))
        incidents, notes = track(incidents, breaches, now)
        sent = alerts.deliver(notes)
        context.update_cursor(json.dumps({"incidents": incidents, "freshness": seen}))
        return dg.SkipReason(f"{len(incidents)} open incident(s); {sent} notification(s) sent")

    return _monitor
