"""The mesh observing itself: its products' operational state as source feeds of system ``mesh``.

A product may read ``system: mesh`` feeds like any operational feed; they come from the Dagster
instance and the storage instead of files:

- ``product_status``: one row per product: newest partition, publication time, rows published and
  quarantined, partition freshness against its SLO, the freshness daemon's state;
- ``check_history``: the last results of every check of every product, newest first.

This is how the SLO scorecard is a data product like the others. Holds no scoring logic: that is
the scorecard's own transformation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from mesh.contracts.durations import format_duration
from mesh.contracts.registry import Mesh
from mesh.errors import MeshError
from mesh.governance.review import check_names
from mesh.orchestration.keys import asset_key
from mesh.quality import freshness
from mesh.storage.lake import Lake

SYSTEM = "mesh"
HISTORY_RUNS = 10


class Observer:
    def __init__(self, mesh: Mesh, instance: dg.DagsterInstance, lake: Lake, now: datetime | None = None):
        self.mesh, self.instance, self.lake = mesh, instance, lake
        self.now = now or datetime.now(UTC)

    def feed(self, name: str) -> pd.DataFrame:
        feeds = {"product_status": self.product_status, "check_history": self.check_history}
        if name not in feeds:
            raise MeshError(f"system 'mesh' has no feed {name!r}; it has {', '.join(feeds)}")
        return feeds[name]()

    def product_status(self) -> pd.DataFrame:
        rows = []
        products = sorted(self.mesh.products.items())
        published = self.lake.published_many([(a, p.contract.major) for a, p in products] +
                                             [(a.quarantined, p.contract.major) for a, p in products])
        for address, product in products:
            manifest = published[(address, product.contract.major)]
            quarantine = published[(address.quarantined, product.contract.major)]
            status = freshness.evaluate(product, manifest, self.now)
            keys = manifest.keys() if manifest else []
            slo = product.contract.slo.freshness
            rows.append({
                "product": str(address), "domain": address.domain, "owner": product.owner,
                "kind": product.contract.kind.value, "partitioned": product.partitioned,
                "newest_partition": keys[-1] if keys else None,
                "published_at": pd.Timestamp(manifest.updated_at) if manifest and manifest.updated_at else pd.NaT,
                "rows_published": manifest.rows if manifest else 0,
                "rows_quarantined": quarantine.rows if quarantine else 0,
                "freshness_slo": (None if slo is None else f"max age {format_duration(slo.max_age)}"
                                  if slo.max_age else f"by {slo.deadline} {slo.timezone}"),
                "freshness_state": status.state,
                "freshness_lag_hours": None if status.lag is None else round(status.lag.total_seconds() / 3600, 2),
                "freshness_detail": status.detail,
                "error_rate_max": product.contract.slo.error_rate.max,
            })
        return pd.DataFrame(rows)

    def check_history(self) -> pd.DataFrame:
        from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

        rows = []
        for address, product in sorted(self.mesh.products.items()):
            key = asset_key(product)
            for name in check_names(product, self.mesh):
                records = self.instance.event_log_storage.get_asset_check_execution_history(
                    dg.AssetCheckKey(key, name), limit=HISTORY_RUNS,
                    status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES))
                for record in records:
                    evaluation = record.evaluation
                    if evaluation is None:
                        continue
                    rate = evaluation.metadata.get("worst_error_rate") or evaluation.metadata.get("failure_rate")
                    rows.append({
                        "product": str(address), "check_name": name, "run_id": record.run_id or "",
                        "passed": bool(evaluation.passed), "severity": evaluation.severity.value,
                        "evaluated_at": pd.Timestamp(record.create_timestamp, unit="s", tz="UTC"),
                        "failure_rate": float(rate.value) if rate is not None else None,
                    })
        columns = ["product", "check_name", "run_id", "passed", "severity", "evaluated_at", "failure_rate"]
        return pd.DataFrame(rows, columns=columns)
