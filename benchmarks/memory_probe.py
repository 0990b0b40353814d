"""Run in a fresh interpreter by the memory case: one product's write-audit-publish, peak memory measured.

``python benchmarks/memory_probe.py STORE FEEDS ADDRESS FIRST LAST`` runs the product over the
window with the runner's default chunking (no Dagster: the step's own work), then prints one JSON
line: resident memory before the run, peak resident memory, seconds, rows, and the in-memory
(pandas) size of what the largest chunk holds at once: its inputs and its output.
"""

import contextlib
import json
import sys
import time
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its peak (VmHWM) of this process image only: unlike
    ``ru_maxrss``, which a child inherits from a larger parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    """Restart the peak (VmHWM) from the current resident memory (Linux 4.0+); harmless if refused."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def frame_mib(value) -> float:
    import duckdb
    import pandas as pd

    if isinstance(value, duckdb.DuckDBPyRelation):
        value = value.to_arrow_table()
    if isinstance(value, pd.DataFrame):
        return value.memory_usage(index=True, deep=True).sum() / 2**20
    if hasattr(value, "nbytes"):
        return value.nbytes / 2**20
    return 0.0


def main(store: str, feeds: str, address: str, first: str, last: str) -> None:
    from mesh.contracts.access import Principal
    from mesh.contracts.partitions import RunWindow
    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.resources import LocalStorage
    from mesh.quality.code import resolve
    from mesh.quality.wap import Runner
    from mesh.storage.ports import Port, to_pandas

    mesh = load_mesh()
    product = mesh.product(address)
    products = LocalStorage(root=store).lake()
    port = Port(mesh, products, Principal.pipeline(product), b"benchmark-key")
    runner = Runner(mesh, product, resolve(product, mesh.root), port, products, Path(feeds), "memory-probe",
                    log=lambda _: None)
    window = RunWindow.of_keys(product.domain, first, last) if product.partitioned else RunWindow.unpartitioned()
    if product.partitioned:  # warm up on one partition: what is imported lazily is not the data's cost
        runner.run(RunWindow.of_keys(product.domain, first, first))
    reset_peak()
    before = rss_mib()
    started = time.perf_counter()
    report = runner.run(window)
    seconds = time.perf_counter() - started
    peak = rss_mib("VmHWM")
    # What the largest chunk held at once: its inputs (as the function received them) and its output.
    chunks = report.chunks  # as many partitions as the data's density allows after the first
    rows = {k: v.rows_in for k, v in report.verdicts.items()}
    largest = max(chunks, key=lambda c: sum(rows.get(k, 0) for k in c.keys))
    arguments, _ = runner._inputs(largest)
    inputs = sum(frame_mib(v) for k, v in arguments.items() if k not in ("window", "params"))
    resolved = port.resolve(product.address)
    keys = [k for k in largest.keys if k in resolved.published.partitions] if product.partitioned else None
    output = frame_mib(to_pandas(port.scan(resolved, keys)))
    print(json.dumps({
        "address": address, "rss_before_mib": before, "peak_rss_mib": peak, "seconds": seconds,
        "rows_in": report.rows_in, "rows_published": report.rows_published, "rejected": len(report.rejected),
        "chunks": len(chunks), "chunk_partitions": len(largest.keys),
        "largest_chunk": f"{largest.keys[0]}..{largest.keys[-1]}", "largest_chunk_rows": sum(
            rows.get(k, 0) for k in largest.keys),
        "inputs_mib": inputs, "output_mib": output,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:6])
