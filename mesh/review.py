"""Owner review: each product's latest check results and breached SLOs, read from the Dagster instance.

``review`` answers the question a data owner starts the day with: which of my products are failing,
which only warn, how many rows sit in quarantine, and where in the UI to look. Results come from
the instance (check evaluations, materializations, freshness states) and the storage (quarantine
manifests); nothing is recomputed. Failing products come first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import dagster as dg

from mesh.code import resolve
from mesh.compile import SLO_CHECKS, asset_key
from mesh.errors import MeshError
from mesh.lake import Lake
from mesh.quality import STRUCTURE
from mesh.registry import Mesh, Product

ORDER = {"failing": 0, "warning": 1, "never run": 2, "ok": 3}


@dataclass
class CheckLine:
    name: str
    passed: bool | None  # None: never evaluated
    severity: str
    description: str | None
    rows_failing: int | None
    evaluated_at: str | None


@dataclass
class ProductReview:
    address: str
    owner: str
    status: str
    last_materialized_at: str | None
    last_partition: str | None
    quarantined_rows: int
    breached_slos: list[str]
    checks: list[CheckLine] = field(default_factory=list)
    ui_url: str = ""
    freshness: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

log = logging.getLogger(__name__)


def ui_base() -> str:
    return os.environ.get("MESH_UI_URL", "http://127.0.0.1:3000").rstrip("/")


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None


def check_names(product: Product, mesh: Mesh) -> list[str]:
    try:
        rules = [r.name for r in resolve(product, mesh.root).schema.rules]
    except MeshError:
        rules = []
    return [STRUCTURE, *rules, *SLO_CHECKS]


def review_product(product: Product, mesh: Mesh, instance: dg.DagsterInstance, lake: Lake) -> ProductReview:
    key = asset_key(product)
    lines = []
    for name in check_names(product, mesh):
        record = latest_check_result(instance, dg.AssetCheckKey(key, name))
        evaluation = record.evaluation if record else None
        if evaluation is None:
            lines.append(CheckLine(name, None, "-", None, None, None))
            continue
        failing = evaluation.metadata.get("rows_failing")
        lines.append(CheckLine(
            name, evaluation.passed, evaluation.severity.value, evaluation.description,
            int(failing.value) if failing is not None else None, _iso(record.create_timestamp)))
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    quarantine = lake.published(product.address.quarantined, product.contract.major)
    freshness = _freshness(instance, key)
    breached = [c.name for c in lines if c.name in SLO_CHECKS and c.passed is False]
    if freshness in ("FAIL", "WARN"):
        breached.append(f"freshness ({freshness.lower()})")
    return ProductReview(
        address=str(product.address), owner=product.owner, status=_status(lines, freshness),
        last_materialized_at=_iso(event.timestamp) if event else None,
        last_partition=materialization.partition if materialization else None,
        quarantined_rows=quarantine.rows if quarantine else 0, breached_slos=breached, checks=lines,
        ui_url=f"{ui_base()}/assets/{product.address.domain}/{product.address.product}", freshness=freshness)


def latest_check_result(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey):
    """The newest completed evaluation of a check (planned ones of runs that stopped are skipped)."""
    from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES))
    return records[0] if records else None


def _freshness(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    try:
        records = instance.get_freshness_state_records([key])
    except NotImplementedError:  # storage without freshness support: unknown, not an error
        return None
    except Exception as err:  # the instance is failing: unknown, and said so
        log.warning("freshness state of %s unavailable: %s", key.to_user_string(), err)
        return None
    record = records.get(key)
    return record.freshness_state.value if record else None


def _status(lines: list[CheckLine], freshness: str | None) -> str:
    if all(c.passed is None for c in lines):
        return "never run"
    if any(c.passed is False and c.severity == "ERROR" for c in lines) or freshness == "FAIL":
        return "failing"
    if any(c.passed is False for c in lines) or freshness == "WARN":
        return "warning"
    return "ok"


def review(mesh: Mesh, instance: dg.DagsterInstance, lake: Lake, owner: str | None = None,
           domain: str | None = None) -> list[ProductReview]:
    if domain is not None and domain not in mesh.domains:
        raise MeshError(f"no domain {domain!r}; domains: {', '.join(sorted(mesh.domains))}")
    products = [p for p in mesh.products.values()
                if (owner is None or p.owner == owner) and (domain is None or p.domain.name == domain)]
    reviews = [review_product(p, mesh, instance, lake) for p in products]
    return sorted(reviews, key=lambda r: (ORDER[r.status], r.address))


def render(reviews: list[ProductReview]) -> str:
    out = []
    for r in reviews:
        out.append(f"{r.status.upper():9} {r.address}  (owner {r.owner})  {r.ui_url}")
        out.append(f"          last published {r.last_materialized_at or 'never'}"
                   f"{f' partition {r.last_partition}' if r.last_partition else ''}; "
                   f"{r.quarantined_rows} row(s) in quarantine"
                   f"{'; freshness ' + r.freshness if r.freshness else ''}")
        if r.breached_slos:
            out.append(f"          breached SLOs: {', '.join(r.breached_slos)}")
        for c in r.checks:
            if c.passed is False:
                detail = f" - {c.description}" if c.description else ""
                out.append(f"          {c.severity:5} {c.name}{detail}")
    return "\n".join(out) if out else "no products match"
