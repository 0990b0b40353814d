"""Export of contracts as Open Data Contract Standard (ODCS) v3 documents.

One document per product: schema with logical and physical types, key, PII classification and
masking, the quality rules (pandera, as ``custom`` checks, plus the SLO checks), SLA properties
from the SLOs, the owning team, and servers for both storage profiles (local Parquet, S3). Each
document is validated against the ODCS JSON Schema shipped in ``mesh/governance/standards`` before it is
written, so an export never produces a document other tools would reject.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import yaml

from mesh.contracts.durations import format_duration
from mesh.contracts.registry import Mesh, Product
from mesh.errors import MeshError
from mesh.quality.code import resolve
from mesh.quality.rules import STRUCTURE

SCHEMA_FILE = Path(__file__).parent / "standards" / "odcs-json-schema-v3.2.0.json"
API_VERSION = "v3.2.0"
LOGICAL = {"bigint": "integer", "integer": "integer", "double": "number", "string": "string", "date": "date",
           "timestamp": "timestamp", "boolean": "boolean"}
DIMENSIONS = {"structure": "conformity", "error_rate": "accuracy", "volume": "completeness",
              "contract_conformance": "conformity", "partition_freshness": "timeliness"}


def _validator() -> jsonschema.Draft201909Validator:
    return jsonschema.Draft201909Validator(json.loads(SCHEMA_FILE.read_text()))


def _custom(prop: str, value: object) -> dict:
    return {"property": prop, "value": value}


def _properties(product: Product, schema) -> list[dict]:
    key = list(product.contract.primary_key)
    out = []
    for column in schema.columns:
        item: dict = {"name": column.name, "logicalType": LOGICAL.get(column.type_name, "string"),
                      "physicalType": column.type_name, "required": not column.nullable,
                      "description": column.description or column.name}
        if column.name in key:
            item |= {"primaryKey": True, "primaryKeyPosition": key.index(column.name) + 1}
        if product.partitioned and column.name == product.contract.partitioning.column:
            item |= {"partitioned": True, "partitionKeyPosition": 1}
        if column.name in product.contract.pii:
            item |= {"classification": "pii",
                     "customProperties": [_custom("masking", product.contract.pii[column.name].value)]}
        out.append(item)
    return out


def _quality(product: Product, schema) -> list[dict]:
    rules = [{"name": STRUCTURE, "type": "custom", "engine": "pandera", "dimension": "conformity",
              "severity": "error", "description": "Columns, types, nullability and key uniqueness; failing rows "
                                                  "are quarantined.", "implementation": schema.model_name}]
    for rule in schema.rules:
        item = {"name": rule.name, "type": "custom", "engine": "pandera", "severity": rule.severity,
                "description": rule.description or rule.name,
                "implementation": f"{schema.model_name}: {rule.name} on {', '.join(rule.columns) or 'the frame'}",
                "customProperties": [_custom("blocking", rule.blocking)]}
        rules.append(item)
    slo = product.contract.slo
    rules.append({"name": "error_rate", "type": "text", "dimension": "accuracy", "severity": "error",
                  "description": f"At most {slo.error_rate.max:.2%} of a partition's rows may fail ERROR rules; "
                                 "above it the partition is not published."})
    return rules


def _sla(product: Product) -> list[dict]:
    slo, snapshots = product.contract.slo, product.domain.snapshots
    out = [{"property": "frequency", "value": 1, "unit": {"hourly": "h", "daily": "d", "weekly": "w"}[
        snapshots.cadence.value], "description": f"{snapshots.cadence.value} snapshots, schedule "
                                                  f"{snapshots.cron_schedule} {snapshots.timezone}"},
           {"property": "errorRate", "value": slo.error_rate.max, "unit": "ratio"}]
    if slo.freshness and slo.freshness.max_age:
        out.append({"property": "latency", "value": slo.freshness.max_age.total_seconds() / 3600, "unit": "h",
                    "description": f"data at most {format_duration(slo.freshness.max_age)} old"})
    if slo.freshness and slo.freshness.deadline:
        out.append({"property": "timeOfAvailability", "value": f"{slo.freshness.deadline} {slo.freshness.timezone}",
                    "description": "the previous period's partition is published by this time"})
    if product.contract.retention:
        out.append({"property": "retention", "value": product.contract.retention.days, "unit": "d"})
    if slo.volume:
        out.append({"property": "volume", "value": json.dumps(slo.volume.model_dump(exclude_none=True)),
                    "description": "rows per partition"})
    return out


def _servers(product: Product, local_root: str) -> list[dict]:
    major = product.contract.major
    folder = f"{product.address.domain}/{product.address.product}__v{major}"  # the lake's table folder
    bucket = os.environ.get("MESH_S3_BUCKET", "mesh-products")
    prefix = os.environ.get("MESH_S3_PREFIX", "mesh")
    return [
        {"server": "local", "type": "local", "environment": "dev", "format": "parquet",
         "path": f"{local_root}/data/{folder}/",
         "description": "Local profile: a DuckLake table (catalog.sqlite beside data/); read through `mesh sql` "
                        "or `mesh.read`, or attach the lake read-only with DuckDB."},
        {"server": "production", "type": "s3", "environment": "prod", "format": "parquet",
         "location": f"s3://{bucket}/{prefix}/{folder}/",
         "description": "Production profile (MESH_ENV=production); read through the ports, which apply access "
                        "rules and masking."},
    ]


def document(product: Product, mesh: Mesh, local_root: str) -> dict:
    schema = resolve(product, mesh.root).schema
    contract = product.contract
    return {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"urn:mesh:{product.address.domain}:{product.address.product}",
        "name": contract.name,
        "version": contract.version,
        "status": "active",
        "domain": product.domain.name,
        "dataProduct": str(product.address),
        "description": {"purpose": " ".join(contract.description.split()),
                        "usage": f"SQL: SELECT ... FROM {product.address}; Python: mesh.read('{product.address}')",
                        "limitations": f"access {contract.access.value}"
                        + (f"; PII masked for readers without the right: {', '.join(contract.pii)}"
                           if contract.pii else "")},
        "tags": sorted({*contract.tags, *product.domain.tags}),
        "schema": [{"name": contract.name, "physicalName": f"{product.address.domain}.{contract.name}",
                    "physicalType": "table", "logicalType": "object",
                    "description": " ".join(contract.description.split()),
                    "properties": _properties(product, schema), "quality": _quality(product, schema)}],
        "servers": _servers(product, local_root),
        "team": {"name": product.owner, "members": [{"username": product.owner, "role": "owner"}]},
        "slaProperties": _sla(product),
        "customProperties": [_custom("meshKind", contract.kind.value), _custom("meshAccess", contract.access.value),
                             _custom("meshConsumers", contract.consumers if contract.consumers is not None else "any"),
                             _custom("meshContractFile", product.file)],
    }


def validate(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in _validator().iter_errors(doc)]


def export(mesh: Mesh, out: Path, local_root: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for address, product in sorted(mesh.products.items()):
        doc = document(product, mesh, local_root)
        errors = validate(doc)
        if errors:
            raise MeshError(f"{address}: the ODCS document does not validate: {'; '.join(errors[:5])}")
        path = out / f"{address.domain}.{address.product}.odcs.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        written.append(path)
    return written
