"""The compiler: a contract, its function and its pandera model become one Dagster asset with checks.

Each product becomes a ``multi_asset`` keyed ``[domain, product]`` in group ``domain``, carrying
owners, tags, kinds, description, column schema, contract metadata, a code version, partitions from
the domain's cadence with a single-run backfill policy, its freshness policy, its automation
condition, and asset checks: ``structure``, one per named rule and relation, the mesh-wide
``happened_by_business_day`` (``mesh.quality.business_day``), and the SLO checks ``error_rate``,
``volume`` and ``contract_conformance``. The body runs ``mesh.quality.wap`` and reports what it found.
Nothing here is specific to a domain.
"""


import ast
import hashlib
import importlib.util
import inspect
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import dagster as dg

from mesh.contracts.access import Principal
from mesh.contracts.contract import Kind, period_cron
from mesh.contracts.durations import format_duration
from mesh.contracts.partitions import RunWindow, now_in, partitions_def
from mesh.contracts.registry import Mesh, Product
from mesh.orchestration.environment import chunk_partitions
from mesh.orchestration.keys import asset_key
from mesh.orchestration.presentation import metadata as presentation_metadata
from mesh.orchestration.presentation import render_chart
from mesh.orchestration.reporting import check_results, materialization_metadata
from mesh.orchestration.resources import AccessResource, OperationalResource, StorageResource
from mesh.quality.business_day import business_day_rule
from mesh.quality.business_day import check as check_business_day
from mesh.quality.code import ProductCode
from mesh.quality.freshness import CHECK_NAME as FRESHNESS_CHECK
from mesh.quality.freshness import check_fields as freshness_fields
from mesh.quality.freshness import evaluate as evaluate_freshness
from mesh.quality.relations import check as check_relations
from mesh.quality.relations import relation_rules
from mesh.quality.rules import STRUCTURE
from mesh.quality.slo import volume_finding
from mesh.quality.wap import Runner
from mesh.storage.ports import Port, to_pandas
from mesh.storage.sources import MESH_SYSTEM

SLO_CHECKS = ("error_rate", "volume", "contract_conformance")


def column_schema(code: ProductCode, product: Product) -> dg.TableSchema:
    key = set(product.contract.primary_key)
    columns = []
    for column in code.schema.columns:
        tags = {"pii": product.contract.pii[column.name].value} if column.name in product.contract.pii else {}
        if column.name in product.contract.planned:  # a plan or an expectation, not an event that happened
            tags["planned"] = "true"
        columns.append(dg.TableColumn(
            name=column.name,
            type=column.type_name,
            description=column.description or None,
            constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=key == {column.name}),
            tags=tags,
        ))
    return dg.TableSchema(columns=columns)


def _source_file(obj: object) -> Path | None:
    try:
        return Path(inspect.getfile(obj)).resolve()  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None


@cache
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_modules(path: Path, root: Path) -> list[Path]:
    """``path`` and every project module it imports, transitively: files under the project ``root``
    (its ``assets``, ``checks`` and own packages), not the platform (``mesh``) nor installed packages."""
    seen: dict[Path, None] = {}
    todo = [path.resolve()]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen[current] = None
        todo += _imported_files(current, root.resolve())
    return sorted(seen)


@cache
def _imported_files(path: Path, root: Path) -> list[Path]:
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return []
    relative = path.relative_to(root).with_suffix("")
    package = list(relative.parts if relative.name == "__init__" else relative.parts[:-1])
    package = [p for p in package if p != "__init__"]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names += [module] if module else []
            names += [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
    found = []
    for name in dict.fromkeys(names):
        if not name or name.split(".")[0] in _NOT_PROJECT:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            continue
        origin = Path(spec.origin).resolve() if spec and spec.origin and spec.origin.endswith(".py") else None
        if origin is not None and origin.is_relative_to(root) and not any(
                part in (".venv", "site-packages") for part in origin.relative_to(root).parts):
            found.append(origin)
    return found


_NOT_PROJECT = {"mesh", "__future__"}  # the platform's own version is Dagster's, not a product's


def code_version(product: Product, code: ProductCode, contract_text: str, root: Path | None = None) -> str:
    """The contract and every project module the function and the model import (transitively): editing
    a shared helper changes the version of exactly the products that use it."""
    digest = hashlib.sha256(contract_text.encode())
    files: dict[Path, None] = {}
    for obj in (code.function, code.model):
        source = _source_file(obj)
        if source is not None:
            top = root.resolve() if root and source.is_relative_to(root.resolve()) else _project_root(source)
            files.update(dict.fromkeys(project_modules(source, top) if top else [source]))
    for path in sorted(files):
        digest.update(_file_digest(path).encode())
    return digest.hexdigest()[:12]


def _project_root(source: Path) -> Path | None:
    """The project a product module belongs to: the folder holding its top-level package."""
    for parent in source.parents:
        if not (parent / "__init__.py").exists():
            return parent
    return None


def freshness_policy(product: Product) -> dg.FreshnessPolicy | None:
    freshness = product.contract.slo.freshness
    if freshness is None:
        return None
    if freshness.max_age is not None:
        return dg.FreshnessPolicy.time_window(fail_window=freshness.max_age, warn_window=freshness.warn_age)
    snapshots = product.domain.snapshots
    # the deadline falls on the day a period ends: weeks end on the weekday they begin (the start date's)
    cron = period_cron(snapshots.cadence, freshness.deadline, snapshots.week_start)
    return dg.FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=snapshots.cadence.period,
                                   timezone=freshness.timezone)


def automation_condition(product: Product) -> dg.AutomationCondition | None:
    """Source-aligned products run on their domain's schedule; the others follow their inputs.

    Eager, gated on the inputs' blocking checks, and waiting only for the *newest* partition of each
    input: Dagster's eager condition would otherwise wait forever when an unpartitioned product
    reads a partitioned one whose old history was never materialized.
    """
    if product.contract.kind is Kind.source_aligned or not product.contract.inputs:
        return None
    return _follow_inputs()


@cache
def _follow_inputs() -> dg.AutomationCondition:  # one immutable condition, shared by every consumer
    AC = dg.AutomationCondition
    newest_missing = AC.any_deps_match(
        AC.missing() & AC.in_latest_time_window() & ~AC.will_be_requested()).with_label("newest_input_missing")
    eager = AC.eager().replace("any_deps_missing", newest_missing)
    return (eager & AC.all_deps_blocking_checks_passed()).with_label("eager, after inputs' blocking checks pass")


def _deps(mesh: Mesh, product: Product) -> list[dg.AssetDep]:
    from mesh.contracts.contract import Window

    deps = []
    for name, spec in product.contract.inputs.items():
        upstream = mesh.product(spec.address)
        window = product.window_of(name, upstream)
        mapping: dg.PartitionMapping | None = None
        if product.partitioned and upstream.partitioned:
            if window is Window.trailing:
                mapping = dg.TimeWindowPartitionMapping(start_offset=-(spec.days or 0))
            elif window is Window.history:
                with warnings.catch_warnings():  # the parameter is beta in Dagster 1.13; its meaning is stable
                    warnings.simplefilter("ignore", dg.BetaWarning)
                    mapping = dg.TimeWindowPartitionMapping(start_offset=-3660,
                                                            allow_nonexistent_upstream_partitions=True)
            else:
                mapping = dg.TimeWindowPartitionMapping()
        deps.append(dg.AssetDep(asset_key(upstream), partition_mapping=mapping))
    return deps


def slo_metadata(product: Product) -> dict[str, object]:
    slo = product.contract.slo
    out: dict[str, object] = {"error_rate_max": slo.error_rate.max}
    if slo.freshness is not None:
        f = slo.freshness
        out["freshness"] = (
            {"max_age": format_duration(f.max_age), "warn_age": format_duration(f.warn_age) if f.warn_age else None}
            if f.max_age else {"deadline": f.deadline, "timezone": f.timezone}
        )
    if slo.volume is not None:
        out["volume"] = slo.volume.model_dump(exclude_none=True)
    return out


def check_specs(product: Product, code: ProductCode) -> list[dg.AssetCheckSpec]:
    key = asset_key(product)
    specs = [dg.AssetCheckSpec(STRUCTURE, asset=key, blocking=True,
                               description="Columns, types, nullability and uniqueness of the key "
                                           f"{list(product.contract.primary_key)}; failing rows are quarantined.")]
    for rule in [*code.schema.rules, *relation_rules(product.contract), business_day_rule(product, code.schema)]:
        specs.append(dg.AssetCheckSpec(
            rule.name, asset=key, blocking=rule.blocking,
            description=f"[{rule.severity.upper()}] {rule.description}",
            metadata={"mesh/severity": rule.severity, "mesh/columns": ",".join(rule.columns) or "(frame)"}))
    slo = product.contract.slo
    specs.append(dg.AssetCheckSpec(
        "error_rate", asset=key, blocking=True,
        description=f"[SLO] Share of rows failing ERROR rules stays at or under {slo.error_rate.max:.2%} "
                    "per partition; above it the partition is not published."))
    specs.append(dg.AssetCheckSpec(
        "volume", asset=key, blocking=False,
        description="[SLO] Row count per partition within the contract's bounds "
                    "or near the trailing median of earlier partitions."))
    specs.append(dg.AssetCheckSpec(
        "contract_conformance", asset=key, blocking=True,
        description="[SLO] What is published has exactly the contract's columns and types."))
    if slo.freshness is not None:
        specs.append(dg.AssetCheckSpec(
            FRESHNESS_CHECK, asset=key, blocking=False,
            description="[SLO] The newest partition the freshness SLO promises is published "
                        "(evaluated after each run and every minute by the domain's SLO monitor)."))
    return specs


def blocking_checks(product: Product, code: ProductCode) -> list[str]:
    return [s.name for s in check_specs(product, code) if s.blocking]


def compile_product(mesh: Mesh, product: Product, code: ProductCode) -> dg.AssetsDefinition:
    contract = product.contract
    key = asset_key(product)
    check_relations(mesh, product, code.schema)  # refused here, naming rule and field, not at run time
    check_business_day(product, code.schema)
    contract_text = (mesh.root / product.file).read_text()
    partitions = partitions_def(product.domain) if product.partitioned else None
    kinds = {"ducklake", "duckdb" if "DuckDBPyRelation" in str(inspect.signature(code.function)) else "pandas"}
    version = code_version(product, code, contract_text, mesh.root)
    spec = dg.AssetSpec(
        key,
        deps=_deps(mesh, product),
        description=contract.description.strip(),
        group_name=product.domain.name,
        owners=[product.owner],
        tags={"mesh/access": contract.access.value, "mesh/kind": contract.kind.value,
              "mesh/version": contract.version, **dict.fromkeys(contract.tags, "")},
        kinds=kinds,
        metadata={
            "dagster/column_schema": column_schema(code, product),
            "mesh/address": str(product.address),
            "mesh/contract": product.file,
            "mesh/slo": dg.MetadataValue.json(slo_metadata(product)),
            "mesh/primary_key": ", ".join(contract.primary_key) or "(none)",
            "mesh/consumers": ", ".join(contract.consumers) if contract.consumers is not None else "(any allowed)",
            "mesh/pii": ", ".join(f"{c} ({m.value})" for c, m in contract.pii.items()) or "(none)",
            "mesh/planned": ", ".join(contract.planned) or "(none)",
        },
        code_version=version,
        partitions_def=partitions,
        automation_condition=automation_condition(product),
        freshness_policy=freshness_policy(product),
        skippable=True,
    )

    def _product(context, storage, operational, access):
        lake = storage.lake()
        port = Port(mesh, lake, Principal.pipeline(product), access.key_bytes)
        runner = Runner(mesh, product, code, port, lake, operational.path, context.run.run_id, version,
                        chunk_partitions=chunk_partitions(), log=context.log.info,
                        observer=_observer(mesh, product, context.instance, lake))
        window = _window(context, product)
        context.log.info(f"{product.address}: computing {_describe(window)}")
        report = runner.run(window)
        volume = volume_finding(product, report, lake)
        fresh = None
        if contract.slo.freshness is not None:
            manifest = lake.published(product.address, contract.major)
            fresh = freshness_fields(evaluate_freshness(product, manifest, datetime.now(UTC)))
        shown = _presentation(product, port) if report.published else {}
        yield from _events(context, product, report, volume, fresh, shown)

    _product.__annotations__ = dict(_BODY_ANNOTATIONS)  # as objects: Dagster need not evaluate strings
    return dg.multi_asset(
        name=f"{product.address.domain}__{product.address.product}",
        specs=[spec],
        check_specs=check_specs(product, code),
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
        pool=f"mesh_{product.address.domain}_{product.address.product}",
        can_subset=True,
    )(_product)


def compile_blocked(product: Product, reason: str) -> dg.AssetsDefinition:
    """A product whose input's contract is broken: in the lineage, with the reason as its description;
    materializing it fails with that reason. Its own domain's location still loads and runs."""

    def _blocked(context):
        raise dg.Failure(description=f"{product.address} cannot run: {reason}", allow_retries=False)

    return dg.multi_asset(
        name=f"{product.address.domain}__{product.address.product}",
        specs=[dg.AssetSpec(asset_key(product), group_name=product.domain.name, owners=[product.owner],
                            description=f"Does not run: {reason}", metadata={"mesh/blocked": reason},
                            partitions_def=partitions_def(product.domain) if product.partitioned else None,
                            skippable=True)],
        can_subset=True,
    )(_blocked)


_BODY_ANNOTATIONS = {"context": dg.AssetExecutionContext, "storage": StorageResource,
                     "operational": OperationalResource, "access": AccessResource}


def observes_mesh(product: Product) -> bool:
    return any(feed.system == MESH_SYSTEM for feed in product.contract.sources.values())


def _observer(mesh: Mesh, product: Product, instance: dg.DagsterInstance, lake):
    if not observes_mesh(product):
        return None
    from mesh.orchestration.observe import Observer

    return Observer(mesh, instance, lake)


def _window(context: dg.AssetExecutionContext, product: Product) -> RunWindow:
    if not product.partitioned:
        return RunWindow.unpartitioned(now_in(product.domain))
    key_range = context.partition_key_range
    return RunWindow.of_keys(product.domain, key_range.start, key_range.end)


def _describe(window: RunWindow) -> str:
    if not window.partitioned:
        return "a full snapshot"
    return f"{len(window.keys)} partition(s) {window.keys[0]}..{window.keys[-1]}"


def _presentation(product: Product, port: Port) -> dict[str, object]:
    """Preview and chart of the newest published partition (the snapshot, if unpartitioned), as the
    product's own pipeline sees it."""
    shown = product.contract.presentation
    if shown is None:
        return {}
    resolved = port.resolve(product.address)
    keys = resolved.published.keys()
    if not keys:
        return {}
    frame = to_pandas(port.scan(resolved, keys[-1:]))
    png = render_chart(frame, shown) if shown.chart else None
    return presentation_metadata(frame, shown, png)


def _events(context: dg.AssetExecutionContext, product: Product, report, volume, fresh, shown):
    key = asset_key(product)
    metadata = materialization_metadata(report)
    # The preview and chart (up to 30 kB) describe the newest published partition: they go on the
    # run's last materialization (the one the asset's page shows), not on each of a range's partitions.
    last = report.published[-1] if report.published else None
    if not product.partitioned:
        metadata |= shown
    if not report.rejected:
        if shown and product.partitioned and last is not None:
            context.add_asset_metadata(shown, asset_key=key, partition_key=last)
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
    else:
        for partition in report.published:
            yield dg.AssetMaterialization(asset_key=key, partition=None if partition == "all" else partition,
                                          metadata={**metadata, **shown} if partition == last else metadata)
    results = list(check_results(key, product, report, volume))
    if fresh is not None:
        results.append(dg.AssetCheckResult(asset_key=key, check_name=FRESHNESS_CHECK, **fresh))
    selected = context.selected_asset_check_keys
    target = _latest_materialization(context, key)
    unselected = []  # the run selected the asset without these checks: their results are recorded all the same
    for result in results:
        if dg.AssetCheckKey(key, result.check_name) in selected:
            yield result
        else:
            unselected.append(_evaluation(result, target, context.assets_def))
    _log_evaluations(context, unselected)
    if report.rejected:
        reasons = sorted({v.reason for v in report.verdicts.values() if v.reason})
        raise dg.Failure(
            description=f"{product.address}: {len(report.rejected)} partition(s) not published "
                        f"({report.rejected[0]}..{report.rejected[-1]}): " + "; ".join(reasons)[:2000],
            metadata={"rejected_partitions": dg.MetadataValue.json(report.rejected)},
            allow_retries=False,
        )


def _latest_materialization(context: dg.AssetExecutionContext, key: dg.AssetKey):
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    records = context.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(storage_id=record.storage_id, run_id=record.run_id,
                                                         timestamp=record.timestamp)


def _log_evaluations(context: dg.AssetExecutionContext, evaluations: list[dg.AssetCheckEvaluation]) -> None:
    """``context.log_event`` of each evaluation, handed to the event log as one batch when its storage
    takes one (the local instance's: ``mesh.instance.eventlog``), as Dagster hands over a range's
    materializations. One at a time, SQLite writes three transactions per evaluation: a fifth of a
    day's run of the whole mesh went to recording its check results."""
    from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, DagsterEventType, generate_event_batch_id

    if not getattr(context.instance.event_log_storage, "batches_check_evaluations", False):
        for evaluation in evaluations:
            context.log_event(evaluation)
        return
    op_context = context.op_execution_context
    step, batch = op_context._step_execution_context, generate_event_batch_id()
    for number, evaluation in enumerate(evaluations, 1):
        message = (f"Asset check '{evaluation.check_name}' on '{evaluation.asset_key.to_user_string()}' "
                   + ("passed." if evaluation.passed else "did not pass.")
                   + ("" if evaluation.description is None else f" Description: '{evaluation.description}'"))
        # what log_event does (DagsterEvent.asset_check_evaluation), with the batch's metadata
        op_context._events.append(DagsterEvent.from_step(
            DagsterEventType.ASSET_CHECK_EVALUATION, step, evaluation, message,
            DagsterEventBatchMetadata(batch, number == len(evaluations))))


def _evaluation(result: dg.AssetCheckResult, target, assets_def: dg.AssetsDefinition) -> dg.AssetCheckEvaluation:
    """A check result as an evaluation event, for runs that select an asset without its checks.

    Runs of many partitions select products without their checks: Dagster would otherwise plan one
    check execution per check and per partition (and leave them planned, since the results cover the
    run). The results are the same; they are logged in the run as evaluations of the latest
    materialization, which is what the UI and automation conditions read.
    """
    check_key = dg.AssetCheckKey(result.asset_key, result.check_name)
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key, check_name=result.check_name, passed=result.passed,
        metadata=result.metadata, severity=result.severity, description=result.description,
        target_materialization_data=target, blocking=assets_def.get_spec_for_check_key(check_key).blocking)
