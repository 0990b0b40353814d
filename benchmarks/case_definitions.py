"""Case 4: definitions load time of generated meshes of 100 to 5,000 products over 10 and 50 domains.

For each size the benchmark writes a synthetic project (``benchmarks.synthetic``) and times, in a
fresh interpreter (``benchmarks/load_probe.py``), importing Dagster and the mesh, ``load_mesh`` and
``build_mesh``, then resolving the repository and its snapshot as a code location would; and the
peak resident memory. Targets: 1,000 products (import + load + build) under 5 s, linear growth.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import Options
from benchmarks.report import CaseResult, Target
from benchmarks.synthetic import write_project

TARGET_SECONDS = 5.0
TARGET_PRODUCTS = 1000
LINEAR_EXPONENT = 1.15  # time ~ products^k; k at most this counts as linear
PROBE = Path(__file__).resolve().parent / "load_probe.py"


def probe(project: Path) -> dict[str, Any]:
    env = {**os.environ, "MESH_PROJECT_DIR": str(project)}
    done = subprocess.run([sys.executable, str(PROBE)], env=env, cwd=str(project), capture_output=True, text=True,
                          check=False, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"loading {project} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"domains of {project} failed to load: {result['failures']}")
    return result


def run(options: Options) -> CaseResult:
    case = CaseResult("definitions", "definitions load time of generated meshes")
    sizes = [(p, d) for d in options.domain_counts for p in options.product_counts if p >= d]
    measured: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for products, domains in sizes:
        project = write_project(options.work / "synthetic" / f"p{products}-d{domains}", products, domains)
        measured[(products, domains)] = [probe(project) for _ in range(options.repeat)]
        total = statistics.median(_total(r) for r in measured[(products, domains)])
        options.log(f"  {products} products over {domains} domains: {total:.1f} s")
    case.parameters = {"sizes": ", ".join(f"{p}/{d}" for p, d in sizes) + " (products/domains)",
                       "measured in": "a fresh interpreter per repeat"}
    rows = []
    for (products, domains), runs in measured.items():
        label = f"{products} products / {domains} domains"
        case.add(f"{label}: import + load + build", "s", [_total(r) for r in runs])
        case.add(f"{label}: per product", "ms", [1000 * _total(r) / products for r in runs])
        case.add(f"{label}: peak memory", "MiB", [r["peak_rss_mib"] for r in runs])
        row = {"products": products, "domains": domains}
        for phase in ("import", "load_mesh", "build_mesh", "resolve", "snapshot"):
            row[f"{phase} s"] = statistics.median(r[phase] for r in runs)
        row["load+build ms/product"] = 1000 * (row["load_mesh s"] + row["build_mesh s"]) / products
        row["peak MiB"] = statistics.median(r["peak_rss_mib"] for r in runs)
        row["MiB/product above 100"] = 0.0
        rows.append(row)
    for row in rows:
        smallest = min((r for r in rows if r["domains"] == row["domains"]), key=lambda r: r["products"])
        if row["products"] > smallest["products"]:
            row["MiB/product above 100"] = (row["peak MiB"] - smallest["peak MiB"]) / (
                row["products"] - smallest["products"])
    case.details["phases (median over repeats)"] = rows
    _targets(case, rows)
    return case


def _total(result: dict[str, Any]) -> float:
    return result["import"] + result["load_mesh"] + result["build_mesh"]


def _targets(case: CaseResult, rows: list[dict[str, Any]]) -> None:
    for row in (r for r in rows if r["products"] == TARGET_PRODUCTS):
        total = row["import s"] + row["load_mesh s"] + row["build_mesh s"]
        met = total < TARGET_SECONDS
        case.targets.append(Target(
            f"{TARGET_PRODUCTS} products over {row['domains']} domains load under {TARGET_SECONDS:g} s",
            f"{total:.2f} s", met,
            "" if met else f"{total - TARGET_SECONDS:.2f} s over ({total / TARGET_SECONDS:.1f}x)",
            "" if met else f"import {row['import s']:.1f} s, load_mesh {row['load_mesh s']:.1f} s, "
                           f"build_mesh {row['build_mesh s']:.1f} s"))
    for domains in sorted({r["domains"] for r in rows}):
        mine = sorted((r for r in rows if r["domains"] == domains), key=lambda r: r["products"])
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        work = [r["load_mesh s"] + r["build_mesh s"] for r in (small, large)]
        exponent = math.log(work[1] / work[0]) / math.log(large["products"] / small["products"])
        met = exponent <= LINEAR_EXPONENT
        case.targets.append(Target(
            f"linear growth of load + build over {domains} domains "
            f"({small['products']} to {large['products']} products)",
            f"time ~ products^{exponent:.2f}", met,
            "" if met else f"exponent {exponent:.2f} > {LINEAR_EXPONENT}",
            "" if met else f"per product: {1000 * work[0] / small['products']:.1f} ms at {small['products']}, "
                           f"{1000 * work[1] / large['products']:.1f} ms at {large['products']}"))
