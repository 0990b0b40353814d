"""The one place where the environment is read: ``MESH_ENV`` picks the resources.

``local`` (default): products in a lake under a folder (``MESH_STORAGE_URI``, default ``.mesh/products``),
operational feeds under ``.mesh/operational``, a random masking key made on first use (``.mesh/masking.key``,
owner-only; ``MESH_MASKING_KEY`` overrides it), alerts appended to
``.mesh/alerts/outbox.jsonl`` (``MESH_ALERT_OUTBOX``) and posted to ``MESH_ALERT_WEBHOOK_URL`` if set.
``production``: products in the lake with its catalog in PostgreSQL and data on S3, every endpoint and
secret through ``EnvVar``
(resolved by Dagster when a run starts, never at import). The same resource keys exist in both, so
domain code and the compiler never know which environment they run in.

Also here: the principal people read as (``MESH_PRINCIPAL``, ``MESH_PRINCIPAL_DOMAINS``,
``MESH_PRINCIPAL_PII``), used by the command line ports, ``lake``/``masking_key``: what a reader
needs, without Dagster for local storage (Dagster's resources are imported only by ``resources``),
how often the mesh's sensors may tick (``MESH_SENSOR_INTERVAL_SECONDS``, default 30) and how many
partitions a run's first chunk holds (``MESH_CHUNK_PARTITIONS``, default 366).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh.contracts.project import work_dir
from mesh.errors import MeshError

if TYPE_CHECKING:
    from mesh.contracts.access import Principal
    from mesh.orchestration.alerts import AlertsResource
    from mesh.orchestration.resources import AccessResource, OperationalResource, ProductionStorage, StorageResource
    from mesh.storage.lake import Lake, LakeConfig

ENVIRONMENTS = ("local", "production")
CATALOG_FIELDS = {"pg_host": "DAGSTER_PG_HOST", "pg_port": "DAGSTER_PG_PORT", "pg_user": "DAGSTER_PG_USERNAME",
                  "pg_password": "DAGSTER_PG_PASSWORD", "pg_db": "DAGSTER_PG_DB"}
MASKING_KEY_FILE = "masking.key"  # under the project's work folder: local only, production requires MESH_MASKING_KEY
DEFAULT_SENSOR_INTERVAL_SECONDS = 30


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


def sensor_interval_seconds() -> int:
    """The minimum seconds between two ticks of each domain's sensors (its automation sensor and its SLO
    monitor): ``MESH_SENSOR_INTERVAL_SECONDS``, default 30. Read when a code location loads its
    definitions. Lower values alert and follow upstream sooner at the cost of more evaluations; Dagster's
    daemon evaluates its sensors every 5 s at most, so less than that gains nothing (the live tests use 5)."""
    return _whole_number("MESH_SENSOR_INTERVAL_SECONDS", DEFAULT_SENSOR_INTERVAL_SECONDS, "seconds")


def chunk_partitions() -> int:
    """The partitions of a run's first chunk (later ones grow while their rows fit, ``mesh.quality.wap``):
    ``MESH_CHUNK_PARTITIONS``, default 366. Read when a product's step runs. Lower it where memory is
    tight, at the cost of a lake transaction per chunk."""
    from mesh.quality.wap import DEFAULT_CHUNK_PARTITIONS

    return _whole_number("MESH_CHUNK_PARTITIONS", DEFAULT_CHUNK_PARTITIONS, "partitions")


def _whole_number(variable: str, default: int, unit: str) -> int:
    text = os.environ.get(variable, str(default))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise MeshError(f"{variable} must be a whole number of {unit}, at least 1, found {text!r}")
    return value


def _env(variable: str, resolve: bool, optional: bool = False) -> Any:
    """An ``EnvVar`` for Dagster to resolve per run, or its value now (``resolve``) for the CLI."""
    if not resolve:
        import dagster as dg

        return dg.EnvVar(variable) if not optional or os.environ.get(variable) else None
    value = os.environ.get(variable)
    if value is None and not optional:
        raise MeshError(f"environment variable {variable} is not set (needed by MESH_ENV={environment()})")
    return value


def _production_storage(resolve: bool) -> ProductionStorage:
    """Products in the lake: catalog in PostgreSQL (``MESH_LAKE_CATALOG``, a libpq string or URI, else the
    Dagster instance's database from ``DAGSTER_PG_*``, in the schema ``MESH_LAKE_SCHEMA``), data on S3
    (``MESH_S3_BUCKET``, ``MESH_S3_PREFIX``;
    ``MESH_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3`` for an S3-compatible server; keys from
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``)."""
    from mesh.orchestration.resources import ProductionStorage

    endpoint = "MESH_S3_ENDPOINT_URL" if os.environ.get("MESH_S3_ENDPOINT_URL") else "AWS_ENDPOINT_URL_S3"
    return ProductionStorage(
        catalog=_env("MESH_LAKE_CATALOG", resolve, optional=True),
        **{field: _env(variable, resolve, optional=True) for field, variable in CATALOG_FIELDS.items()},
        catalog_schema=os.environ.get("MESH_LAKE_SCHEMA", "mesh_lake"),
        bucket=_env("MESH_S3_BUCKET", resolve),
        prefix=os.environ.get("MESH_S3_PREFIX", "mesh"),
        region=_env("AWS_REGION", resolve),
        endpoint_url=_env(endpoint, resolve, optional=True),
        aws_access_key_id=_env("AWS_ACCESS_KEY_ID", resolve, optional=True),
        aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY", resolve, optional=True),
        aws_session_token=_env("AWS_SESSION_TOKEN", resolve, optional=True),
    )


def local_masking_key(folder: Path | None = None) -> str:
    """This installation's masking key: random, made on first use, readable by its owner only. A key
    in the code would let anyone reverse a hashed name by hashing candidates with it."""
    path = (folder or work_dir()) / MASKING_KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)  # atomic, and never over a key another process made first
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read_key(path)


def _read_key(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        raise MeshError(f"{path} is readable by others: `chmod 600 {path}` (it keys the hash of personal data)")
    key = path.read_text().strip()
    if len(key) < 32:
        raise MeshError(f"{path} holds no usable masking key: delete it and a new one is made")
    return key


def resources(name: str | None = None, resolve: bool = False) -> dict[str, Any]:
    """Resource definitions by environment; secrets and endpoints stay ``EnvVar`` unless ``resolve``."""
    from mesh.orchestration.alerts import AlertsResource
    from mesh.orchestration.resources import AccessResource, LocalStorage, OperationalResource

    name = name or environment()
    if name == "production":
        return {
            "storage": _production_storage(resolve),
            "operational": OperationalResource(root=_env("MESH_OPERATIONAL_ROOT", resolve)),
            "access": AccessResource(masking_key=_env("MESH_MASKING_KEY", resolve)),
            "alerts": AlertsResource(outbox=_env("MESH_ALERT_OUTBOX", resolve),
                                     webhook_url=_env("MESH_ALERT_WEBHOOK_URL", resolve, optional=True)),
        }
    return {
        "storage": LocalStorage(root=local_storage_root()),
        "operational": OperationalResource(root=operational_root()),
        "access": AccessResource(masking_key=masking_key(name)),
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


def masking_key(name: str | None = None) -> str:
    """The key PII is hashed with: ``MESH_MASKING_KEY``, else (local only) this installation's own."""
    if (name or environment()) == "production":
        return _env("MESH_MASKING_KEY", resolve=True)
    return os.environ.get("MESH_MASKING_KEY") or local_masking_key()


def local_lake_config(root: str) -> LakeConfig:
    """The lake under one folder: ``catalog.sqlite`` (DuckLake's catalog) and ``data/`` (Parquet)."""
    from mesh.storage.lake import LakeConfig

    folder = Path(root).resolve()
    return LakeConfig(catalog=f"sqlite:{folder / 'catalog.sqlite'}", data_path=f"{folder / 'data'}/", movable=True)


def lake(name: str | None = None) -> Lake:
    """The environment's lake, for reading outside a run. Local storage opens without Dagster (the
    command line answers in a fraction of a second); production resolves its resource."""
    if (name or environment()) == "production":
        return session("production").storage.lake()
    from mesh.storage.lake import Lake

    root = local_storage_root()
    if root not in _LOCAL_LAKES:
        _LOCAL_LAKES[root] = Lake(local_lake_config(root))
    return _LOCAL_LAKES[root]


# one Lake (one attached catalog) per folder and process, as mesh.orchestration.resources keeps
_LOCAL_LAKES: dict[str, Lake] = {}


def person() -> Principal:
    """The principal a person reads as at the command line."""
    from mesh.contracts.access import Principal

    name = os.environ.get("MESH_PRINCIPAL", os.environ.get("USER", "anonymous"))
    domains = frozenset(d.strip() for d in os.environ.get("MESH_PRINCIPAL_DOMAINS", "").split(",") if d.strip())
    pii = os.environ.get("MESH_PRINCIPAL_PII", "false").lower() in ("1", "true", "yes")
    return Principal(f"person:{name}", domains, pii)
