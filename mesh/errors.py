"""User-facing errors of the mesh.

Every error a person can cause (a bad contract, a bad name, a missing file, a denied read) is a
``MeshError`` whose message names what, where and what was expected, so that the command line and
the Dagster UI can show it without a stack trace. Holds no logic beyond formatting.
"""

from __future__ import annotations


class MeshError(Exception):
    """An error caused by input or configuration, reported to the user as one clear message."""


class InvalidName(MeshError, ValueError):
    """A domain, product or address that breaks the naming rule."""


class ContractError(MeshError):
    """A contract or domain file that does not validate: names the file, the field and the problem."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        lines = [f"{file}: {field}: {message}" if field else f"{file}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


class NotFound(MeshError, LookupError):
    """A product, partition or operational file that does not exist."""


class AccessDenied(MeshError, PermissionError):
    """A principal reading a product it may not read."""


class StorageError(MeshError):
    """Storage that cannot be reached or written, naming the endpoint."""
