"""Schema versions: the recorded schema of each major version, and what counts as a breaking change.

Each product's published schema per major version is recorded in
``domains/<domain>/schemas/<product>.v<major>.json`` (written by ``mesh lint --record``, committed
and reviewed like the contract). A change is *breaking* when it removes or retypes a column,
tightens nullability, adds a column that cannot be null (older partitions lack it) or changes the
key; adding a nullable column is compatible. Breaking changes need a major version bump, which
starts a new record and a new storage folder ``v<major>``, while the previous major stays readable
until the date its ``deprecations`` entry names. Used by ``mesh lint`` and, at run time, by the
contract-conformance check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mesh.contracts.registry import Product
from mesh.quality.rules import Schema

RECORDS = "schemas"


@dataclass(frozen=True)
class Change:
    column: str
    kind: str  # removed, retyped, tightened, added_required, added_optional, key
    detail: str

    @property
    def breaking(self) -> bool:
        return self.kind != "added_optional"

    def __str__(self) -> str:
        return f"{self.column}: {self.detail}"


def schema_record(product: Product, schema: Schema) -> dict:
    return {
        "product": str(product.address),
        "major": product.contract.major,
        "version": product.contract.version,
        "primary_key": list(product.contract.primary_key),
        "columns": [{"name": c.name, "type": c.type_name, "nullable": c.nullable} for c in schema.columns],
    }


def record_path(root: Path, product: Product, major: int | None = None) -> Path:
    major = product.contract.major if major is None else major
    return root / "domains" / product.domain.name / RECORDS / f"{product.address.product}.v{major}.json"


def load_record(root: Path, product: Product, major: int | None = None) -> dict | None:
    path = record_path(root, product, major)
    return json.loads(path.read_text()) if path.exists() else None


def write_record(root: Path, product: Product, schema: Schema) -> Path:
    path = record_path(root, product)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema_record(product, schema), indent=1) + "\n")
    return path


def recorded_majors(root: Path, product: Product) -> list[int]:
    folder = root / "domains" / product.domain.name / RECORDS
    prefix = f"{product.address.product}.v"
    return sorted(int(p.stem[len(prefix):]) for p in folder.glob(f"{prefix}*.json") if p.stem[len(prefix):].isdigit())


def changes(old: dict, new: dict) -> list[Change]:
    """How a schema record changed, column by column."""
    before = {c["name"]: c for c in old["columns"]}
    after = {c["name"]: c for c in new["columns"]}
    found = []
    for name, column in before.items():
        if name not in after:
            found.append(Change(name, "removed", "removed"))
        elif after[name]["type"] != column["type"]:
            found.append(Change(name, "retyped", f"type {column['type']} -> {after[name]['type']}"))
        elif column["nullable"] and not after[name]["nullable"]:
            found.append(Change(name, "tightened", "nullable -> not nullable"))
    for name, column in after.items():
        if name not in before:
            kind = "added_optional" if column["nullable"] else "added_required"
            found.append(Change(name, kind, "added" + ("" if column["nullable"] else ", not nullable")))
    if list(old.get("primary_key", [])) != list(new.get("primary_key", [])):
        found.append(Change(",".join(new.get("primary_key", [])) or "(none)", "key",
                            f"primary key {old.get('primary_key')} -> {new.get('primary_key')}"))
    return found
