"""A window runs in chunks: the first of ``chunk_partitions``, later ones as many partitions as the row
budget allows at the highest density the chunks before showed, never fewer than the first's and at
most ``CHUNK_GROWTH`` times the previous one's (``mesh.quality.wap``).

Sparse data runs a long window in fewer chunks (each costs a lake transaction); dense data keeps
chunks of the first's size, so memory stays bounded. Either way every partition runs once, in
order, and what is published does not depend on how the window was cut. A Dagster run's first chunk
holds ``MESH_CHUNK_PARTITIONS`` partitions (default 366), and its log says which chunk it runs.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from mesh.contracts.access import Principal
from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh
from mesh.quality.code import resolve
from mesh.quality.wap import CHUNK_GROWTH, Report, Runner
from tests.conftest import MeshEnv

ADDRESS = "customer.customers"
FIRST, LAST = "2026-10-01", "2026-10-20"  # 20 days


def run(env: MeshEnv, chunk_partitions: int, chunk_rows: int) -> Report:
    mesh = load_mesh()
    product = mesh.product(ADDRESS)
    port = env.port(Principal.pipeline(product), mesh)
    runner = Runner(mesh, product, resolve(product, mesh.root), port, port.lake, env.operational, "chunking",
                    chunk_partitions=chunk_partitions, chunk_rows=chunk_rows, log=lambda message: None)
    return runner.run(RunWindow.of_keys(product.domain, FIRST, LAST))


def test_chunks_grow_with_sparse_data_and_keep_the_first_size_with_dense_data(tmp_path: Path, erp_root: Path):
    sparse_env, dense_env = MeshEnv(tmp_path / "sparse", erp_root), MeshEnv(tmp_path / "dense", erp_root)
    sparse = run(sparse_env, chunk_partitions=4, chunk_rows=10**9)  # any density fits: grows by CHUNK_GROWTH
    dense = run(dense_env, chunk_partitions=4, chunk_rows=1)  # none fits: never below the first chunk's size
    assert [len(c.keys) for c in sparse.chunks] == [4, 4 * CHUNK_GROWTH]
    assert [len(c.keys) for c in dense.chunks] == [4, 4, 4, 4, 4]
    for report in (sparse, dense):
        keys = [k for c in report.chunks for k in c.keys]
        assert keys == list(report.window.keys) and keys[0] == FIRST and keys[-1] == LAST  # each once, in order
        assert all(c.end == n.start for c, n in zip(report.chunks, report.chunks[1:], strict=False))
        assert report.rows_in > 0 and len(report.published) == 20
    assert sparse.verdicts == dense.verdicts
    assert sparse_env.port().table(ADDRESS).sort_by("customer_id").equals(
        dense_env.port().table(ADDRESS).sort_by("customer_id"))


def test_a_chunk_that_held_fewer_rows_than_the_budget_lets_the_next_one_grow(tmp_path: Path, erp_root: Path):
    first = run(MeshEnv(tmp_path / "first", erp_root), chunk_partitions=5, chunk_rows=1)
    per_partition = first.rows_in / 20  # about what a partition holds (inputs and output are of that order)
    budget = int(per_partition * 12)  # room for several partitions, not for the 15 left
    report = run(MeshEnv(tmp_path / "grown", erp_root), chunk_partitions=5, chunk_rows=budget)
    sizes = [len(c.keys) for c in report.chunks]
    assert sizes[0] == 5 and len(sizes) > 2 and all(size >= 5 for size in sizes[:-1]) and sum(sizes) == 20


def chunk_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if ": chunk " in e.user_message]


def test_a_run_starts_with_a_chunk_of_mesh_chunk_partitions_and_logs_each_chunk(tmp_path, erp_root, monkeypatch):
    env = MeshEnv(tmp_path / "products", erp_root)
    selection = dg.AssetSelection.assets(["customer", "customers"])
    monkeypatch.setenv("MESH_CHUNK_PARTITIONS", "3")
    instance = env.instance()
    result = env.materialize(FIRST, "2026-10-08", domains=["customer"], selection=selection, instance=instance)
    # 3 partitions first; the sparse data lets the next chunk grow to the 5 left (at most 3 * CHUNK_GROWTH)
    assert chunk_messages(instance, result.run_id) == [
        f"{ADDRESS}: chunk 1, partitions 2026-10-01..2026-10-03 (3)",
        f"{ADDRESS}: chunk 2, partitions 2026-10-04..2026-10-08 (5)"]
    monkeypatch.delenv("MESH_CHUNK_PARTITIONS")  # the default: one chunk, and no chunk to speak of
    again = env.materialize(FIRST, "2026-10-08", domains=["customer"], selection=selection, instance=instance)
    assert again.success and chunk_messages(instance, again.run_id) == []


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_a_mesh_chunk_partitions_that_is_not_a_whole_number_fails_the_step_saying_so(tmp_path, erp_root,
                                                                                     monkeypatch, value):
    monkeypatch.setenv("MESH_CHUNK_PARTITIONS", value)
    result = MeshEnv(tmp_path / "products", erp_root).materialize(
        FIRST, domains=["customer"], selection=dg.AssetSelection.assets(["customer", "customers"]),
        raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert (f"MESH_CHUNK_PARTITIONS must be a whole number of partitions, at least 1, found {value!r}"
            in str(failure.event_specific_data.error.to_string()))
