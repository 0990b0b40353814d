"""Scaffolding: ``mesh new domain`` and ``mesh new product`` write the files a domain or product needs.

A new product reads the inputs named on the command line; its first function passes the first
input through unchanged and its schema copies that input's columns and descriptions, so it loads,
materializes and shows in the UI at once. Its owner then edits the function (and the schema and
description). A new domain gets its folders and its ``workspace.yaml`` code location.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from mesh.code import camel, resolve
from mesh.errors import MeshError
from mesh.names import Address, check_name
from mesh.registry import load_mesh

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
    workspace = root / "workspace.yaml"
    entry = (f"  - python_module:\n      module_name: mesh.locations\n      attribute: {name}\n"
             f"      location_name: {name}\n      working_directory: .\n")
    text = workspace.read_text()
    workspace.write_text(text + ("" if text.endswith("\n") else "\n") + entry)
    return [*written, workspace]


def new_product(root: Path, domain: str, name: str, inputs: list[str], kind: str = "consumer-aligned") -> list[Path]:
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
        "name": name, "description": f"{SCAFFOLD_MARK}: what it holds, for whom, and how it is computed.",
        "kind": kind, "version": "0.1.0", "access": "internal",
        "inputs": {p: str(u.address) for p, u in params.items()},
        **({"partitioning": {"column": partition.column}} if partition else {}),
        "primary_key": list(first.contract.primary_key),
        "slo": {"freshness": {"max_age": "30h", "warn_age": "26h"}, "error_rate": {"max": 0.0}},
    }
    first_param = first.address.product
    function = textwrap.dedent(f'''\
        """{domain}.{name}: computed from {", ".join(inputs)}."""

        import pandas as pd


        def {name}({", ".join(f"{p}: pd.DataFrame" for p in params)}) -> pd.DataFrame:
            # Starts as {first.address} unchanged: write the transformation here.
            return {first_param}
        ''')
    fields = "\n".join(
        f"    {c.name}: Series[{ANNOTATIONS.get(c.type_name, 'str')}] = pa.Field("
        f"{'nullable=True, ' if c.nullable else ''}description={c.description or c.name!r})"
        for c in schema.columns)
    model = textwrap.dedent(f'''\
        """Quality rules of {domain}.{name}."""

        import pandas as pd  # noqa: F401 - for timestamp columns
        import pandera.pandas as pa
        from pandera.typing import Series

        from mesh.types import Date  # noqa: F401 - for date columns


        class {camel(name)}(pa.DataFrameModel):
        ''') + fields + "\n"
    test = textwrap.dedent(f'''\
        """{domain}.{name} on a small hand-built frame."""

        import pandas as pd

        from assets.{domain}.{name} import {name}


        def test_{name}_keeps_every_row():
            rows = pd.DataFrame({{"x": [1, 2, 3]}})
            assert len({name}({", ".join("rows" for _ in params)})) == 3
        ''')
    return [
        _write(root / "domains" / domain / f"{name}.yaml", yaml.safe_dump(contract, sort_keys=False)),
        _write(root / "assets" / domain / f"{name}.py", function),
        _write(root / "checks" / domain / f"{name}.py", model),
        _write(root / "tests" / domain / f"test_{name}.py", test),
    ]

