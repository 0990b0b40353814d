"""Dagster resources of the mesh: the same keys in every environment, different implementations.

``storage`` is where products are published (a local folder or S3 through dagster-aws),
``operational`` is where source feeds are read from, and ``access`` holds the masking key and the
principal people read as. Which implementation and configuration is used is decided in one place,
``mesh.environment``; nothing here reads the environment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

from mesh.blobs import Blobs, LocalBlobs
from mesh.storage import ProductStore


class StorageResource(dg.ConfigurableResource, ABC):
    """Where products live. ``store()`` gives the publishing and reading protocol over it."""

    @abstractmethod
    def blobs(self) -> Blobs: ...

    def store(self) -> ProductStore:
        return ProductStore(self.blobs())


class LocalStorage(StorageResource):
    root: str

    def blobs(self) -> Blobs:
        return LocalBlobs(Path(self.root))


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
