"""Where bytes live: a local folder or an S3 bucket, behind one small interface.

``Blobs`` is the whole storage contract the mesh needs: atomic whole-object writes, reads, listing,
deletes, and a pyarrow filesystem for scanning Parquet. Local writes go to a temporary file and are
renamed into place; S3 PUTs are atomic per object. Layout, manifests and Parquet live in
``mesh.storage``; which implementation is used is decided in ``mesh.environment``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from mesh.errors import StorageError


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified_epoch: float


class Blobs(ABC):
    """A flat namespace of keys ('a/b/c.parquet') holding immutable-once-written objects."""

    uri: str

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write an object atomically: readers see the old bytes or the new, never a mix."""

    def put_new(self, key: str, data: bytes) -> None:
        """Write an object under a key nobody reads yet (unique data files): no atomic rename needed."""
        self.put(key, data)

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> list[BlobInfo]: ...

    @abstractmethod
    def delete(self, keys: list[str]) -> None: ...

    @abstractmethod
    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the path prefix under which keys live."""

    def arrow_path(self, key: str) -> str:
        _, base = self.arrow_filesystem()
        return f"{base}/{key}" if base else key

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise read-modify-write of one object among writers on this machine."""
        yield


class LocalBlobs(Blobs):
    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"refusing key {key!r}: it resolves outside the storage root {self.root}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_new(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[BlobInfo]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                stat = path.stat()
                found.append(BlobInfo(str(path.relative_to(self.root)), stat.st_size, stat.st_mtime))
        return found

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(self.root)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        path = self._path(key + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
