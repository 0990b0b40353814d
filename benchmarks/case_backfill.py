"""Case 1: whole-history backfill of the ERP domains, mesh vs plain DuckDB SQL over the same Parquet.

The mesh side is one ranged in-process run of every product of ``customer``, ``sales`` and
``supply_chain`` (when that domain exists) over every existing daily partition, on a fresh store
and a fresh on-disk SQLite instance per repeat: the path ``mesh materialize`` takes, recording every
partition's events. The same run on an in-memory instance is measured beside it as Dagster's floor.
The baseline computes the same products with the queries of ``benchmarks.baseline`` and writes
Parquet. The last repeat's store is kept as the prepared store that the snapshot and memory cases
start from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks import baseline
from benchmarks.common import (
    Options,
    erp_domains,
    erp_root,
    fresh,
    instance,
    partition_window,
    resources,
    run_job,
    step_to_asset,
    timed,
)
from benchmarks.report import CaseResult, Target

TARGET_RATIO = 3.0
PHASES = ("seconds_read", "seconds_transform", "seconds_validate", "seconds_publish")


def store_dir(options: Options) -> Path:
    return options.work / f"sf{options.sf}" / "store"


def _ordered(mesh: Any, domains: list[str]) -> list[str]:
    """Product addresses of the domains, every input before its readers."""
    chosen = {str(p.address): p for d in domains for p in mesh.in_domain(d)}
    done: list[str] = []

    def visit(address: str) -> None:
        if address in done:
            return
        for spec in chosen[address].contract.inputs.values():
            if str(spec.address) in chosen:
                visit(str(spec.address))
        done.append(address)

    for address in sorted(chosen):
        visit(address)
    return done


def backfill(options: Options, products: Path, folder: Path, kind: str = "sqlite") -> tuple[Any, dict[str, Any]]:
    """One mesh backfill on a fresh store and a fresh instance of the kind ("sqlite" on disk, as
    ``mesh materialize`` records runs, or "memory"); returns the run and what it covered."""
    import dagster as dg

    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.definitions import build_mesh

    mesh = load_mesh()
    domains = erp_domains(mesh, options)
    feeds = erp_root(options.scale_factor, options.log)
    fresh(products)
    definitions, failures = build_mesh(mesh, domains=domains, resource_overrides=resources(products, feeds))
    skipped = {d: str(e).splitlines()[0] for d, e in failures.items() if d in domains}
    if skipped:  # a domain being written right now: benchmark the others, and say so
        domains = [d for d in domains if d not in skipped]
        definitions, _ = build_mesh(mesh, domains=domains, resource_overrides=resources(products, feeds))
    first, last, count = partition_window(mesh, domains, options.days)
    # Products without their checks, as `mesh materialize` selects them: each step still evaluates every
    # check and logs the results, but Dagster does not plan one check execution per check and partition.
    selection = (dg.AssetSelection.all() - dg.AssetSelection.assets(
        *(dg.AssetKey(a.split(".")) for a in options.exclude_products))).without_checks()
    run = run_job(definitions, selection, first, last, instance(folder / f"{kind}-instance", kind))
    if not run.success:
        raise RuntimeError("mesh backfill failed:\n" + "\n".join(run.failures))
    covered = {"domains": domains, "first": first, "last": last, "partitions": count,
               "products": [a for a in _ordered(mesh, domains) if a not in options.exclude_products],
               "skipped": skipped, "excluded": list(options.exclude_products)}
    return run, covered


def prepared_store(options: Options) -> tuple[Path, dict[str, Any]]:
    """A store holding the whole backfill at this scale factor, made once and reused."""
    store = store_dir(options)
    marker = store.parent / "store.json"
    from mesh.contracts.registry import load_mesh

    mesh = load_mesh()
    domains = erp_domains(mesh, options)
    first, last, _count = partition_window(mesh, domains, options.days)
    if marker.exists() and store.exists():
        made = json.loads(marker.read_text())
        if ((made["first"], made["last"], {*made["domains"], *made["skipped"]}, made.get("excluded", []))
                == (first, last, set(domains), list(options.exclude_products))):
            return store, made
    options.log(f"preparing the product store at sf {options.sf}: backfill {first}..{last} of {', '.join(domains)}")
    _, covered = backfill(options, store, store.parent / "prepare", kind="memory")  # the data is the same
    marker.write_text(json.dumps(covered))
    return store, covered


def run(options: Options) -> CaseResult:
    case = CaseResult("backfill", "whole-history backfill, mesh vs plain DuckDB SQL")
    feeds = erp_root(options.scale_factor, options.log)
    folder = options.work / f"sf{options.sf}" / "backfill"
    mesh_seconds, floor_seconds, base_seconds, runs = [], [], [], []
    covered: dict[str, Any] = {}
    written: dict[str, int] = {}
    for repeat in range(options.repeat):
        floor, _ = backfill(options, folder / "floor-products", folder, kind="memory")
        floor_seconds.append(floor.seconds)
        options.log(f"  repeat {repeat + 1}: mesh on an in-memory instance {floor.seconds:.1f} s")
        products = folder / "mesh-products"
        run_, covered = backfill(options, products, folder, kind="sqlite")
        mesh_seconds.append(run_.seconds)
        runs.append(run_)
        options.log(f"  repeat {repeat + 1}: mesh on a SQLite instance {run_.seconds:.1f} s")
        base_out = fresh(folder / "baseline")
        seconds, written = timed(lambda c=covered, o=base_out: baseline.run(c["products"], feeds, o, c["first"],
                                                                            c["last"]))
        base_seconds.append(seconds)
        options.log(f"  repeat {repeat + 1}: baseline {seconds:.1f} s")
    # Keep the last mesh store for the cases that start from a published history.
    store = store_dir(options)
    shutil.rmtree(store, ignore_errors=True)
    shutil.move(str(folder / "mesh-products"), store)
    (store.parent / "store.json").write_text(json.dumps(covered))

    with_query, without = baseline.covered(covered["products"])
    case.parameters = {"scale factor": options.sf, "domains": ", ".join(covered["domains"]),
                       "partitions": f"{covered['partitions']} ({covered['first']}..{covered['last']})",
                       "products": len(covered["products"]),
                       "instance": "SQLite on disk, as `mesh materialize` (in memory: Dagster's floor)"}
    case.add("baseline: DuckDB SQL", "s", base_seconds)
    case.add("mesh backfill", "s", mesh_seconds, baseline="baseline: DuckDB SQL")
    case.add("mesh backfill, in-memory instance (Dagster's floor)", "s", floor_seconds,
             baseline="baseline: DuckDB SQL")
    if without:  # like for like: the steps of the products the baseline computes, plus their share of the rest
        case.add("mesh backfill, products with a baseline query", "s",
                 [_covered_seconds(r, with_query) for r in runs], baseline="baseline: DuckDB SQL")
    for address in covered["excluded"]:
        case.notes.append(f"{address} is left out of this run (--exclude-products); see FINDINGS.md")
    for domain, why in covered["skipped"].items():
        case.notes.append(f"domain {domain} is not benchmarked: it does not load ({why})")
    if without:
        case.notes.append(f"no baseline query for {', '.join(without)}: the target is judged on the mesh's steps "
                          "of the products the baseline computes, plus their share of the time outside steps")
    case.details["per product (last repeat)"] = _breakdown(runs[-1], written)
    case.details["where the mesh run's time goes (median over repeats)"] = _where(runs)
    headline = "mesh backfill, products with a baseline query" if without else "mesh backfill"
    ratio = case.ratio(headline) or 0.0
    where = case.details["where the mesh run's time goes (median over repeats)"]
    top = sorted(where[:-1], key=lambda row: -row["seconds"])[:3]
    case.targets.append(Target(
        f"backfill at most {TARGET_RATIO:g}x the DuckDB baseline", f"{ratio:.2f}x", ratio <= TARGET_RATIO,
        "" if ratio <= TARGET_RATIO else f"{ratio / TARGET_RATIO:.1f}x over the target "
                                         f"({ratio - TARGET_RATIO:.1f}x of the baseline too much)",
        "" if ratio <= TARGET_RATIO else "largest costs: " + "; ".join(
            f"{r['part']} {r['seconds']:.1f} s ({r['share']})" for r in top)))
    return case


def _covered_seconds(run_: Any, addresses: list[str]) -> float:
    """Step time of the given products, plus the time outside steps in proportion to their step time."""
    steps = {step_to_asset(k).replace("/", "."): v for k, v in run_.steps.items()}
    covered = sum(v for k, v in steps.items() if k in addresses)
    total = sum(steps.values())
    return covered + (run_.seconds - total) * (covered / total if total else 0.0)


def _breakdown(run_: Any, written: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for step, seconds in sorted(run_.steps.items(), key=lambda kv: -kv[1]):
        asset = step_to_asset(step)
        metadata = run_.metadata.get(asset, {})
        address = asset.replace("/", ".")
        inside = sum(metadata.get(p, 0.0) for p in PHASES)
        rows.append({"product": address, "step s": seconds,
                     **{p.removeprefix("seconds_") + " s": float(metadata.get(p, 0.0)) for p in PHASES},
                     "rest of step s": seconds - inside,
                     "rows published": metadata.get("rows_published", ""),
                     "baseline rows": written.get(address, "no query")})
    return rows


def _where(runs: list[Any]) -> list[dict[str, Any]]:
    """Split each run's wall time into the runner's phases, the rest of the steps, and outside steps."""
    import statistics

    parts: dict[str, list[float]] = {}
    for run_ in runs:
        sums = {p.removeprefix("seconds_"): 0.0 for p in PHASES}
        for metadata in run_.metadata.values():
            for p in PHASES:
                sums[p.removeprefix("seconds_")] += float(metadata.get(p, 0.0))
        inside_steps = sum(run_.steps.values())
        sums["rest of the steps (untimed runner work, check results, events)"] = inside_steps - sum(
            v for k, v in sums.items())
        sums["outside the steps (run start, planning, instance)"] = run_.seconds - inside_steps
        for name, value in sums.items():
            parts.setdefault(name, []).append(value)
    total = statistics.median(r.seconds for r in runs)
    rows = [{"part": name, "seconds": statistics.median(values),
             "share": f"{statistics.median(values) / total:.0%}"} for name, values in parts.items()]
    rows.append({"part": "run wall time", "seconds": total, "share": "100%"})
    return rows
