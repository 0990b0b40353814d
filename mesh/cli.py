"""The ``mesh`` command: what people do with the mesh outside the Dagster UI.

Each subcommand is a thin shell over a module (ports, runs, governance, catalog...): it parses
arguments, calls one function and prints. Errors a user caused exit with status 1 and one message;
a bug still shows its traceback.
"""

from __future__ import annotations

import json
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


def _port():
    from mesh import environment
    from mesh.ports import Port
    from mesh.registry import load_mesh

    session = environment.session()
    return Port(load_mesh(), session.storage.store(), environment.person(), session.access.key_bytes)


def print_table(table, output: str, limit: int) -> None:
    import duckdb

    if output == "json":
        click.echo(json.dumps(table.slice(0, limit).to_pylist(), default=str, indent=1))
    elif output == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table.slice(0, limit), sys.stdout.buffer)
    else:
        con = duckdb.connect()
        con.register("result", table)
        click.echo(con.sql("SELECT * FROM result").__str__() if table.num_rows else _empty(table))
        if table.num_rows > limit:
            click.echo(f"({table.num_rows} rows; use --format csv or json for all)")


def _empty(table) -> str:
    return "(no rows) columns: " + ", ".join(table.column_names)


@main.command()
@click.argument("query")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--limit", type=int, default=1_000_000, help="Rows printed at most (csv/json).")
def sql(query: str, output: str, limit: int) -> None:
    """Run a SQL query over products, addressed as <domain>.<product>."""
    print_table(_port().sql(query), output, limit)


@main.command()
@click.argument("address")
@click.option("--partition", help="One partition key, e.g. 2026-11-01.")
@click.option("--start", help="First partition key of a range.")
@click.option("--end", help="Partition key after the range (exclusive).")
@click.option("--version", "version", type=int, help="Major version to read (default: current).")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--limit", type=int, default=1_000_000)
def read(address: str, partition, start, end, version, output: str, limit: int) -> None:
    """Read one product by address (the Python port), optionally one partition or a range."""
    print_table(_port().table(address, partition, start, end, version), output, limit)


@main.command()
@click.option("--days", type=int, default=30, show_default=True, envvar="MESH_DAYS",
              help="Materialize the newest N daily partitions.")
@click.option("--start", help="First partition key (instead of --days).")
@click.option("--end", help="Last partition key, inclusive (default: the newest complete one).")
@click.option("--domain", "domains", multiple=True, help="Only these domains (default: all).")
def materialize(days: int, start: str | None, end: str | None, domains: tuple[str, ...]) -> None:
    """Materialize the mesh for a window of partitions, recorded in the Dagster instance."""
    from mesh.runs import materialize_window

    result = materialize_window(days=days, start=start, end=end, domains=list(domains) or None, echo=click.echo)
    if not result.success:
        raise MeshError(result.summary)
    click.echo(result.summary)


@main.command()
@click.option("--owner", help="Only products of this owner, e.g. team:sales.")
@click.option("--domain", help="Only products of this domain.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def review(owner: str | None, domain: str | None, as_json: bool) -> None:
    """Each product's latest check results and breached SLOs, failing first."""
    from mesh import environment
    from mesh.registry import load_mesh
    from mesh.review import render
    from mesh.review import review as review_products
    from mesh.runs import ensure_instance

    reviews = review_products(load_mesh(), ensure_instance(), environment.session().storage.store(), owner, domain)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reviews], indent=1))
    else:
        click.echo(render(reviews))


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
    from mesh.environment import operational_root
    from operational import Settings, generate_all
    from operational.feeds import Defects

    try:
        defects = Defects.parse(defect_rate, defect_kinds)
        settings = Settings(scale_factor, epoch.date(), fmt, defects)
        paths = generate_all(Path(operational_root()), settings, force=force, systems=list(systems) or None)
    except ValueError as err:
        raise MeshError(str(err)) from None
    for path in paths:
        click.echo(f"feeds at {path}")
    click.echo(f"scale factor {scale_factor:g}, epoch {settings.epoch}, defect rate {defect_rate:g}")


def run() -> None:  # pragma: no cover - console entry point alias
    main()
