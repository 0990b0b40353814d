"""Case 5: peak memory of the largest products vs the data they hold at once.

Each product runs its whole history with the runner's default chunking in a fresh interpreter
(``benchmarks/memory_probe.py``), on a copy of the prepared store of its scale factor. The figure
compared is the growth of resident memory during the run (peak minus resident before the run, so
the interpreter and its libraries are not counted) against the in-memory size of the largest chunk:
its inputs as the function receives them plus its output. Target: at most 2x.

Largest products (``--memory-products``, default 3): the one with the largest output, then those
that hold the most bytes at once, estimated from the lake's Parquet files (own output per chunk plus
the inputs read per chunk: the whole history for ``history`` windows). At a
scale factor without a prepared store (10, where a full backfill does not fit the time), only the
largest source-aligned products run, on an empty store: they need no upstream product.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.case_backfill import prepared_store, store_dir
from benchmarks.common import Options, erp_domains, erp_root, partition_window
from benchmarks.report import CaseResult, Target

TARGET_RATIO = 2.0
JUDGED_FROM_MIB = 64  # smaller chunks measure fixed costs, not how the runner holds data
PROBE = Path(__file__).resolve().parent / "memory_probe.py"


def _bytes(store: Path, product: Any) -> int:
    """Bytes of a product's Parquet files in the lake's data folder (every file its table ever had)."""
    folder = store / "data" / product.address.domain / f"{product.address.table}__v{product.contract.major}"
    return sum(f.stat().st_size for f in folder.rglob("*.parquet")) if folder.exists() else 0


def largest(mesh: Any, store_root: Path, addresses: list[str], partitions: int, count: int) -> list[str]:
    """The products that hold the most (Parquet) bytes at once, inputs included."""
    from mesh.contracts.contract import Window
    from mesh.quality.wap import DEFAULT_CHUNK_PARTITIONS

    store = store_root
    share = min(1.0, DEFAULT_CHUNK_PARTITIONS / max(partitions, 1))
    scores = {}
    for address in addresses:
        product = mesh.product(address)
        held = _bytes(store, product) * (share if product.partitioned else 1.0)
        for name, spec in product.contract.inputs.items():
            upstream = mesh.product(spec.address)
            whole = product.window_of(name, upstream) is not Window.partition or not product.partitioned
            held += _bytes(store, upstream) * (1.0 if whole else share)
        scores[address] = held
    biggest = max(addresses, key=lambda a: _bytes(store, mesh.product(a)))
    chosen = [a for a in sorted(scores, key=lambda a: -scores[a]) if a != biggest]
    return [biggest, *chosen][:count]


def _largest_sources(mesh: Any, feeds: Path, domains: list[str]) -> list[str]:
    sizes = {}
    for domain in domains:
        for product in mesh.in_domain(domain):
            if product.contract.inputs or not product.partitioned:
                continue
            sizes[str(product.address)] = sum(
                sum(f.stat().st_size for f in (feeds / feed.system / feed.feed).glob("*.parquet"))
                for feed in product.contract.sources.values())
    return sorted(sizes, key=lambda a: -sizes[a])[:2]


def probe(store: Path, feeds: Path, address: str, first: str, last: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(PROBE), str(store), str(feeds), address, first, last],
                          capture_output=True, text=True, check=False, timeout=3600, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"memory probe of {address} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(options: Options) -> CaseResult:
    from mesh.contracts.registry import load_mesh

    case = CaseResult("memory", "peak memory of the largest products vs the largest chunk they hold")
    mesh = load_mesh()
    rows = []
    for scale_factor in options.memory_scale_factors:
        at = Options(**{**options.__dict__, "scale_factor": scale_factor})
        feeds = erp_root(scale_factor, options.log)
        copy = at.work / f"sf{at.sf}" / "memory-store"
        shutil.rmtree(copy, ignore_errors=True)
        prepared = scale_factor == options.scale_factor or (store_dir(at).parent / "store.json").exists()
        if prepared:
            store, covered = prepared_store(at)
            shutil.copytree(store, copy, copy_function=os.link)
            first, last, count = covered["first"], covered["last"], covered["partitions"]
            chosen = largest(mesh, copy, covered["products"], count, options.memory_products)
        else:
            domains = erp_domains(mesh, at)
            first, last, count = partition_window(mesh, domains, options.days)
            chosen = _largest_sources(mesh, feeds, domains)[:options.memory_products]
            copy.mkdir(parents=True)
            case.notes.append(f"at scale factor {at.sf} only source-aligned products ran (no prepared store): "
                              f"{', '.join(chosen)}")
        for address in chosen:
            runs = [probe(copy, feeds, address, first, last) for _ in range(options.repeat)]
            label = f"sf {at.sf} {address}"
            growth = [r["peak_rss_mib"] - r["rss_before_mib"] for r in runs]
            held = [r["inputs_mib"] + r["output_mib"] for r in runs]
            case.add(f"{label}: largest chunk held (inputs + output)", "MiB", held)
            case.add(f"{label}: memory growth during the run", "MiB", growth,
                     baseline=f"{label}: largest chunk held (inputs + output)")
            case.add(f"{label}: peak resident memory", "MiB", [r["peak_rss_mib"] for r in runs])
            last_run = runs[-1]
            rows.append({"scale factor": at.sf, "product": address, "rows": last_run["rows_in"],
                         "chunks": last_run["chunks"], "largest chunk": last_run["largest_chunk"],
                         "chunk rows": last_run["largest_chunk_rows"], "inputs MiB": last_run["inputs_mib"],
                         "output MiB": last_run["output_mib"], "before MiB": last_run["rss_before_mib"],
                         "peak MiB": statistics.median(r["peak_rss_mib"] for r in runs),
                         "seconds": statistics.median(r["seconds"] for r in runs)})
            options.log(f"  {label}: peak {rows[-1]['peak MiB']:.0f} MiB, held {statistics.median(held):.0f} MiB")
            if statistics.median(held) < JUDGED_FROM_MIB:
                case.notes.append(f"{label}: not judged, it holds {statistics.median(held):.1f} MiB at once; "
                                  f"below {JUDGED_FROM_MIB} MiB fixed costs (lazy imports, buffers) dominate")
                continue
            ratio = statistics.median(growth) / statistics.median(held)
            met = ratio <= TARGET_RATIO
            case.targets.append(Target(
                f"sf {at.sf} {address}: memory growth at most {TARGET_RATIO:g}x the largest chunk held",
                f"{ratio:.2f}x ({statistics.median(growth):.0f} of {statistics.median(held):.0f} MiB)", met,
                "" if met else f"{ratio / TARGET_RATIO:.1f}x over the target",
                "" if met else _why(last_run)))
    case.parameters = {"scale factors": ", ".join(f"{s:g}" for s in options.memory_scale_factors),
                       "measured in": "a fresh interpreter per product and repeat (runner only, no Dagster)"}
    case.details["products"] = rows
    return case


def _why(run_: dict[str, Any]) -> str:
    held = run_["inputs_mib"] + run_["output_mib"]
    growth = run_["peak_rss_mib"] - run_["rss_before_mib"]
    if run_["chunks"] == 1 and run_["chunk_partitions"]:
        return (f"one chunk holds the whole window; {growth:.0f} MiB for {held:.0f} MiB of data: the runner keeps "
                "several copies (raw and typed source frames, the output, the coerced frame, Arrow tables)")
    return (f"{growth:.0f} MiB for {held:.0f} MiB of data in a chunk of {run_['chunk_partitions']} partitions: "
            "copies made while reading, validating and publishing (see FINDINGS.md)")
