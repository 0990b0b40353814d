"""The storage of record: Parquet partitions of each product version, published through a manifest.

Layout under the storage root (a folder or ``s3://bucket/prefix``)::

    <domain>/<product>/v<major>/<partition>.<write-id>.parquet   data, immutable once written
    <domain>/<product>/v<major>/_manifest.json                   what readers see
    <domain>/<product>__quarantine/v<major>/...                  rejected rows, same protocol

Publishing writes the new data files first (no reader looks at them yet), then replaces the
manifest in one atomic write. A run that dies before that leaves the previous snapshot exactly as it
was; re-publishing a partition replaces its entry, so re-runs never duplicate rows. Files a manifest
no longer lists are deleted one publish later, giving readers in flight time to finish.
Does not validate data or know about Dagster; reading with access rules is ``mesh.ports``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from mesh.blobs import Blobs
from mesh.errors import InvalidName, StorageError
from mesh.names import Address

ALL = "all"  # the partition key of an unpartitioned product's snapshot
PARTITION_KEY_RE = re.compile(r"^(all|\d{4}-\d{2}-\d{2}(-\d{2}:\d{2})?)$")
MANIFEST = "_manifest.json"
ORPHAN_GRACE_SECONDS = 6 * 3600
PUBLISH_WRITERS = 8  # partition files written at once by one publish


def check_partition_key(key: str) -> str:
    if not isinstance(key, str) or not PARTITION_KEY_RE.match(key):
        raise InvalidName(f"invalid partition key {key!r}: expected 'YYYY-MM-DD', 'YYYY-MM-DD-HH:MM' or 'all'")
    return key


def _stem(key: str) -> str:
    return key.replace(":", "")


@dataclass
class PartitionEntry:
    file: str
    rows: int
    rows_in: int
    rows_quarantined: int
    run_id: str
    published_at: str
    bytes: int = 0


@dataclass
class Manifest:
    address: str
    major: int
    generation: int = 0
    updated_at: str = ""
    schema_b64: str = ""
    columns: list[list[str]] = field(default_factory=list)
    partitions: dict[str, PartitionEntry] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)

    @property
    def schema(self) -> pa.Schema | None:
        if not self.schema_b64:
            return None
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.schema_b64)))

    def keys(self, start: str | None = None, end: str | None = None) -> list[str]:
        """Published partition keys, optionally within [start, end)."""
        return sorted(
            k for k in self.partitions if (start is None or k >= start) and (end is None or k < end)
        )

    @property
    def rows(self) -> int:
        return sum(entry.rows for entry in self.partitions.values())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        raw["partitions"] = {k: PartitionEntry(**v) for k, v in raw.get("partitions", {}).items()}
        return cls(**raw)


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.remove_metadata().serialize().to_pybytes()).decode()


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


@dataclass
class Publication:
    table: pa.Table
    rows_in: int
    rows_quarantined: int


class ProductStore:
    """Reads and publishes product versions on a ``Blobs`` root."""

    def __init__(self, blobs: Blobs):
        self.blobs = blobs

    @property
    def uri(self) -> str:
        return self.blobs.uri

    @staticmethod
    def prefix(address: Address, major: int) -> str:
        return f"{address.domain}/{address.table}/v{int(major)}"

    def manifest(self, address: Address, major: int) -> Manifest | None:
        data = self.blobs.get(f"{self.prefix(address, major)}/{MANIFEST}")
        if data is None:
            return None
        try:
            return Manifest.from_json(data)
        except (ValueError, TypeError, KeyError) as err:
            raise StorageError(f"manifest of {address} v{major} at {self.blobs.uri} is unreadable: {err}") from err

    def majors(self, address: Address) -> list[int]:
        """Versions of a product that have been published, newest first."""
        found = set()
        for info in self.blobs.list(f"{address.domain}/{address.table}"):
            parts = info.key.split("/")
            if len(parts) == 4 and parts[3] == MANIFEST and re.fullmatch(r"v\d+", parts[2]):
                found.add(int(parts[2][1:]))
        return sorted(found, reverse=True)

    def publish(
        self,
        address: Address,
        major: int,
        partitions: dict[str, Publication],
        run_id: str,
        retention_keep_from: str | None = None,
        skip_empty: bool = False,
    ) -> Manifest:
        """Write each partition's table, then switch the manifest to them in one atomic write.

        With ``skip_empty`` an empty partition is recorded without a file (quarantines are mostly empty).
        """
        prefix = self.prefix(address, major)
        write_id = f"{run_id[:8]}-{secrets.token_hex(3)}"
        schema = None
        now = _utcnow()
        for key, pub in partitions.items():
            check_partition_key(key)
            schema = pub.table.schema

        def write(key: str, pub: Publication) -> PartitionEntry:
            if pub.table.num_rows == 0 and skip_empty:
                return PartitionEntry("", 0, pub.rows_in, pub.rows_quarantined, run_id, now, 0)
            data = parquet_bytes(pub.table)
            name = f"{_stem(key)}.{write_id}.parquet"
            self.blobs.put_new(f"{prefix}/{name}", data)
            return PartitionEntry(
                file=name,
                rows=pub.table.num_rows,
                rows_in=pub.rows_in,
                rows_quarantined=pub.rows_quarantined,
                run_id=run_id,
                published_at=now,
                bytes=len(data),
            )

        if len(partitions) > 1:  # each write mostly waits for its own fsync (or upload): overlap them
            with ThreadPoolExecutor(max_workers=PUBLISH_WRITERS) as pool:
                entries = list(pool.map(write, partitions.keys(), partitions.values()))
        else:
            entries = [write(key, pub) for key, pub in partitions.items()]
        written = dict(zip(partitions, entries, strict=True))
        with self.blobs.lock(f"{prefix}/{MANIFEST}"):
            current = self.manifest(address, major) or Manifest(address=str(address), major=major)
            superseded = [current.partitions[k].file for k in written if k in current.partitions]
            superseded = [f for f in superseded if f]
            merged = {**current.partitions, **written}
            if retention_keep_from is not None:
                expired = [k for k in merged if k != ALL and k < retention_keep_from]
                superseded += [f for f in (merged.pop(k).file for k in expired) if f]
            manifest = Manifest(
                address=str(address),
                major=major,
                generation=current.generation + 1,
                updated_at=now,
                schema_b64=_schema_b64(schema) if schema is not None else current.schema_b64,
                columns=[[f.name, str(f.type)] for f in schema] if schema is not None else current.columns,
                partitions=dict(sorted(merged.items())),
                retired=superseded,
            )
            self.blobs.put(f"{prefix}/{MANIFEST}", manifest.to_json())
        # Files superseded one publish ago are no longer read by anyone: delete them now.
        self.blobs.delete([f"{prefix}/{name}" for name in current.retired])
        return manifest

    def vacuum(self, address: Address, major: int, grace_seconds: float = ORPHAN_GRACE_SECONDS) -> list[str]:
        """Delete data files of dead runs that no manifest lists, once they are old enough."""
        prefix = self.prefix(address, major)
        manifest = self.manifest(address, major)
        if manifest is None:
            return []
        keep = {e.file for e in manifest.partitions.values()} | set(manifest.retired) | {MANIFEST}
        cutoff = time.time() - grace_seconds
        orphans = [
            info.key
            for info in self.blobs.list(prefix)
            if info.key.rsplit("/", 1)[-1] not in keep
            and info.key.endswith(".parquet")
            and info.modified_epoch < cutoff
        ]
        self.blobs.delete(orphans)
        return orphans

    def dataset(self, manifest: Manifest, keys: list[str] | None = None) -> pads.Dataset:
        """A lazy Arrow dataset over the chosen published partitions (all when keys is None)."""
        filesystem, _ = self.blobs.arrow_filesystem()
        address = Address.parse(manifest.address)
        chosen = manifest.keys() if keys is None else [k for k in keys if k in manifest.partitions]
        prefix = self.prefix(address, manifest.major)
        paths = [self.blobs.arrow_path(f"{prefix}/{manifest.partitions[k].file}") for k in chosen
                 if manifest.partitions[k].file]
        return pads.dataset(paths, schema=manifest.schema, format="parquet", filesystem=filesystem)
