"""The one place where the environment is read: ``MESH_ENV`` picks the resources.

``local`` (default): products in a folder (``MESH_STORAGE_URI``, default ``.mesh/products``),
operational feeds under ``.mesh/operational``, a development masking key, alerts appended to
``.mesh/alerts/outbox.jsonl`` (``MESH_ALERT_OUTBOX``) and posted to ``MESH_ALERT_WEBHOOK_URL`` if set.
``production``: products on S3 through dagster-aws, every endpoint and secret through ``EnvVar``
(resolved by Dagster when a run starts, never at import). The same resource keys exist in both, so
domain code and the compiler never know which environment they run in.

Also here: the principal people read as (``MESH_PRINCIPAL``, ``MESH_PRINCIPAL_DOMAINS``,
``MESH_PRINCIPAL_PII``), used by the command line ports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from mesh.access import Principal
from mesh.alerts import AlertsResource
from mesh.errors import MeshError
from mesh.project import work_dir
from mesh.resources import AccessResource, LocalStorage, OperationalResource, StorageResource

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

ENVIRONMENTS = ("local", "production")
DEV_MASKING_KEY = "local-development-masking-key"  # local only: production requires MESH_MASKING_KEY


def environment() -> str:
    name = os.environ.get("MESH_ENV", "local")
    if name not in ENVIRONMENTS:
        raise MeshError(f"MESH_ENV must be one of {', '.join(ENVIRONMENTS)}, found {name!r}")
    return name


def local_storage_root() -> str:
    uri = os.environ.get("MESH_STORAGE_URI") or str(work_dir() / "products")
    if uri.startswith("s3://"):
        raise MeshError("MESH_STORAGE_URI is an s3:// address: set MESH_ENV=production for S3 storage")
    return uri.removeprefix("file://")


def default_outbox() -> str:
    return str(work_dir() / "alerts" / "outbox.jsonl")


def operational_root() -> str:
    return os.environ.get("MESH_OPERATIONAL_ROOT") or str(work_dir() / "operational")


def _env(variable: str, resolve: bool, optional: bool = False) -> Any:
    """An ``EnvVar`` for Dagster to resolve per run, or its value now (``resolve``) for the CLI."""
    if not resolve:
        return dg.EnvVar(variable) if not optional or os.environ.get(variable) else None
    value = os.environ.get(variable)
    if value is None and not optional:
        raise MeshError(f"environment variable {variable} is not set (needed by MESH_ENV={environment()})")
    return value


def _s3_resource(resolve: bool) -> S3Resource:
    """S3 through dagster-aws. Without MESH_S3_ENDPOINT_URL boto3 uses AWS_ENDPOINT_URL_S3 or AWS itself;
    without keys, the default chain (ECS task role, instance profile, profile). botocore retries a
    request that failed transiently MESH_S3_RETRIES times (dagster-aws's ``max_attempts``, default 5)."""
    from dagster_aws.s3 import S3Resource  # only production pays for importing dagster-aws and boto3

    settings: dict[str, Any] = {
        "region_name": _env("AWS_REGION", resolve),
        "endpoint_url": _env("MESH_S3_ENDPOINT_URL", resolve, optional=True),
        "aws_access_key_id": _env("AWS_ACCESS_KEY_ID", resolve, optional=True),
        "aws_secret_access_key": _env("AWS_SECRET_ACCESS_KEY", resolve, optional=True),
        "aws_session_token": _env("AWS_SESSION_TOKEN", resolve, optional=True),
    }
    retries = os.environ.get("MESH_S3_RETRIES")
    if retries:
        if not retries.isdigit():
            raise MeshError(f"MESH_S3_RETRIES must be a whole number (retries per request), found {retries!r}")
        settings["max_attempts"] = int(retries) if resolve else dg.EnvVar.int("MESH_S3_RETRIES")
    return S3Resource(**settings)


def resources(name: str | None = None, resolve: bool = False) -> dict[str, Any]:
    """Resource definitions by environment; secrets and endpoints stay ``EnvVar`` unless ``resolve``."""
    name = name or environment()
    if name == "production":
        from mesh.s3 import S3Storage

        return {
            "storage": S3Storage(s3=_s3_resource(resolve), bucket=_env("MESH_S3_BUCKET", resolve),
                                 prefix=os.environ.get("MESH_S3_PREFIX", "mesh")),
            "operational": OperationalResource(root=_env("MESH_OPERATIONAL_ROOT", resolve)),
            "access": AccessResource(masking_key=_env("MESH_MASKING_KEY", resolve)),
            "alerts": AlertsResource(outbox=_env("MESH_ALERT_OUTBOX", resolve),
                                     webhook_url=_env("MESH_ALERT_WEBHOOK_URL", resolve, optional=True)),
        }
    return {
        "storage": LocalStorage(root=local_storage_root()),
        "operational": OperationalResource(root=operational_root()),
        "access": AccessResource(masking_key=os.environ.get("MESH_MASKING_KEY") or DEV_MASKING_KEY),
        "alerts": AlertsResource(outbox=os.environ.get("MESH_ALERT_OUTBOX") or default_outbox(),
                                 webhook_url=_env("MESH_ALERT_WEBHOOK_URL", resolve, optional=True)),
    }


@dataclass(frozen=True)
class Session:
    """Resources resolved for use outside a Dagster run (the command line, tests, notebooks)."""

    storage: StorageResource
    operational: OperationalResource
    access: AccessResource
    alerts: AlertsResource


def session(name: str | None = None) -> Session:
    return Session(**resources(name, resolve=True))


def person() -> Principal:
    """The principal a person reads as at the command line."""
    name = os.environ.get("MESH_PRINCIPAL", os.environ.get("USER", "anonymous"))
    domains = frozenset(d.strip() for d in os.environ.get("MESH_PRINCIPAL_DOMAINS", "").split(",") if d.strip())
    pii = os.environ.get("MESH_PRINCIPAL_PII", "false").lower() in ("1", "true", "yes")
    return Principal(f"person:{name}", domains, pii)
