"""Products on S3 (or an S3-compatible server) through dagster-aws: the production ``Blobs``.

Keys live under ``s3://<bucket>/<prefix>/`` with the same layout as a local folder, and the same
publish protocol (``mesh.storage``): data files first, the manifest last. A PUT is atomic per object,
so readers see the old manifest or the new one, never a mix. Data files are written with
``If-None-Match: *`` (a unique key is never overwritten); inside ``lock`` the manifest is written
with ``If-Match`` on the ETag read under that lock (``If-None-Match`` when there was none), so a
second writer of the same product fails loudly instead of silently dropping the other's partitions.

Transient failures (connection errors, throttling, 5xx) are retried by botocore in standard mode,
``max_attempts`` times after the first attempt (the S3 resource's setting), and by pyarrow with the
same bound. Whatever still fails becomes one ``StorageError`` naming the endpoint, the bucket and the
key. The client, region, endpoint and credentials are the S3 resource's (``mesh.environment``
configures it); nothing here reads the environment or knows about manifests and Parquet.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import pyarrow.fs as pafs
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError
from dagster_aws.s3 import S3Resource

from mesh.blobs import BlobInfo, Blobs
from mesh.errors import StorageError
from mesh.resources import StorageResource

T = TypeVar("T")
MISSING = {"NoSuchKey", "404", "NotFound"}
NO_BUCKET = {"NoSuchBucket"}
REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
           "TokenRefreshRequired", "AuthorizationHeaderMalformed", "403", "Forbidden"}
CHANGED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_UNREAD = object()  # inside a lock, before the guarded object was read
_KEY_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_KEY_LOCKS_GUARD = threading.Lock()


class ConcurrentWrite(StorageError):
    """The object changed between this writer's read and its conditional write."""


@dataclass
class _Guard:
    etag: Any = _UNREAD


class S3Blobs(Blobs):
    """``Blobs`` in one bucket under a prefix, through the boto3 client of a dagster-aws ``S3Resource``."""

    def __init__(self, s3: S3Resource, bucket: str, prefix: str = "mesh", client: Any = None):
        if not bucket:
            raise StorageError("no S3 bucket configured for the mesh's products (MESH_S3_BUCKET)")
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client if client is not None else s3.get_client()
        self.endpoint = self.client.meta.endpoint_url
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._local = threading.local()
        self._filesystem: pafs.S3FileSystem | None = None

    # -- keys and errors --------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        parts = key.strip("/").split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"refusing key {key!r}: keys are relative paths without '.' or '..' parts")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self) -> str:
        return f"bucket {self.bucket!r} at {self.endpoint}"

    @property
    def attempts(self) -> int:
        retries = getattr(self.client.meta.config, "retries", None) or {}
        return int(retries.get("total_max_attempts") or retries.get("max_attempts", 0) + 1)

    def _explain(self, err: Exception, action: str) -> StorageError:
        where = self._where()
        if isinstance(err, ClientError):
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            message = err.response.get("Error", {}).get("Message", "") or str(err)
            if code in NO_BUCKET:
                return StorageError(f"{action}: {where} does not exist; create it or set MESH_S3_BUCKET")
            if code in REFUSED or status == "403":
                return StorageError(f"{action}: {where} refused the credentials ({code or status}: {message}); "
                                    f"check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the role's policy")
            if code in CHANGED or status == "412":
                return ConcurrentWrite(f"{action}: the condition on it failed in {where} ({code or status})")
            return StorageError(f"{action}: {where} answered {code or status}: {message}")
        if isinstance(err, NoCredentialsError | PartialCredentialsError):
            return StorageError(f"{action}: no usable AWS credentials for {where}: {err}")
        return StorageError(f"{action}: {where} is unreachable after {self.attempts} attempt(s): {err}")

    def _call(self, action: str, function: Callable[[], T], missing: Callable[[], T] | None = None) -> T:
        try:
            return function()
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if missing is not None and code in MISSING:
                return missing()
            raise self._explain(err, action) from err
        except BotoCoreError as err:
            raise self._explain(err, action) from err

    # -- the Blobs interface ----------------------------------------------------------------------
    def _guards(self) -> dict[str, _Guard]:
        if not hasattr(self._local, "guards"):
            self._local.guards = {}
        return self._local.guards

    def get(self, key: str) -> bytes | None:
        full = self._key(key)

        def read() -> tuple[bytes, str | None]:
            response = self.client.get_object(Bucket=self.bucket, Key=full)
            return response["Body"].read(), response.get("ETag")

        found = self._call(f"reading {full}", read, missing=lambda: (None, None))
        guard = self._guards().get(key)
        if guard is not None:
            guard.etag = found[1]
        return found[0]

    def put(self, key: str, data: bytes) -> None:
        full = self._key(key)
        guard = self._guards().get(key)
        condition = {}
        if guard is not None and guard.etag is not _UNREAD:
            condition = {"IfMatch": guard.etag} if guard.etag else {"IfNoneMatch": "*"}
        response = self._put(full, data, condition, "another writer changed it first")
        if guard is not None:
            guard.etag = response.get("ETag")

    def put_new(self, key: str, data: bytes) -> None:
        self._put(self._key(key), data, {"IfNoneMatch": "*"}, "it already exists (data files are never replaced)")

    def _put(self, full: str, data: bytes, condition: dict[str, str], conflict: str) -> dict:
        action = f"writing {full}"
        try:
            return self._call(action, lambda: self.client.put_object(Bucket=self.bucket, Key=full, Body=data,
                                                                     **condition))
        except ConcurrentWrite:
            # A retried PUT whose first attempt did land finds its own object: that is success.
            current = self._call(f"reading {full}", lambda: self.client.get_object(Bucket=self.bucket, Key=full),
                                 missing=lambda: None)
            if current is not None and current["Body"].read() == data:
                return {"ETag": current.get("ETag")}
            raise ConcurrentWrite(f"{action}: {conflict} in {self._where()}; nothing was overwritten, "
                                  f"run again (one writer per product at a time)") from None

    def list(self, prefix: str) -> list[BlobInfo]:
        base = self._key(prefix) + "/" if prefix.strip("/") else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0

        def listing() -> list[BlobInfo]:
            found = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", []):
                    found.append(BlobInfo(item["Key"][strip:], item["Size"], item["LastModified"].timestamp()))
            return found

        return self._call(f"listing {base}", listing)

    def delete(self, keys: list[str]) -> None:
        full = [self._key(k) for k in keys]
        for start in range(0, len(full), 1000):
            batch = full[start:start + 1000]
            response = self._call(f"deleting {len(batch)} object(s) under {self.prefix or '/'}",
                                  lambda batch=batch: self.client.delete_objects(
                                      Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch],
                                                                  "Quiet": True}))
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(f"deleting {first.get('Key')}: {self._where()} answered "
                                   f"{first.get('Code')}: {first.get('Message')} ({len(errors)} object(s) not deleted)")

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise writers of one object in this process; the conditional PUT catches other processes."""
        with _KEY_LOCKS_GUARD:
            process_lock = _KEY_LOCKS.setdefault((self.uri, key), threading.Lock())
        with process_lock:
            guards = self._guards()
            guards[key] = _Guard()
            try:
                yield
            finally:
                guards.pop(key, None)

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        if self._filesystem is None:
            self._filesystem = pafs.S3FileSystem(**arrow_options(self.s3, self.client))
        return self._filesystem, f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket


def arrow_options(s3: S3Resource, client: Any) -> dict[str, Any]:
    """pyarrow ``S3FileSystem`` settings equal to the boto3 client's: endpoint, region, credentials, retries."""
    options: dict[str, Any] = {
        "region": client.meta.region_name,
        # dagster-aws's max_attempts is botocore's retries after the first attempt; pyarrow counts the first.
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=max(0, s3.max_attempts) + 1),
        "allow_bucket_creation": False,
        "allow_bucket_deletion": False,
    }
    endpoint = urlparse(client.meta.endpoint_url or "")
    if endpoint.hostname and not endpoint.hostname.endswith("amazonaws.com"):
        options["endpoint_override"] = endpoint.netloc + endpoint.path.rstrip("/")
        options["scheme"] = endpoint.scheme or "https"
    if s3.use_unsigned_session:
        options["anonymous"] = True
    elif s3.aws_access_key_id and s3.aws_secret_access_key:
        options |= {"access_key": s3.aws_access_key_id, "secret_key": s3.aws_secret_access_key,
                    "session_token": s3.aws_session_token}
    # Otherwise the AWS SDK's default chain finds the same credentials boto3 did (environment,
    # profile, ECS task role, instance profile), and refreshes temporary ones itself.
    return options


class S3Storage(StorageResource):
    """Products on S3 (or an S3-compatible server) through dagster-aws's S3 resource."""

    s3: S3Resource
    bucket: str
    prefix: str = "mesh"

    def blobs(self) -> Blobs:
        return S3Blobs(self.s3, self.bucket, self.prefix)
