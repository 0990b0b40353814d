"""Case 3: validation throughput of the product schemas on ``sales.order_lines``, the largest product.

Every order line of the ERP's whole history (every feed file, about 6 million rows at scale factor
1) is read as the product reads it and turned into the product's frame; then the validation the
runner does is timed on it: ``check_structure`` (coercion, nulls, key uniqueness) and
``evaluate_rules`` (ERROR rules, then WARN rules on the rows that survive). Its share of the step
is measured by running the product's write-audit-publish (``mesh.quality.wap.Runner``, no Dagster) over
the same history: ``validate`` seconds over the runner's wall time. Target: at most 25%.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import Options, erp_root, fresh
from benchmarks.report import CaseResult, Target

PRODUCT = "sales.order_lines"
TARGET_SHARE = 0.25


def _history(product: Any, feeds: Any, days: int | None) -> Any:
    """Every day the feed has a file for (the ERP's whole history), or its first ``days`` days."""
    from mesh.contracts.partitions import RunWindow

    feed = next(iter(product.contract.sources.values()))
    files = sorted(p.stem for p in (feeds / feed.system / feed.feed).glob("*.parquet"))[:days]
    return RunWindow.of_keys(product.domain, files[0], files[-1])


def _ancestors(mesh: Any, product: Any) -> list[Any]:
    """The products ``product`` reads (its relation rules too), each after what it reads in turn."""
    found: list[Any] = []
    for upstream in mesh.upstream(product).values():
        for ancestor in [*_ancestors(mesh, upstream), upstream]:
            if ancestor not in found:
                found.append(ancestor)
    return found


def _publish_inputs(mesh: Any, product: Any, store: Any, feeds: Any, window: Any) -> None:
    """What the product's rules read (``order_exists`` reads sales.orders, whose ``customer_exists``
    reads the customer master), published over the same window before the product is timed."""
    from mesh.contracts.access import Principal
    from mesh.contracts.partitions import RunWindow
    from mesh.quality.code import resolve
    from mesh.quality.wap import Runner
    from mesh.storage.ports import Port

    for upstream in _ancestors(mesh, product):
        port = Port(mesh, store, Principal.pipeline(upstream), b"benchmark-key")
        upstream_window = RunWindow.of_keys(upstream.domain, window.keys[0], window.keys[-1])
        Runner(mesh, upstream, resolve(upstream, mesh.root), port, store, feeds, "validation-inputs",
               log=lambda _: None).run(upstream_window)


def validate(frame: Any, schema: Any) -> dict[str, float]:
    from mesh.quality.rules import check_structure, evaluate_rules

    started = time.perf_counter()
    checked, structure = check_structure(frame, schema)
    structured = time.perf_counter()
    mask = structure.failing.copy()
    for outcome in evaluate_rules(checked, schema, skip=structure.failing, severity="error"):
        if outcome.failing is not None:
            mask |= outcome.failing
    evaluate_rules(checked, schema, skip=mask, severity="warn")
    done = time.perf_counter()
    return {"structure": structured - started, "rules": done - structured, "total": done - started,
            "failing": int(mask.sum())}


def run(options: Options) -> CaseResult:
    from mesh.contracts.access import Principal
    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.resources import LocalStorage
    from mesh.quality.code import resolve
    from mesh.quality.wap import Runner, _to_frame
    from mesh.storage.ports import Port
    from mesh.storage.sources import read_sources

    case = CaseResult("validation", f"validation throughput of the product schemas on {PRODUCT}")
    feeds = erp_root(options.scale_factor, options.log)
    mesh = load_mesh()
    product = mesh.product(PRODUCT)
    code = resolve(product, mesh.root)
    window = _history(product, feeds, options.days)
    lateness = product.contract.partitioning.lateness_days if product.contract.partitioning else 0
    read_seconds = time.perf_counter()
    batch = read_sources(feeds, dict(product.contract.sources), window, lateness)
    frame = _to_frame(code.function(**batch.frames), product)
    read_seconds = time.perf_counter() - read_seconds
    rows = len(frame)
    options.log(f"  {rows} rows of {PRODUCT} read in {read_seconds:.1f} s")
    timings = [validate(frame, code.schema) for _ in range(options.repeat)]
    del frame, batch
    steps = []
    for _ in range(options.repeat):
        store = LocalStorage(root=str(fresh(options.work / f"sf{options.sf}" / "validation-store"))).lake()
        _publish_inputs(mesh, product, store, feeds, window)
        port = Port(mesh, store, Principal.pipeline(product), b"benchmark-key")
        runner = Runner(mesh, product, code, port, store, feeds, "validation-case", log=lambda _: None)
        started = time.perf_counter()
        report = runner.run(window)
        steps.append({"wall": time.perf_counter() - started, "validate": report.validate_seconds,
                      "read": report.read_seconds, "transform": report.transform_seconds,
                      "publish": report.publish_seconds, "rows": report.rows_in})
        options.log(f"  runner {steps[-1]['wall']:.1f} s, validate {steps[-1]['validate']:.1f} s")
    case.parameters = {"scale factor": options.sf, "rows": f"{rows:,}",
                       "window": f"{window.keys[0]}..{window.keys[-1]} ({len(window.keys)} partitions, all feed files)",
                       "rules": len(code.schema.rules), "columns": len(code.schema.columns)}
    case.add("check_structure", "s", [t["structure"] for t in timings])
    case.add("evaluate_rules (error, then warn)", "s", [t["rules"] for t in timings])
    case.add("validation", "s", [t["total"] for t in timings])
    case.add("validation throughput", "M rows/s", [rows / t["total"] / 1e6 for t in timings])
    case.add("runner wall time (read, transform, validate, publish)", "s", [s["wall"] for s in steps])
    case.add("runner validate phase", "s", [s["validate"] for s in steps])
    case.add("validate share of the step", "%", [100 * s["validate"] / s["wall"] for s in steps])
    case.details["runner phases (median over repeats)"] = [
        {"phase": phase, "seconds": statistics.median(s[phase] for s in steps),
         "share": f"{statistics.median(s[phase] / s['wall'] for s in steps):.0%}"}
        for phase in ("read", "transform", "validate", "publish")] + [
        {"phase": "untimed (quarantine, finalize, split, conformance)",
         "seconds": statistics.median(s["wall"] - s["read"] - s["transform"] - s["validate"] - s["publish"]
                                      for s in steps), "share": ""}]
    share = statistics.median(s["validate"] / s["wall"] for s in steps)
    met = share <= TARGET_SHARE
    structure = statistics.median(t["structure"] for t in timings)
    rules = statistics.median(t["rules"] for t in timings)
    case.targets.append(Target(
        f"validation at most {TARGET_SHARE:.0%} of {PRODUCT}'s step time", f"{share:.1%}", met,
        "" if met else f"{100 * (share - TARGET_SHARE):.1f} points over",
        "" if met else f"on the whole frame: check_structure {structure:.1f} s, evaluate_rules {rules:.1f} s"))
    case.notes.append("the step's share is measured on the runner alone; inside Dagster the step also reports "
                      "check results, so the share of the real step is a little lower")
    return case
