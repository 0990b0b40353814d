"""The ``mesh`` command: what people do with the mesh outside the Dagster UI.

Each subcommand is a thin shell over a module (ports, runs, governance, catalog...): it parses
arguments, calls one function and prints. Errors a user caused exit with status 1 and one message;
a bug still shows its traceback.

Modules are imported inside the commands that use them: `mesh sql`, `read`, `catalog`, `show` and
`review` import neither Dagster (`show` and `review` read the local instance's SQLite index,
``mesh.instance.state``) nor pandas, and open the lake once, its extensions loaded without DuckDB's
signature check (``mesh.storage.engine``). `mesh sql` and `mesh read` import no pyarrow either: they
print what DuckDB returns (`sql` from the sealed session, which has views of the products the query
names only).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path

import click

from mesh.errors import MeshError


class MeshGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MeshError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


@click.group(cls=MeshGroup)
def main() -> None:
    """Data mesh on Dagster: products by contract, checked, governed and addressable."""
    # Runs started here plan one event per product, not one per partition (see the Makefile).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")


def _port():
    from mesh.api import port

    return port()


def print_relation(relation, output: str, limit: int) -> None:
    """A DuckDB relation printed as a table (DuckDB's box), CSV or a JSON array of objects, without Arrow:
    pyarrow and numpy take a fifth of a second to import, most of a short command's time."""
    if output == "json":
        columns = relation.columns
        rows = [dict(zip(columns, map(_json_value, row), strict=True)) for row in relation.limit(limit).fetchall()]
        click.echo(json.dumps(rows, default=str, indent=1, allow_nan=False))
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(relation.columns)
        result = relation.limit(limit)
        while batch := result.fetchmany(10_000):
            writer.writerows([_csv_value(v) for v in row] for row in batch)
    else:
        rows = relation.count("*").fetchone()[0]
        click.echo(str(relation.limit(limit) if rows > limit else relation) if rows else _empty(relation.columns))
        if rows > limit:
            click.echo(f"({rows} rows, {limit} shown; use --format csv or json for all)")


def _json_value(value: object) -> object:
    """A value as JSON can hold it: an infinity or NaN as its text ("inf", "nan"), which JSON has no number for."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return value


def _empty(columns: list[str]) -> str:
    return "(no rows) columns: " + ", ".join(columns)


@main.command()
@click.argument("query")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--limit", type=click.IntRange(min=0), default=1_000_000, help="Rows printed at most.")
@click.option("--as-of", "as_of", help="Read the lake as of a snapshot id or a time (2026-11-24T08:00:00+00:00).")
def sql(query: str, output: str, limit: int, as_of: str | None) -> None:
    """Run a SQL query over products, addressed as <domain>.<product>."""
    with _port().query(query, as_of=as_of, materialized=True) as relation:  # the query runs once
        print_relation(relation, output, limit)


@main.command()
@click.argument("address")
@click.option("--partition", help="One partition key, e.g. 2026-11-01.")
@click.option("--start", help="First partition key of a range.")
@click.option("--end", help="Partition key after the range (exclusive).")
@click.option("--version", "version", type=int, help="Major version to read (default: current).")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--limit", type=click.IntRange(min=0), default=1_000_000, help="Rows printed at most.")
@click.option("--as-of", "as_of", help="Read the product as of a snapshot id or a time.")
def read(address: str, partition, start, end, version, output: str, limit: int, as_of: str | None) -> None:
    """Read one product by address (the Python port), optionally one partition or a range."""
    # a table is counted, then drawn: read once
    with _port().reading(address, partition, start, end, version, as_of, materialized=output == "table") as relation:
        print_relation(relation, output, limit)


@main.command()
@click.option("--days", type=int, envvar="MESH_DAYS",
              help="Compute the newest N partitions again, published or not (default: catch up).")
@click.option("--start", help="First partition key of a window to compute again (instead of --days).")
@click.option("--end", help="Last partition key, inclusive (default: the newest complete one).")
@click.option("--domain", "domains", multiple=True, help="Only these domains (default: all).")
@click.option("--bootstrap/--no-bootstrap", default=False, show_default=True,
              help="With a window: first publish the whole history of products read over their history.")
def materialize(days: int | None, start: str | None, end: str | None, domains: tuple[str, ...],
                bootstrap: bool) -> None:
    """Publish every partition not yet published, from each domain's start; or compute a window again.

    Recorded in the Dagster instance, as scheduled runs are.
    """
    from mesh.orchestration.runs import materialize_window

    result = materialize_window(days=days, start=start, end=end, domains=list(domains) or None, echo=click.echo,
                                bootstrap=bootstrap)
    if not result.success:
        raise MeshError(result.summary)
    click.echo(result.summary)


@main.command()
@click.option("--owner", help="Only products of this owner, e.g. team:sales.")
@click.option("--domain", help="Only products of this domain.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def review(owner: str | None, domain: str | None, as_json: bool) -> None:
    """Each product's latest check results and breached SLOs, failing first."""
    from mesh.contracts.registry import load_mesh
    from mesh.governance.review import render
    from mesh.governance.review import review as review_products
    from mesh.instance.state import open_state
    from mesh.orchestration import environment

    reviews = review_products(load_mesh(), open_state(), environment.lake(), owner, domain)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reviews], indent=1))
    else:
        click.echo(render(reviews))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--record", is_flag=True, help="Record the schema of every product whose change is compatible.")
def lint(as_json: bool, record: bool) -> None:
    """Check every product against the mesh's policies; exit 1 on any error."""
    from mesh.governance.policies import as_json as findings_json
    from mesh.governance.policies import lint as run_lint

    findings = run_lint(record=record)
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        click.echo(json.dumps(findings_json(findings), indent=1))
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    if errors:
        sys.exit(1)


@main.command()
@click.argument("text", required=False)
@click.option("--domain", help="Only this domain.")
@click.option("--owner", help="Only this owner, e.g. team:sales.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def catalog(text: str | None, domain: str | None, owner: str | None, as_json: bool) -> None:
    """Search products by name, description, column and tag."""
    from mesh.contracts.registry import load_mesh
    from mesh.governance.catalog import render_search, search

    entries = search(load_mesh(), text, domain, owner, columns=as_json)
    click.echo(json.dumps([e.as_dict() for e in entries], indent=1) if as_json else render_search(entries))


@main.command()
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(address: str, as_json: bool) -> None:
    """Everything about one product: contract, schema, SLO status, owners, consumers, lineage."""
    from mesh.contracts.names import Address
    from mesh.contracts.registry import load_mesh
    from mesh.governance.catalog import render_show
    from mesh.governance.catalog import show as show_product
    from mesh.governance.review import product_status
    from mesh.orchestration import environment

    mesh = load_mesh()
    product = mesh.product(Address.parse(address))
    lake = environment.lake()
    info = show_product(mesh, address, product_status(product, mesh, lake))
    try:
        info["snapshots"] = [{"snapshot": s.id, "at": s.time.isoformat(timespec="seconds"), "run_id": s.run_id,
                              "what": s.message} for s in lake.snapshots(product.address, limit=10)]
    except MeshError as err:
        info["snapshots"] = f"unavailable: {err}"
    click.echo(json.dumps(info, indent=1, default=str) if as_json else render_show(info))


@main.command()
@click.option("--domain", "domains", multiple=True, help="Only these domains' tables (default: all).")
@click.option("--keep-snapshots-days", type=float, default=30, show_default=True,
              help="Snapshots younger than this stay readable with --as-of.")
def maintain(domains: tuple[str, ...], keep_snapshots_days: float) -> None:
    """Lake maintenance: merge small files, expire old snapshots, delete files no snapshot reads."""
    from datetime import timedelta

    from mesh.contracts.registry import load_mesh
    from mesh.orchestration import environment
    from mesh.storage.maintenance import maintain as run_maintenance

    done = run_maintenance(load_mesh(), environment.lake(), list(domains) or None,
                           timedelta(days=keep_snapshots_days))
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in done.items()))


@main.group()
def export() -> None:
    """Export contracts to open standards."""


@export.command("odcs")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("odcs"), show_default=True)
def export_odcs(out: Path) -> None:
    """Write an Open Data Contract Standard v3 document per product, validated against its JSON Schema."""
    from mesh.contracts.registry import load_mesh
    from mesh.governance.odcs import export as export_documents
    from mesh.orchestration.environment import local_storage_root

    for path in export_documents(load_mesh(), out, local_storage_root()):
        click.echo(str(path))


@main.group()
def new() -> None:
    """Scaffold a domain or a product."""


@new.command("domain")
@click.argument("name")
@click.option("--owner", help="Owner team (team:<name>) or e-mail; default team:<name>.")
@click.option("--description", help="What the domain owns.")
def new_domain(name: str, owner: str | None, description: str | None) -> None:
    """Create a domain's folders and its code location in workspace.yaml."""
    from mesh.contracts.project import project_dir
    from mesh.governance.scaffold import new_domain as scaffold_domain

    for path in scaffold_domain(project_dir(), name, owner, description):
        click.echo(f"wrote {path}")


@new.command("product")
@click.argument("domain")
@click.argument("name")
@click.option("--input", "inputs", multiple=True, help="An input product <domain>.<product> (repeatable).")
@click.option("--kind", type=click.Choice(["consumer-aligned", "aggregate"]), default="consumer-aligned")
@click.option("--description", help="What the product holds, for whom (`mesh lint` refuses the placeholder).")
def new_product(domain: str, name: str, inputs: tuple[str, ...], kind: str, description: str | None) -> None:
    """Create a product's contract, function, schema and test; edit the function next."""
    from mesh.contracts.project import project_dir
    from mesh.governance.scaffold import new_product as scaffold_product

    for path in scaffold_product(project_dir(), domain, name, list(inputs), kind, description):
        click.echo(f"wrote {path}")


@main.group()
def operational() -> None:
    """The simulated operational systems the source-aligned products read from."""


@operational.command("generate")
@click.option("--system", "systems", multiple=True, help="Only these systems (default: all).")
@click.option("--scale-factor", type=float, default=0.01, envvar="MESH_TPCH_SF", show_default=True,
              help="TPC-H scale factor of the ERP; the other systems scale with its customers.")
@click.option("--epoch", type=click.DateTime(["%Y-%m-%d"]), envvar="MESH_ERP_EPOCH", default="2023-01-01",
              show_default=True, help="Calendar day that replays TPC-H's first day, 1992-01-01.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", envvar="MESH_ERP_FORMAT",
              show_default=True, help="Format of the ERP's feeds.")
@click.option("--defect-rate", type=float, default=0.0, envvar="MESH_DEFECT_RATE", show_default=True)
@click.option("--defect-kinds", default="all", envvar="MESH_DEFECT_KINDS", show_default=True,
              help="Comma separated: malformed,wrong_type,null_key,duplicate_key,out_of_range,late")
@click.option("--force", is_flag=True, help="Regenerate even when the feeds are up to date.")
def operational_generate(systems, scale_factor: float, epoch, fmt: str, defect_rate: float, defect_kinds: str,
                         force: bool) -> None:
    """Generate every operational system's daily feeds (TPC-H is generated once and cached)."""
    from mesh.orchestration.environment import operational_root
    from mesh.orchestration.progress import Progress
    from operational import Settings, generate_all
    from operational.feeds import Defects

    try:
        defects = Defects.parse(defect_rate, defect_kinds)
        settings = Settings(scale_factor, epoch.date(), fmt, defects)
        with Progress("generate", unit="files") as progress:
            paths = generate_all(Path(operational_root()), settings, force=force, systems=list(systems) or None,
                                 progress=progress)
    except ValueError as err:
        raise MeshError(str(err)) from None
    for path in paths:
        click.echo(f"feeds at {path}")
    click.echo(f"scale factor {scale_factor:g}, epoch {settings.epoch}, defect rate {defect_rate:g}")


def run() -> None:  # pragma: no cover - console entry point alias
    main()
