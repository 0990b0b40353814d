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
import duckdb

from mesh.catalog import model_schema
from mesh.compile import SLO_CHECKS, asset_key
from mesh.errors import MeshError, StorageError
from mesh.lake import META, Lake
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
        rules = [r.name for r in model_schema(product, mesh).rules]
    except MeshError:
        rules = []
    return [STRUCTURE, *rules, *SLO_CHECKS]


def review_product(product: Product, mesh: Mesh, instance: dg.DagsterInstance, lake: Lake) -> ProductReview:
    return review_products([product], mesh, instance, lake)[0]


def review_products(products: list[Product], mesh: Mesh, instance: dg.DagsterInstance,
                    lake: Lake) -> list[ProductReview]:
    """Reviews of ``products`` from a few batched reads of the instance (a query per check and
    product took seconds for the whole mesh)."""
    names = {p.address: check_names(p, mesh) for p in products}
    check_keys = [dg.AssetCheckKey(asset_key(p), name) for p in products for name in names[p.address]]
    results = latest_check_results(instance, check_keys)
    keys = [asset_key(p) for p in products]
    events = instance.get_latest_materialization_events(keys)
    freshness = _freshness(instance, keys)
    quarantined = quarantined_rows(lake)
    return [_review(p, [_line(name, results.get(dg.AssetCheckKey(asset_key(p), name))) for name in names[p.address]],
                    events.get(asset_key(p)), freshness.get(asset_key(p)),
                    quarantined.get((str(p.address), p.contract.major), 0)) for p in products]


def quarantined_rows(lake: Lake) -> dict[tuple[str, int], int]:
    """Rows in quarantine per product and major version, from the lake's partition state
    (``_mesh.partitions``) in one query rather than one per product."""
    try:
        with lake.cursor() as cur:
            rows = cur.execute(f"SELECT product, major, sum(rows_quarantined) FROM lake.{META}.partitions "
                               f"GROUP BY ALL").fetchall()
    except duckdb.Error as err:
        raise StorageError(f"reading the quarantine counts of {lake.uri} failed: {err}") from None
    return {(product, major): int(count or 0) for product, major, count in rows}


def _line(name: str, record) -> CheckLine:
    evaluation = record.evaluation if record else None
    if evaluation is None:
        return CheckLine(name, None, "-", None, None, None)
    failing = evaluation.metadata.get("rows_failing")
    return CheckLine(name, evaluation.passed, evaluation.severity.value, evaluation.description,
                     int(failing.value) if failing is not None else None, _iso(record.create_timestamp))


def _review(product: Product, lines: list[CheckLine], event, freshness: str | None, quarantined: int
            ) -> ProductReview:
    materialization = event.asset_materialization if event else None
    breached = [c.name for c in lines if c.name in SLO_CHECKS and c.passed is False]
    if freshness in ("FAIL", "WARN"):
        breached.append(f"freshness ({freshness.lower()})")
    return ProductReview(
        address=str(product.address), owner=product.owner, status=_status(lines, freshness),
        last_materialized_at=_iso(event.timestamp) if event else None,
        last_partition=materialization.partition if materialization else None,
        quarantined_rows=quarantined, breached_slos=breached, checks=lines,
        ui_url=f"{ui_base()}/assets/{product.address.domain}/{product.address.product}", freshness=freshness)


def product_status(product: Product, mesh: Mesh, lake: Lake) -> dict:
    """One product's review as ``mesh show`` prints it, or why the instance could not say."""
    from mesh.runs import ensure_instance

    try:
        return review_product(product, mesh, ensure_instance(), lake).as_dict()
    except MeshError as err:
        return {"status": f"unavailable: {err}"}


def latest_check_results(instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]) -> dict:
    """The newest completed evaluation of each check: one query for all, then one per check whose
    newest execution is only planned (its run stopped, or is still going)."""
    from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    found = {}
    for key in check_keys:
        record = latest.get(key)
        if record is not None and record.status not in COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES:
            record = latest_check_result(instance, key)
        if record is not None:
            found[key] = record
    return found


def latest_check_result(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey):
    """The newest completed evaluation of a check (planned ones of runs that stopped are skipped)."""
    from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES))
    return records[0] if records else None


def _freshness(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict[dg.AssetKey, str]:
    try:
        records = instance.get_freshness_state_records(keys)
    except NotImplementedError:  # storage without freshness support: unknown, not an error
        return {}
    except Exception as err:  # the instance is failing: unknown, and said so
        log.warning("freshness states unavailable: %s", err)
        return {}
    return {key: record.freshness_state.value for key, record in records.items()}


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
    reviews = review_products(products, mesh, instance, lake)
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
