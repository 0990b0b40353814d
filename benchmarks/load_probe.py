"""Run in a fresh interpreter by the definitions case: time importing and loading a mesh project.

Prints one JSON line: seconds of ``import`` (dagster and the mesh), ``load_mesh``, ``build_mesh``,
``resolve`` (asset graph and jobs, as a code location does on load) and ``snapshot`` (the
repository snapshot a code server sends to the webserver), the peak resident memory, and counts.
The project is ``MESH_PROJECT_DIR``. Imports nothing before it starts the clock.
"""

import json
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """Peak resident memory of this process image (VmHWM; ``ru_maxrss`` would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


started = time.perf_counter()
import dagster  # noqa: E402, F401

from mesh.contracts.registry import load_mesh  # noqa: E402
from mesh.orchestration.definitions import build_mesh  # noqa: E402

imported = time.perf_counter()
mesh = load_mesh()
loaded = time.perf_counter()
definitions, failures = build_mesh(mesh)
built = time.perf_counter()
repository = definitions.get_repository_def()
jobs = repository.get_all_jobs()
assets = len(repository.asset_graph.get_all_asset_keys())
resolved = time.perf_counter()
from dagster._core.remote_representation.external_data import RepositorySnap  # noqa: E402

RepositorySnap.from_def(repository)
snapshot = time.perf_counter()
print(json.dumps({
    "import": imported - started, "load_mesh": loaded - imported, "build_mesh": built - loaded,
    "resolve": resolved - built, "snapshot": snapshot - resolved,
    "peak_rss_mib": peak_rss_mib(),
    "products": len(mesh.products), "assets": assets, "jobs": len(jobs),
    "failures": {k: str(v)[:300] for k, v in failures.items()},
}))
