"""The Python port for people and notebooks: read products by address.

    import mesh
    orders = mesh.read("sales.orders", start="2026-11-01", end="2026-11-08")
    top = mesh.sql("SELECT * FROM sales.customer_revenue ORDER BY revenue_usd DESC LIMIT 10")

Reads go through the environment's storage (``MESH_ENV``) as the principal configured by
``MESH_PRINCIPAL*``; access rules and PII masking apply exactly as in the SQL port. Reading needs
neither Dagster nor the products' code: contracts, the lake and DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesh.contracts.registry import load_mesh
from mesh.orchestration import environment
from mesh.storage.ports import Port, to_pandas

if TYPE_CHECKING:  # pandas is imported when a frame is made (``to_pandas``), not by `mesh sql`'s Arrow reads
    import duckdb
    import pandas as pd


def port() -> Port:
    """The ports as the person at the keyboard, over the environment's lake."""
    return Port(load_mesh(), environment.lake(), environment.person(), environment.masking_key().encode())


def read(address: str, partition: str | None = None, start: str | None = None, end: str | None = None,
         version: int | None = None) -> pd.DataFrame:
    """A product (or one partition, or partitions in [start, end)) as a pandas DataFrame."""
    return port().read(address, partition, start, end, version)


def sql(query: str) -> pd.DataFrame:
    """The result of a SQL query over products (``<domain>.<product>`` views) as a DataFrame."""
    return to_pandas(port().sql(query))


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB session with a view per readable product, for interactive work."""
    return port().connect()
