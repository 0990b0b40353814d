"""Dagster resources of the mesh: the same keys in every environment, different implementations.

``storage`` is the lake products are published to (``mesh.storage.lake``: a SQLite catalog and a folder
locally; a PostgreSQL catalog and an S3 bucket in production), ``operational`` is where source feeds
are read from, and ``access`` holds the masking key. Which implementation and configuration is used
is decided in one place, ``mesh.orchestration.environment``; nothing here reads the environment.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg

from mesh.errors import StorageError
from mesh.storage.lake import Lake, LakeConfig

_LAKES: dict[str, Lake] = {}
_LAKES_GUARD = threading.Lock()


def lake_for(config: LakeConfig) -> Lake:
    """One ``Lake`` (one attached catalog) per configuration and process."""
    key = repr(config)
    with _LAKES_GUARD:
        if key not in _LAKES:
            _LAKES[key] = Lake(config)
        return _LAKES[key]


class StorageResource(dg.ConfigurableResource, ABC):
    """Where products live: ``lake()`` gives the publishing and reading protocol over it."""

    @abstractmethod
    def lake_config(self) -> LakeConfig: ...

    def lake(self) -> Lake:
        return lake_for(self.lake_config())


class LocalStorage(StorageResource):
    """A lake under one folder: ``catalog.sqlite`` (DuckLake's catalog) and ``data/`` (Parquet)."""

    root: str

    def lake_config(self) -> LakeConfig:
        root = Path(self.root).resolve()
        return LakeConfig(catalog=f"sqlite:{root / 'catalog.sqlite'}", data_path=f"{root / 'data'}/", movable=True)


class ProductionStorage(StorageResource):
    """The catalog in PostgreSQL (a schema of its own), data in an S3 bucket (or S3-compatible server)."""

    catalog: str | None = None  # a libpq connection string or postgresql:// URI; else the pg_* fields
    pg_host: str | None = None
    pg_port: str | None = None
    pg_user: str | None = None
    pg_password: str | None = None
    pg_db: str | None = None
    catalog_schema: str = "mesh_lake"
    bucket: str
    prefix: str = "mesh"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    def lake_config(self) -> LakeConfig:
        prefix = self.prefix.strip("/")
        secret: dict[str, object] = {"key_id": self.aws_access_key_id, "secret": self.aws_secret_access_key,
                                     "session_token": self.aws_session_token, "region": self.region}
        if self.endpoint_url:
            endpoint = urlparse(self.endpoint_url)
            secret |= {"endpoint": endpoint.netloc + endpoint.path.rstrip("/"), "url_style": "path",
                       "use_ssl": endpoint.scheme != "http"}
        return LakeConfig(catalog=f"postgres:{self.catalog or self._libpq()}", metadata_schema=self.catalog_schema,
                          data_path=f"s3://{self.bucket}/{prefix + '/' if prefix else ''}", s3=secret)


    def _libpq(self) -> str:
        parts = {"host": self.pg_host, "port": self.pg_port, "user": self.pg_user, "password": self.pg_password,
                 "dbname": self.pg_db}
        missing = [k for k in ("host", "user", "dbname") if not parts[k]]
        if missing:
            raise StorageError(f"the lake's PostgreSQL catalog lacks {', '.join(missing)}: set MESH_LAKE_CATALOG "
                               f"or DAGSTER_PG_HOST, DAGSTER_PG_USERNAME and DAGSTER_PG_DB")
        return " ".join(f"{k}={_libpq_value(v)}" for k, v in parts.items() if v)


def _libpq_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class OperationalResource(dg.ConfigurableResource):
    """The operational plane source-aligned products read their feeds from."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


class AccessResource(dg.ConfigurableResource):
    """Secrets and identity for reading: the PII masking key."""

    masking_key: str

    @property
    def key_bytes(self) -> bytes:
        return self.masking_key.encode()
