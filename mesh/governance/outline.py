"""A product model's outline: its columns and its rules' names, kept between command line runs.

`mesh show`, `mesh review` and `mesh catalog <text>` need no more of a pandera model than this, but
building it imports pandera and pandas (over a second on a small machine) and the model's module.
An outline is stored under the work folder (``cache/outlines.json``) with what it was built from:
the project, the contract's schema reference and primary key, and the size and modification time of
every file of the project and of ``mesh`` loaded when it was built (the model's module, whatever it
imports from the project, the code that reads models) and of pandera's and pandas' ``__init__``
(an upgrade rewrites them). It is used while all of these are unchanged; otherwise the model is
built again and its outline replaced. A model that fails to build is never stored: its error shows
every time. Losing the file, or a write that another process overtakes, costs one build.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesh.contracts.registry import Mesh, Product

FORMAT = 1  # bump when what an outline holds, or how it is derived, changes
LIBRARIES = ("pandera", "pandas")


@dataclass(frozen=True)
class ColumnOutline:
    name: str
    type: str  # mesh.quality.rules.logical_type of the column's dtype
    nullable: bool
    description: str


@dataclass(frozen=True)
class Outline:
    columns: tuple[ColumnOutline, ...]
    rules: tuple[str, ...]  # the names of the model's rules, in its order


def outline(product: Product, mesh: Mesh) -> Outline:
    """The outline of the product's model: stored, or built from the model (``mesh.quality.code.model_schema``,
    whose ``ContractError`` it raises when the model does not build)."""
    store = _Store.of(mesh)
    found = store.get(product)
    if found is None:
        from mesh.quality.code import model_schema

        schema = model_schema(product, mesh)
        found = Outline(tuple(ColumnOutline(c.name, c.type_name, bool(c.nullable), c.description or "")
                              for c in schema.columns), tuple(r.name for r in schema.rules))
        store.put(product, found)
    return found


def cache_file() -> Path:
    from mesh.contracts.project import work_dir

    return work_dir() / "cache" / "outlines.json"


class _Store:
    """The outlines file of one work folder, read once per process; files' states looked up once."""

    _open: dict[Path, _Store] = {}

    def __init__(self, path: Path, root: Path):
        self.path, self.root = path, root
        self.entries = self._read()
        self.states: dict[str, list[int] | None] = {}
        self.built: set[str] = set()  # outlines built by this process: written over other processes' ones

    @classmethod
    def of(cls, mesh: Mesh) -> _Store:
        path = cache_file()
        if path not in cls._open or cls._open[path].root != mesh.root:
            cls._open[path] = cls(path, mesh.root)
        return cls._open[path]

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data.get("outlines", {}) if isinstance(data, dict) and data.get("format") == FORMAT else {}

    def _state(self, file: str) -> list[int] | None:
        if file not in self.states:
            try:
                info = os.stat(file)
                self.states[file] = [info.st_mtime_ns, info.st_size]
            except OSError:
                self.states[file] = None
        return self.states[file]

    def _key(self, product: Product) -> dict[str, Any]:
        return {"root": str(self.root), "schema": product.contract.schema_,
                "primary_key": list(product.contract.primary_key or [])}

    def get(self, product: Product) -> Outline | None:
        entry = self.entries.get(str(product.address))
        if not isinstance(entry, dict) or entry.get("key") != self._key(product):
            return None
        files = entry.get("files") or {}
        if not files or any(self._state(file) != state for file, state in files.items()):
            return None
        try:
            return Outline(tuple(ColumnOutline(*c) for c in entry["columns"]), tuple(entry["rules"]))
        except (KeyError, TypeError):  # not an outline this code wrote: built again
            return None

    def put(self, product: Product, found: Outline) -> None:
        """Store an outline just built, with the state of the files loaded to build it."""
        files = {file: state for file in _loaded_files(self.root) if (state := self._fresh_state(file))}
        self.entries[str(product.address)] = {
            "key": self._key(product), "files": files,
            "columns": [[c.name, c.type, c.nullable, c.description] for c in found.columns],
            "rules": list(found.rules)}
        self.built.add(str(product.address))
        self.save()

    def save(self) -> None:
        """Write the outlines this process built, keeping those other processes wrote meanwhile."""
        on_disk = self._read()
        on_disk.update({address: self.entries[address] for address in self.built})
        draft = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):  # a folder that cannot be written to: nothing is kept, all works
            self.path.parent.mkdir(parents=True, exist_ok=True)
            draft.write_text(json.dumps({"format": FORMAT, "outlines": on_disk}))
            os.replace(draft, self.path)

    def _fresh_state(self, file: str) -> list[int] | None:
        self.states.pop(file, None)
        return self._state(file)


def _loaded_files(root: Path) -> set[str]:
    """Source files of every module loaded from the project or from ``mesh``, and the libraries' own."""
    homes = tuple(str(folder) + os.sep for folder in {root.resolve(), Path(__file__).resolve().parents[1]})
    installed = tuple(str(Path(folder).resolve()) + os.sep for folder in {sys.prefix, sys.base_prefix})
    files = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and file.startswith(homes) and not file.startswith(installed):
            files.add(file)  # a virtual environment inside the project holds libraries, not its code
    for library in LIBRARIES:
        spec = importlib.util.find_spec(library)
        if spec is not None and spec.origin:
            files.add(spec.origin)
    return files
