"""Partition-aware freshness: is the newest partition a product promises actually published?

Dagster's freshness policies judge an asset's last materialization, whichever partition it was.
This module judges what consumers need: for a ``deadline`` SLO, the newest partition whose
deadline has passed must be published; for a ``max_age`` SLO, the newest published partition must
end no longer than ``max_age`` ago (an unpartitioned product must have been published that
recently). It reads manifests only, so the monitor can evaluate it every minute cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from mesh.contracts.contract import Cadence
from mesh.contracts.durations import format_duration, parse_clock
from mesh.contracts.names import ALL
from mesh.contracts.partitions import format_key, parse_key
from mesh.contracts.registry import Product
from mesh.storage.lake import Published

CHECK_NAME = "partition_freshness"


@dataclass(frozen=True)
class FreshnessStatus:
    state: str  # PASS, WARN, FAIL or UNKNOWN (no SLO)
    detail: str
    newest_expected: str | None = None
    newest_published: str | None = None
    lag: timedelta | None = None

    @property
    def passed(self) -> bool:
        return self.state in ("PASS", "UNKNOWN")


def _local_now(product: Product, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(product.domain.snapshots.timezone)).replace(tzinfo=None)


def _last_complete_start(product: Product, local_now: datetime) -> datetime:
    """Start of the newest partition that has ended at ``local_now``."""
    snapshots = product.domain.snapshots
    start = datetime.combine(snapshots.start, time())
    period = snapshots.cadence.period
    steps = (local_now - start) // period
    return start + (steps - 1) * period


def evaluate(product: Product, manifest: Published | None, now: datetime) -> FreshnessStatus:
    freshness = product.contract.slo.freshness
    if freshness is None:
        return FreshnessStatus("UNKNOWN", "no freshness SLO declared")
    local_now = _local_now(product, now)
    published = [k for k in (manifest.keys() if manifest else []) if k != ALL]
    if not product.partitioned:
        return _unpartitioned(product, manifest, now)
    cadence = product.domain.snapshots.cadence
    newest = published[-1] if published else None
    if freshness.deadline is not None:
        expected = _expected_by_deadline(product, now)
        if expected is None:
            return FreshnessStatus("PASS", "no partition is due yet", None, newest)
        if expected in (manifest.partitions if manifest else {}):
            return FreshnessStatus("PASS", f"partition {expected} is published", expected, newest)
        return FreshnessStatus("FAIL", f"partition {expected} was due by {freshness.deadline} "
                               f"{freshness.timezone} and is not published (newest: {newest or 'none'})",
                               expected, newest)
    expected = format_key(_last_complete_start(product, local_now), cadence)
    if newest is None:
        return FreshnessStatus("FAIL", "nothing published yet", expected, None)
    lag = local_now - (parse_key(newest, cadence) + cadence.period)
    return _by_age(freshness, lag, f"newest partition {newest} ended {format_duration(lag)} ago", expected, newest)


def _by_age(freshness, lag: timedelta, what: str, expected: str | None, newest: str | None) -> FreshnessStatus:
    assert freshness.max_age is not None
    if lag > freshness.max_age:
        return FreshnessStatus("FAIL", f"{what}; the SLO allows {format_duration(freshness.max_age)}",
                               expected, newest, lag)
    if freshness.warn_age is not None and lag > freshness.warn_age:
        return FreshnessStatus("WARN", f"{what}; warning after {format_duration(freshness.warn_age)}",
                               expected, newest, lag)
    return FreshnessStatus("PASS", what, expected, newest, lag)


def _expected_by_deadline(product: Product, now: datetime) -> str | None:
    """The newest partition whose deadline has passed: the day its period ends, at the deadline time
    of the SLO's timezone (hourly products: that many minutes after the hour ends)."""
    freshness = product.contract.slo.freshness
    snapshots = product.domain.snapshots
    deadline = parse_clock(freshness.deadline)
    local = now.astimezone(ZoneInfo(freshness.timezone)).replace(tzinfo=None)
    candidate = _last_complete_start(product, _local_now(product, now))
    period = snapshots.cadence.period
    for _ in range(3):
        end = candidate + period
        due = (end + timedelta(minutes=deadline.minute) if snapshots.cadence is Cadence.hourly
               else datetime.combine(end.date(), deadline))
        if due <= local:
            return format_key(candidate, snapshots.cadence) if candidate.date() >= snapshots.start else None
        candidate -= period
    return None


def _unpartitioned(product: Product, manifest: Published | None, now: datetime) -> FreshnessStatus:
    freshness = product.contract.slo.freshness
    entry = manifest.partitions.get(ALL) if manifest else None
    if entry is None:
        return FreshnessStatus("FAIL", "nothing published yet")
    published_at = datetime.fromisoformat(entry.published_at)
    lag = now - published_at
    if freshness.max_age is not None:
        return _by_age(freshness, lag, f"published {format_duration(lag)} ago", None, ALL)
    zone = ZoneInfo(freshness.timezone)
    local = now.astimezone(zone)
    due = datetime.combine(local.date(), parse_clock(freshness.deadline), zone)
    if due > local:
        due -= timedelta(days=1)
    if published_at >= due - product.domain.snapshots.cadence.period:
        return FreshnessStatus("PASS", f"published at {entry.published_at}, before the deadline {due.isoformat()}")
    return FreshnessStatus("FAIL", f"last published at {entry.published_at}; a new snapshot was due by "
                           f"{due.isoformat()}")


def check_fields(status: FreshnessStatus) -> dict:
    """The fields of the ``partition_freshness`` check result for a status."""
    metadata: dict[str, object] = {"state": status.state, "newest_expected": status.newest_expected or "",
                                   "newest_published": status.newest_published or ""}
    if status.lag is not None:
        metadata["lag_hours"] = dg.MetadataValue.float(round(status.lag.total_seconds() / 3600, 2))
    severity = dg.AssetCheckSeverity.WARN if status.state == "WARN" else dg.AssetCheckSeverity.ERROR
    return {"passed": status.state != "FAIL" and status.state != "WARN", "severity": severity,
            "metadata": metadata, "description": status.detail}
