"""A window runs in chunks: the first of ``chunk_partitions``, later ones as many partitions as the row
budget allows at the highest density the chunks before showed, never fewer than the first's and at
most ``CHUNK_GROWTH`` times the previous one's (``mesh.quality.wap``).

Sparse data runs a long window in fewer chunks (each costs a lake transaction); dense data keeps
chunks of the first's size, so memory stays bounded. Either way every partition runs once, in
order, and what is published does not depend on how the window was cut.
"""

from __future__ import annotations

from pathlib import Path

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
