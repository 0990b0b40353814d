"""The production profile against real servers on loopback: PostgreSQL for the Dagster instance and
the moto S3 server for products and compute logs, started once per session and stopped after it.

``production_profile`` gives a test module its own database, buckets and ``DAGSTER_HOME`` holding
``deploy/dagster.yaml`` unchanged (its ECS run launcher is built but never asked to launch: the
mesh runs in process here, as ``mesh materialize`` does), plus helpers to run the ``mesh`` command,
read through the ports and query Postgres.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import boto3
import psycopg2
import pytest

from tests.conftest import ROOT
from tests.production.servers import MotoS3, Postgres

BIN = Path(sys.executable).parent
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="mesh-postgres-"))
    server = Postgres(root).init()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3() -> Iterator[MotoS3]:
    root = Path(tempfile.mkdtemp(prefix="mesh-s3-"))
    server = MotoS3(root).start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Profile:
    """One production deployment in miniature: environment variables, instance, buckets."""

    env: dict[str, str]
    home: Path
    postgres: Postgres
    s3: MotoS3

    @property
    def bucket(self) -> str:
        return self.env["MESH_S3_BUCKET"]

    def client(self):
        return boto3.client("s3", endpoint_url=self.s3.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def mesh(self, *args: str, env: dict[str, str] | None = None, command: list[str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess:
        """The ``mesh`` command line in a subprocess, with this profile's environment."""
        return subprocess.run([*(command or [str(BIN / "mesh")]), *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **self.env, **(env or {})}, timeout=timeout)

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        with mock.patch.dict(os.environ, self.env):
            yield

    def port(self):
        """The ports as the platform principal, on the storage the production profile configures."""
        from mesh.contracts.access import Principal
        from mesh.contracts.registry import load_mesh
        from mesh.orchestration import environment
        from mesh.storage.ports import Port

        with self.environment():
            session = environment.session("production")
            return Port(load_mesh(), session.storage.lake(), Principal.platform(), session.access.key_bytes)

    def sql(self, query: str, *params) -> list[tuple]:
        """A query against the instance's Postgres database."""
        with psycopg2.connect(host="127.0.0.1", port=self.postgres.port, user="postgres",
                              dbname=self.env["DAGSTER_PG_DB"]) as connection, connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()


def make_profile(postgres: Postgres, s3: MotoS3, erp_root: Path, root: Path) -> Profile:
    n = next(_names)
    database = postgres.create_database(f"dagster_{n}_{os.getpid()}")
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    products, logs = f"mesh-products-{n}", f"mesh-compute-logs-{n}"
    env = {
        "MESH_ENV": "production",
        "MESH_S3_BUCKET": products,
        "MESH_OPERATIONAL_ROOT": str(erp_root),
        "MESH_MASKING_KEY": "test-masking-key",
        "MESH_ALERT_OUTBOX": str(root / "alerts" / "outbox.jsonl"),
        # Products must not land on local disk: this folder must never appear.
        "MESH_STORAGE_URI": str(root / "local-products"),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        # One variable points boto3 (mesh storage, compute logs) and, through it, pyarrow at moto.
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
        "DAGSTER_COMPUTE_LOG_BUCKET": logs,
    }
    profile = Profile(env, home, postgres, s3)
    for bucket in (products, logs):
        profile.client().create_bucket(Bucket=bucket)
    return profile


@pytest.fixture(scope="module")
def production_profile(postgres, s3, erp_root, tmp_path_factory) -> Profile:
    return make_profile(postgres, s3, erp_root, tmp_path_factory.mktemp("production"))
