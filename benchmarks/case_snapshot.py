"""Case 2: one daily snapshot of the whole mesh vs Dagster's floor for the same graph.

The mesh side materializes every product's newest partition (unpartitioned products: a full
snapshot), checks included, the way ``mesh materialize --days 1`` does: one run of every product,
then one run of the products that observe the mesh. It starts from a store holding the whole
history (``prepared_mesh_store``), on a fresh SQLite instance per repeat. The floor is the same
graph (same keys, dependencies, partitions, pools and the same asset checks) whose bodies do
nothing but report, run the same way on its own fresh instance in the same repeat.

Per-asset overhead: the run's wall time minus the time inside the products' functions
(``seconds_transform`` in the materialization metadata), divided by the number of assets.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import dagster as dg

from benchmarks.case_backfill import prepared_store
from benchmarks.common import (
    Options,
    erp_domains,
    instance,
    mesh_domains,
    operational_root,
    partition_window,
    resources,
    run_job,
    step_to_asset,
)
from benchmarks.report import CaseResult, Target

TARGET_SECONDS = 60.0
TARGET_OVERHEAD_RATIO = 2.0


def _mesh_definitions(store: Path, feeds: Path) -> tuple[Any, Any, dict[str, str]]:
    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.definitions import build_mesh

    mesh = load_mesh()
    definitions, failures = build_mesh(mesh, resource_overrides=resources(store, feeds))
    return mesh, definitions, {d: str(e).splitlines()[0] for d, e in failures.items()}


def _selections(mesh: Any, definitions: Any, exclude: set[str], options: Options) -> tuple[Any, Any | None]:
    """Every built product of the chosen domains except the observers, and what depends on ``exclude``
    (products whose history could not be prepared); then the observers."""
    from mesh.orchestration.compile import observes_mesh
    from mesh.orchestration.keys import asset_key

    built = set(definitions.resolve_all_asset_keys())
    domains = set(mesh_domains(mesh, options))
    executable = {k for a in definitions.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable
                  for k in a.keys if k.path[0] in domains}
    excluded: set[Any] = {dg.AssetKey(a.split(".")) for a in options.exclude_products}
    if exclude:
        broken = dg.AssetSelection.assets(*(dg.AssetKey(e.split("/")) for e in exclude)).downstream()
        excluded |= set(broken.resolve(definitions.resolve_asset_graph()))
    observers = {asset_key(p) for p in mesh.products.values() if observes_mesh(p)} & built - excluded
    main = dg.AssetSelection.assets(*(executable - observers - excluded))
    return main, dg.AssetSelection.assets(*observers) if observers else None


def prepared_mesh_store(options: Options) -> tuple[Path, dict[str, Any]]:
    """The ERP store of the backfill case plus the whole history of every other domain, made once."""
    erp_store, covered = prepared_store(options)
    store = options.work / f"sf{options.sf}" / "mesh-store"
    marker = store.parent / "mesh-store.json"
    feeds, _ = operational_root(options.scale_factor, options.log)
    mesh, definitions, failures = _mesh_definitions(store, feeds)
    others = [d for d in mesh_domains(mesh, options) if d not in erp_domains(mesh, options) and d not in failures]
    wanted = {"erp": covered, "others": others, "failures": failures}
    if marker.exists() and store.exists():
        made = json.loads(marker.read_text())
        if {k: v for k, v in made.items() if k != "broken"} == wanted:
            return store, made
    options.log(f"preparing the whole-mesh store at sf {options.sf}: the ERP store plus {', '.join(others)}")
    shutil.rmtree(store, ignore_errors=True)
    # The lake's Parquet files are immutable: link them; its catalog is written in place: copy it.
    shutil.copytree(erp_store, store, copy_function=lambda src, dst: shutil.copy2(src, dst)
                    if ".sqlite" in os.path.basename(src) else os.link(src, dst))
    first, last, _ = partition_window(mesh, erp_domains(mesh, options), options.days)
    main, _ = _selections(mesh, definitions, set(), options)
    selection = (main & dg.AssetSelection.groups(*others)).without_checks() if others else None
    broken: list[str] = []
    if selection is not None:
        run_ = run_job(definitions, selection, first, last, dg.DagsterInstance.ephemeral())
        broken = sorted({f.split(":")[0] for f in run_.failures})
    wanted["broken"] = [step_to_asset(s) for s in broken]
    marker.write_text(json.dumps(wanted))
    return store, wanted


def floor_definitions(definitions: Any) -> Any:
    """The same graph with bodies that only report: Dagster's own cost for this shape."""
    import dagster as dg

    assets: list[Any] = []
    for node in definitions.assets:
        if not isinstance(node, dg.AssetsDefinition) or not node.is_executable:
            assets.append(node)
            continue
        assets.append(_empty_asset(node))
    return dg.Definitions(assets=assets)


def _empty_asset(node: Any) -> Any:
    checks = list(node.check_specs)

    @dg.multi_asset(name=node.node_def.name, specs=list(node.specs), check_specs=checks,
                    backfill_policy=node.backfill_policy, pool=node.node_def.pool, can_subset=False)
    def _floor(context):  # unannotated: this module postpones annotations
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)
        for spec in checks:
            yield dg.AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True)

    return _floor


def _snapshot(definitions: Any, main: Any, observers: Any, newest: str, folder: Path,
              kind: str) -> dict[str, Any]:
    dagster_instance = instance(folder, kind)
    runs = [run_job(definitions, main, newest, newest, dagster_instance, name="snapshot")]
    if observers is not None:
        runs.append(run_job(definitions, observers, newest, newest, dagster_instance, name="observe"))
    failures = [f for r in runs for f in r.failures]
    metadata = {k: v for r in runs for k, v in r.metadata.items()}
    steps = {k: v for r in runs for k, v in r.steps.items()}
    return {"seconds": sum(r.seconds for r in runs), "failures": failures, "metadata": metadata, "steps": steps,
            "assets": sum(len(r.steps) for r in runs)}


def run(options: Options) -> CaseResult:
    case = CaseResult("snapshot", "one daily snapshot of the whole mesh vs Dagster's floor")
    store, prepared = prepared_mesh_store(options)
    feeds, others_sf = operational_root(options.scale_factor, options.log)
    mesh, definitions, failures = _mesh_definitions(store, feeds)
    main, observers = _selections(mesh, definitions, set(prepared.get("broken", [])), options)
    floor = floor_definitions(definitions)
    newest = partition_window(mesh, erp_domains(mesh, options), None)[1]
    folder = options.work / f"sf{options.sf}" / "snapshot"
    mesh_runs, floor_runs = [], []
    for repeat in range(options.repeat):
        mesh_runs.append(_snapshot(definitions, main, observers, newest, folder / "mesh-instance", options.instance))
        floor_runs.append(_snapshot(floor, main, observers, newest, folder / "floor-instance", options.instance))
        options.log(f"  repeat {repeat + 1}: mesh {mesh_runs[-1]['seconds']:.1f} s, "
                    f"floor {floor_runs[-1]['seconds']:.1f} s")
    assets = mesh_runs[-1]["assets"]
    checks = sum(len(list(a.check_specs)) for a in definitions.assets
                 if hasattr(a, "check_specs") and getattr(a, "is_executable", False))
    shown = "SQLite on disk (as `mesh materialize`)" if options.instance == "sqlite" else "in memory"
    case.parameters = {"scale factor": options.sf, "partition": newest, "assets run": assets,
                       "asset checks": checks, "executor": "in-process", "instance": shown}
    transform = [sum(float(m.get("seconds_transform", 0.0)) for m in r["metadata"].values()) for r in mesh_runs]
    case.add("floor: empty bodies, same graph", "s", [r["seconds"] for r in floor_runs])
    case.add("mesh snapshot", "s", [r["seconds"] for r in mesh_runs], baseline="floor: empty bodies, same graph")
    case.add("time inside the products' functions", "s", transform)
    case.add("floor per asset", "s", [r["seconds"] / max(r["assets"], 1) for r in floor_runs])
    case.add("mesh overhead per asset", "s",
             [(r["seconds"] - t) / max(r["assets"], 1) for r, t in zip(mesh_runs, transform, strict=True)],
             baseline="floor per asset")
    if others_sf != options.scale_factor:
        case.notes.append(f"operational systems other than the ERP are generated at scale factor {others_sf:g}: "
                          "product events at scale factor 1 need more memory than the machine has")
    for domain, why in failures.items():
        case.notes.append(f"domain {domain} is not in the snapshot: it does not load ({why})")
    for address in options.exclude_products:
        case.notes.append(f"{address} is left out of this run (--exclude-products); see FINDINGS.md")
    for asset in prepared.get("broken", []):
        case.notes.append(f"{asset} is not in the snapshot: its history could not be prepared")
    for failure in mesh_runs[-1]["failures"]:
        case.notes.append(f"failed in the mesh snapshot: {failure}")
    case.details["per asset (median over repeats)"] = _per_asset(mesh_runs, floor_runs)

    wall = case.figure("mesh snapshot").median
    ratio = case.ratio("mesh overhead per asset") or 0.0
    rows = case.details["per asset (median over repeats)"]
    heavy = sorted(rows, key=lambda r: -r["mesh step s"])[:3]
    case.targets.append(Target(
        f"whole snapshot under {TARGET_SECONDS:g} s on {os.cpu_count()} cores", f"{wall:.1f} s",
        wall < TARGET_SECONDS, "" if wall < TARGET_SECONDS else f"{wall - TARGET_SECONDS:.1f} s over",
        "" if wall < TARGET_SECONDS else "slowest steps: " + "; ".join(
            f"{r['asset']} {r['mesh step s']:.1f} s" for r in heavy)))
    phases = {p: statistics.median(sum(float(m.get(f"seconds_{p}", 0.0)) for m in r["metadata"].values())
                                   for r in mesh_runs) for p in ("read", "validate", "publish")}
    outside = statistics.median(r["seconds"] - sum(r["steps"].values()) for r in mesh_runs)
    case.targets.append(Target(
        f"overhead per asset at most {TARGET_OVERHEAD_RATIO:g}x Dagster's floor", f"{ratio:.2f}x",
        ratio <= TARGET_OVERHEAD_RATIO, "" if ratio <= TARGET_OVERHEAD_RATIO else
        f"{ratio / TARGET_OVERHEAD_RATIO:.1f}x over the target",
        "" if ratio <= TARGET_OVERHEAD_RATIO else
        "mesh work outside the functions (summed over assets): " + ", ".join(
            f"{k} {v:.1f} s" for k, v in phases.items()) + f"; outside any step {outside:.1f} s"))
    return case


def _per_asset(mesh_runs: list[dict[str, Any]], floor_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for step in sorted(mesh_runs[-1]["steps"]):
        asset = step_to_asset(step)

        def median(values: list[float]) -> float:
            return statistics.median(values) if values else 0.0

        def meta(name: str, asset: str = asset) -> float:
            return median([float(r["metadata"].get(asset, {}).get(name, 0.0)) for r in mesh_runs])

        rows.append({
            "asset": asset.replace("/", "."),
            "mesh step s": median([r["steps"].get(step, 0.0) for r in mesh_runs]),
            "read s": meta("seconds_read"), "transform s": meta("seconds_transform"),
            "validate s": meta("seconds_validate"), "publish s": meta("seconds_publish"),
            "floor step s": median([r["steps"].get(step, 0.0) for r in floor_runs]),
        })
    return rows
