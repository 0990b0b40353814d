"""Scaffolding: ``mesh new domain`` and ``mesh new product`` write the files a domain or product needs.

A new product reads the inputs named on the command line; its first function passes the first
input through unchanged and its schema copies that input's columns and descriptions, so it loads,
materializes and shows in the UI at once. Its owner then edits the function (and the schema and
description). A new domain gets its folders and its ``workspace.yaml`` code location. What is
written passes ``ruff`` and, given a description, ``mesh lint``, so ``make test`` stays green.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from mesh.contracts.names import Address, check_name
from mesh.contracts.registry import load_mesh
from mesh.errors import MeshError
from mesh.quality.code import camel, resolve

SCAFFOLD_MARK = "Describe this product"
ANNOTATIONS = {"bigint": "int", "integer": "int", "double": "float", "string": "str", "date": "Date",
               "timestamp": "pd.Timestamp", "boolean": "bool"}


def _write(path: Path, text: str) -> Path:
    if path.exists():
        raise MeshError(f"{path} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def new_domain(root: Path, name: str, owner: str | None, description: str | None) -> list[Path]:
    check_name(name, "domain name")
    if (root / "domains" / name).exists():
        raise MeshError(f"domain {name!r} already exists (domains/{name})")
    domain = {"name": name, "description": description or f"The {name} domain: what it owns and publishes.",
              "owner": owner or f"team:{name}",
              "snapshots": {"cadence": "daily", "at": "01:00", "timezone": "UTC", "start": "2023-01-01"}}
    written = [_write(root / "domains" / name / "domain.yaml", yaml.safe_dump(domain, sort_keys=False)),
               _write(root / "assets" / name / "__init__.py", ""),
               _write(root / "checks" / name / "__init__.py", ""),
               _write(root / "tests" / name / "__init__.py", "")]
    return [*written, *_add_location(root / "workspace.yaml", name)]


def _add_location(workspace: Path, name: str) -> list[Path]:
    """Append the domain's code location, unless ``workspace.yaml`` already loads it."""
    text = workspace.read_text() if workspace.exists() else "load_from:\n"
    loaded = (yaml.safe_load(text) or {}).get("load_from") or []
    if any((entry.get("python_module") or {}).get("location_name") == name for entry in loaded):
        return []
    entry = (f"  - python_module:\n      module_name: mesh.locations\n      attribute: {name}\n"
             f"      location_name: {name}\n      working_directory: .\n")
    workspace.write_text(text + ("" if text.endswith("\n") else "\n") + entry)
    return [workspace]


def new_product(root: Path, domain: str, name: str, inputs: list[str], kind: str = "consumer-aligned",
                description: str | None = None) -> list[Path]:
    """Without a description the contract keeps the scaffold's, which ``mesh lint`` refuses until edited."""
    check_name(name, "product name")
    mesh = load_mesh(root)
    if domain not in mesh.domains:
        raise MeshError(f"no domain {domain!r}; create it with `mesh new domain {domain}`")
    if not inputs:
        raise MeshError("name at least one input product with --input <domain>.<product>")
    upstream = [mesh.product(Address.parse(i)) for i in inputs]
    if Address(domain, name) in mesh.products:
        raise MeshError(f"{domain}.{name} already exists")
    first = upstream[0]
    schema = resolve(first, root).schema
    same_cadence = first.domain.snapshots.cadence == mesh.domains[domain].snapshots.cadence
    partition = first.contract.partitioning if same_cadence else None
    params = {u.address.product: u for u in upstream}
    contract = {
        "name": name,
        "description": description or f"{SCAFFOLD_MARK}: what it holds, for whom, and how it is computed.",
        "kind": kind, "version": "0.1.0", "access": "internal",
        "inputs": {p: str(u.address) for p, u in params.items()},
        **({"partitioning": {"column": partition.column}} if partition else {}),
        "primary_key": list(first.contract.primary_key),
        "slo": {"freshness": {"max_age": "30h", "warn_age": "26h"}, "error_rate": {"max": 0.0}},
        **_inherited(first, upstream, {c.name for c in schema.columns}),
    }
    first_param = first.address.product
    function = textwrap.dedent(f'''\
        """{domain}.{name}: computed from {", ".join(inputs)}."""

        import pandas as pd


        def {name}({", ".join(f"{p}: pd.DataFrame" for p in params)}) -> pd.DataFrame:
            # Starts as {first.address} unchanged: write the transformation here.
            return {first_param}
        ''')
    model = _model(domain, name, schema.columns)
    test = textwrap.dedent(f'''\
        """{domain}.{name} on a small hand-built frame."""

        import pandas as pd

        from assets.{domain}.{name} import {name}


        def test_{name}_keeps_every_row():
            rows = pd.DataFrame({{"x": [1, 2, 3]}})
            assert len({name}({", ".join("rows" for _ in params)})) == 3
        ''')
    files = {root / "domains" / domain / f"{name}.yaml": yaml.safe_dump(contract, sort_keys=False),
             root / "assets" / domain / f"{name}.py": function,
             root / "checks" / domain / f"{name}.py": model,
             root / "tests" / domain / f"test_{name}.py": test}
    for path in files:
        if path.exists():
            raise MeshError(f"{path} already exists; refusing to overwrite it")
    written = [_write(path, text) for path, text in files.items()]
    _loads_or_undo(root, Address(domain, name), written, was_failing=domain in mesh.failed)
    return written


def _inherited(first, upstream: list, columns: set[str]) -> dict:
    """What the inputs impose: their PII classes and planned dates on the columns passed through, and no
    longer a history than the shortest input keeps (``mesh lint``'s retention policy)."""
    inherited: dict = {}
    pii = {column: str(masking) for column, masking in first.contract.pii.items() if column in columns}
    if pii:
        inherited["pii"] = pii
    planned = [column for column in first.contract.planned if column in columns]
    if planned:
        inherited["planned"] = planned
    kept = [u.contract.retention.days for u in upstream if u.contract.retention]
    if kept:
        inherited["retention"] = {"days": min(kept)}
    return inherited


def _loads_or_undo(root: Path, address: Address, written: list[Path], was_failing: bool) -> None:
    """Leave nothing behind that stops the domain's code location from loading (an input that does not
    admit the new product as a reader, for instance): remove what was written and say why."""
    mesh = load_mesh(root)
    problem = mesh.broken.get(address) or (None if was_failing else mesh.failed.get(address.domain))
    if problem is None:
        return
    for path in written:
        path.unlink()
    raise MeshError(f"{address} would not load, so nothing was written:\n{problem}")


def _model(domain: str, name: str, columns) -> str:
    """The pandera model, importing only the types its columns use (an unused import fails ``ruff``)."""
    annotations = [ANNOTATIONS.get(c.type_name, "str") for c in columns]
    imports = ["import pandas as pd"] if "pd.Timestamp" in annotations else []
    imports += ["import pandera.pandas as pa", "from pandera.typing import Series"]
    if "Date" in annotations:
        imports += ["", "from mesh.types import Date"]
    header = f'"""Quality rules of {domain}.{name}."""\n\n' + "\n".join(imports) + "\n\n\n"
    body = "".join(_field(c.name, annotation, c.nullable, c.description or c.name)
                   for c, annotation in zip(columns, annotations, strict=True))
    return header + f"class {camel(name)}(pa.DataFrameModel):\n" + body


def _field(column: str, annotation: str, nullable: bool, description: str) -> str:
    """One field on one line, or wrapped within the 120 columns ``ruff`` allows."""
    options = "nullable=True, " if nullable else ""
    line = f"    {column}: Series[{annotation}] = pa.Field({options}description={_quote(description)})\n"
    if len(line) <= 121:
        return line
    pieces = textwrap.wrap(description, 90, drop_whitespace=False) or [""]
    quoted = "\n".join(f"            {_quote(p)}" for p in pieces)
    return (f"    {column}: Series[{annotation}] = pa.Field(\n        {options}description=(\n{quoted}\n"
            f"        ),\n    )\n")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
