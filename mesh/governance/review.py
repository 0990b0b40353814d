"""Owner review: each product's latest check results and breached SLOs, read from the Dagster instance.

``review`` answers the question a data owner starts the day with: which of my products are failing,
which only warn, how many rows sit in quarantine, and where in the UI to look. Results come from
the instance (check evaluations, materializations, freshness states, ``mesh.instance.state``) and the
lake (quarantined rows); nothing is recomputed. Failing products come first.

Imports neither Dagster nor pandera by itself: `mesh review` and `mesh show` read the local instance
without Dagster, and the checks' names from the models' outlines (``check_names``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from mesh.contracts.names import Address
from mesh.contracts.registry import Mesh, Product
from mesh.errors import MeshError, StorageError
from mesh.governance.outline import outline
from mesh.instance.state import CheckRecord, DagsterState, InstanceState, open_state
from mesh.instance.state import (
    latest_check_result as latest_check_result,  # mesh.orchestration.monitor imports it from here
)
from mesh.storage.engine import literal
from mesh.storage.lake import META, Lake

if TYPE_CHECKING:
    import dagster as dg

ORDER = {"failing": 0, "warning": 1, "never run": 2, "ok": 3}
# The names of the checks every product has, as mesh.quality.rules (STRUCTURE) and mesh.orchestration.compile
# (SLO_CHECKS) name them: importing those modules for two constants would import pandera and Dagster.
STRUCTURE = "structure"
SLO_CHECKS = ("error_rate", "volume", "contract_conformance")
BUSINESS_DAY = "happened_by_business_day"  # mesh.quality.business_day.NAME: every product has it
FRESHNESS = "partition_freshness"  # mesh.quality.freshness.CHECK_NAME: products with a freshness SLO have it


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


def ui_base() -> str:
    return os.environ.get("MESH_UI_URL", "http://127.0.0.1:3000").rstrip("/")


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None


def check_names(product: Product, mesh: Mesh) -> list[str]:
    """The product's checks, in ``mesh.orchestration.compile.check_specs``' order: its structure, its model's
    rules (from the model's outline, ``mesh.governance.outline``), its contract's relations, the mesh-wide
    business-day rule and its SLOs."""
    try:
        rules = list(outline(product, mesh).rules)
    except MeshError:
        rules = []
    freshness = [FRESHNESS] if product.contract.slo.freshness is not None else []
    return [STRUCTURE, *rules, *product.contract.relations, BUSINESS_DAY, *SLO_CHECKS, *freshness]


def review_product(product: Product, mesh: Mesh, instance: dg.DagsterInstance | InstanceState, lake: Lake
                   ) -> ProductReview:
    return review_products([product], mesh, instance, lake)[0]


def review_products(products: list[Product], mesh: Mesh, instance: dg.DagsterInstance | InstanceState,
                    lake: Lake) -> list[ProductReview]:
    """Reviews of ``products`` from a few batched reads of the instance (a query per check and
    product took seconds for the whole mesh). ``instance``: a Dagster instance, or what
    ``mesh.instance.state.open_state`` gives."""
    state = _state(instance)
    names = {p.address: check_names(p, mesh) for p in products}
    paths = {p.address: _path(p) for p in products}
    results = state.checks([(paths[p.address], name) for p in products for name in names[p.address]])
    events = state.materializations(list(paths.values()))
    freshness = state.freshness(list(paths.values()))
    # one product (`mesh show`): its own rows only, which DuckLake finds in a few files rather than all
    quarantined = quarantined_rows(lake, [p.address for p in products] if len(products) == 1 else None)
    return [_review(p, [_line(name, results.get((paths[p.address], name))) for name in names[p.address]],
                    events.get(paths[p.address]), freshness.get(paths[p.address]),
                    quarantined.get((str(p.address), p.contract.major), 0)) for p in products]


def _state(instance: dg.DagsterInstance | InstanceState) -> InstanceState:
    return DagsterState(instance) if hasattr(instance, "event_log_storage") else instance


def _path(product: Product) -> tuple[str, ...]:
    """The product's asset key path (``mesh.orchestration.keys.asset_key``)."""
    return (product.address.domain, product.address.product)


def quarantined_rows(lake: Lake, addresses: list[Address] | None = None) -> dict[tuple[str, int], int]:
    """Rows in quarantine per product and major version, from the lake's partition state
    (``_mesh.partitions``) in one query rather than one per product; of ``addresses`` only, if given."""
    where = f" WHERE product IN ({', '.join(literal(str(a)) for a in addresses)})" if addresses else ""
    try:
        with lake.cursor() as cur:
            rows = cur.execute(f"SELECT product, major, sum(rows_quarantined) FROM lake.{META}.partitions"
                               f"{where} GROUP BY ALL").fetchall()
    except duckdb.Error as err:
        raise StorageError(f"reading the quarantine counts of {lake.uri} failed: {err}") from None
    return {(product, major): int(count or 0) for product, major, count in rows}


def _line(name: str, record: CheckRecord | None) -> CheckLine:
    if record is None:
        return CheckLine(name, None, "-", None, None, None)
    return CheckLine(name, record.passed, record.severity, record.description, record.rows_failing,
                     _iso(record.evaluated_at))


def _review(product: Product, lines: list[CheckLine], event, freshness: str | None, quarantined: int
            ) -> ProductReview:
    breached = [c.name for c in lines if c.name in SLO_CHECKS and c.passed is False]
    if freshness in ("FAIL", "WARN"):
        breached.append(f"freshness ({freshness.lower()})")
    return ProductReview(
        address=str(product.address), owner=product.owner, status=_status(lines, freshness),
        last_materialized_at=_iso(event.timestamp) if event else None,
        last_partition=event.partition if event else None,
        quarantined_rows=quarantined, breached_slos=breached, checks=lines,
        ui_url=f"{ui_base()}/assets/{product.address.domain}/{product.address.product}", freshness=freshness)


def product_status(product: Product, mesh: Mesh, lake: Lake) -> dict:
    """One product's review as ``mesh show`` prints it, or why the instance could not say."""
    try:
        return review_product(product, mesh, open_state(), lake).as_dict()
    except MeshError as err:
        return {"status": f"unavailable: {err}"}


def _status(lines: list[CheckLine], freshness: str | None) -> str:
    if all(c.passed is None for c in lines):
        return "never run"
    if any(c.passed is False and c.severity == "ERROR" for c in lines) or freshness == "FAIL":
        return "failing"
    if any(c.passed is False for c in lines) or freshness == "WARN":
        return "warning"
    return "ok"


def review(mesh: Mesh, instance: dg.DagsterInstance | InstanceState, lake: Lake, owner: str | None = None,
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
