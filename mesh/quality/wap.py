"""Write-audit-publish: compute a product for a window, audit every row, publish what passes.

For each chunk of partitions (bounded, so backfills of years run in constant memory) the runner
loads the inputs through the port, calls the product's plain function, checks structure and rules
on the result (the model's, the contract's relations and the mesh-wide ``happened_by_business_day``
of ``mesh.quality.business_day``), quarantines rows that fail ERROR rules, and publishes a partition only
when its error rate is within the contract's SLO. A rejected partition changes nothing: the
previous published data and quarantine stay. ``Report`` is what the checks and the UI show.
Dagster is not imported here; ``mesh.orchestration.compile`` turns a ``Report`` into events.
"""

from __future__ import annotations

import bisect
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mesh.contracts.access import mask_frame
from mesh.contracts.contract import Window
from mesh.contracts.names import ALL
from mesh.contracts.partitions import KEY_FORMATS, RunWindow, format_key, parse_key
from mesh.contracts.registry import Mesh, Product
from mesh.contracts.result import Result
from mesh.errors import MeshError
from mesh.quality import business_day, relations
from mesh.quality.code import ProductCode
from mesh.quality.rules import (
    STRUCTURE,
    Rule,
    RuleOutcome,
    check_structure,
    coerce_datetimes,
    evaluate_rules,
    finalize,
)
from mesh.storage.lake import Lake, Publication, RunInfo, arrow_shape
from mesh.storage.ports import Port, to_pandas
from mesh.storage.quarantine import Entry, record_json
from mesh.storage.quarantine import to_table as quarantine_table
from mesh.storage.sources import Lineage, SourceBatch, datetimes, period_keys, read_sources

SAMPLE_ROWS = 20
SHRINK = "shrink refused"  # how a partition kept from emptying or shrinking says so (mesh.quality.slo shows it)
# A window runs in chunks, so that backfills of years run in bounded memory. The first chunk holds
# DEFAULT_CHUNK_PARTITIONS partitions; each later one as many partitions as hold about
# DEFAULT_CHUNK_ROWS rows at once at the highest density the chunks before it showed (rows of the
# inputs as the function receives them, of its output and of what relation rules read per partition),
# never fewer than the first's and at most CHUNK_GROWTH times the previous one's (data that grows
# over the years is met before it fills a chunk). Dense data keeps chunks of 366 days (order lines
# at scale factor 1); sparse data runs four years in two chunks instead of four, and each chunk
# costs a lake transaction.
DEFAULT_CHUNK_PARTITIONS = 366
DEFAULT_CHUNK_ROWS = 1_000_000
CHUNK_GROWTH = 4


@dataclass
class Verdict:
    """What happened to one partition."""

    key: str
    rows_in: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0
    published: bool = False
    reason: str | None = None  # why it was not published

    @property
    def error_rate(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0


@dataclass
class Finding:
    """A rule's (or the structure check's) result over the whole run."""

    name: str
    severity: str
    blocking: bool
    description: str
    columns: tuple[str, ...] = ()
    rows_checked: int = 0
    rows_failing: int = 0
    samples: list[pd.DataFrame] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    whole_frame_failures: int = 0

    @property
    def passed(self) -> bool:
        return not self.errors and not self.whole_frame_failures and self.rows_failing == 0

    @property
    def sample(self) -> pd.DataFrame:
        frames = [f for f in self.samples if len(f)]
        return pd.concat(frames).head(SAMPLE_ROWS) if frames else pd.DataFrame()

    def add_sample(self, rows: pd.DataFrame) -> None:
        have = sum(len(f) for f in self.samples)
        if have < SAMPLE_ROWS and len(rows):
            self.samples.append(rows.head(SAMPLE_ROWS - have))


@dataclass
class Report:
    address: str
    window: RunWindow
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)  # problems that rejected whole chunks
    conformance: list[str] = field(default_factory=list)
    error_rate_max: float = 0.0
    transform_seconds: float = 0.0
    validate_seconds: float = 0.0
    publish_seconds: float = 0.0
    read_seconds: float = 0.0
    snapshots: list[int] = field(default_factory=list)  # lake snapshots this run committed, in order
    chunks: list[RunWindow] = field(default_factory=list)  # the windows it ran, in order
    function_metadata: dict[str, Any] = field(default_factory=dict)  # from a function returning Result

    @property
    def published(self) -> list[str]:
        return [k for k, v in self.verdicts.items() if v.published]

    @property
    def rejected(self) -> list[str]:
        return [k for k, v in self.verdicts.items() if not v.published]

    @property
    def rows_in(self) -> int:
        return sum(v.rows_in for v in self.verdicts.values())

    @property
    def rows_published(self) -> int:
        return sum(v.rows_published for v in self.verdicts.values() if v.published)

    @property
    def rows_quarantined(self) -> int:
        return sum(v.rows_quarantined for v in self.verdicts.values() if v.published)


@dataclass
class Runner:
    """Everything a product run needs, resolved: no Dagster, no environment variables."""

    mesh: Mesh
    product: Product
    code: ProductCode
    port: Port
    lake: Lake
    operational_root: Path
    run_id: str
    code_version: str = ""
    chunk_partitions: int = DEFAULT_CHUNK_PARTITIONS
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    log: Callable[[str], None] = print
    observer: Any = None  # mesh.orchestration.observe.Observer, for products reading the mesh's own state

    def run(self, window: RunWindow) -> Report:
        contract = self.product.contract
        report = Report(str(self.product.address), window, error_rate_max=contract.slo.error_rate.max)
        for rule in [*self.code.schema.rules, *self.relation_rules, self.business_day_rule]:
            report.findings[rule.name] = Finding(rule.name, rule.severity, rule.blocking, rule.description,
                                                 rule.columns)
        report.findings[STRUCTURE] = Finding(
            STRUCTURE, "error", True, "columns, types, nullability and key uniqueness",
            tuple(self.code.schema.column_names))
        rest: RunWindow | None = self._within_retention(window)
        size, density = self.chunk_partitions, 0.0
        while rest is not None and rest.keys:
            chunk, rest = _head(rest, size)
            if report.chunks or rest is not None:  # a window of several chunks: say which this is
                self.log(f"{self.product.address}: chunk {len(report.chunks) + 1}, partitions {_span(chunk.keys)}")
            density = max(density, self._run_chunk(chunk, report) / len(chunk.keys))
            report.chunks.append(chunk)
            fits = int(self.chunk_rows / density) if density else size * CHUNK_GROWTH
            size = max(self.chunk_partitions, min(fits, size * CHUNK_GROWTH))
        return report

    @cached_property
    def relation_rules(self) -> list[Rule]:
        return relations.relation_rules(self.product.contract)

    @cached_property
    def business_day_rule(self) -> Rule:
        return business_day.business_day_rule(self.product, self.code.schema)

    # -- one chunk ------------------------------------------------------------------------
    def _run_chunk(self, window: RunWindow, report: Report) -> int:
        """Run one chunk into ``report``; returns how many rows it held at once (see ``DEFAULT_CHUNK_ROWS``)."""
        started = time.perf_counter()
        arguments, batch = self._inputs(window)
        report.read_seconds += time.perf_counter() - started
        started = time.perf_counter()
        returned = self.code.function(**arguments)
        if isinstance(returned, Result):
            report.function_metadata.update(returned.metadata)
            returned = returned.data
        output = _to_frame(returned, self.product)
        taken = sum(_rows(value) for value in arguments.values())
        # The inputs (frames, DuckDB relations and their connection) are not needed any more: free them
        # before validation copies the output. Read rejects and lineage stay with the batch.
        del arguments, returned
        report.transform_seconds += time.perf_counter() - started
        started = time.perf_counter()
        related = self._related(window, batch)  # what relation rules read, before the batch is freed
        # at most the output with the inputs, then with what relation rules read
        held = len(output) + max(taken, sum(_rows(value) for value in related.values()))
        if batch is not None:
            batch.frames.clear()
        report.read_seconds += time.perf_counter() - started

        started = time.perf_counter()
        keys, misplaced = self._partition_keys(output, window)
        verdicts = {k: Verdict(k) for k in window.keys}
        read_rejects = list(batch.rejects) if batch else []
        for key, count in keys.value_counts().items():
            verdicts[key].rows_in += int(count)
        for entry in read_rejects:
            verdicts[entry.partition].rows_in += 1

        frame, structure = check_structure(output, self.code.schema)
        if not structure.fatal:
            for column, mask, reason in misplaced:
                structure.reasons.append((column, mask, reason))
                structure.failing |= mask
            self._published_elsewhere(frame, structure, window)
        rejected_chunk = list(structure.fatal)
        outcomes: list[RuleOutcome] = []
        quarantine_mask = structure.failing.copy()
        if not structure.fatal:
            # ERROR rules first; WARN rules then judge only the rows that will be published.
            outcomes = evaluate_rules(frame, self.code.schema, skip=structure.failing, severity="error")
            partitions = keys.to_numpy(dtype=object)
            outcomes += relations.evaluate(frame, self.relation_rules, related, structure.failing, "error", partitions)
            judged = business_day.judged_window(window, self.mesh, self.product,
                                                lambda address: self.port.resolve(address).published)
            outcomes.append(business_day.evaluate(frame, self.business_day_rule, keys, judged, structure.failing))
            for outcome in outcomes:
                if outcome.failing is not None:
                    quarantine_mask |= outcome.failing
            outcomes += evaluate_rules(frame, self.code.schema, skip=quarantine_mask, severity="warn")
            outcomes += relations.evaluate(frame, self.relation_rules, related, quarantine_mask, "warn", partitions)
        del related
        for outcome in outcomes:
            rule = outcome.rule
            if rule.severity == "error" and rule.blocking and (outcome.error or outcome.failed_whole_frame):
                why = outcome.error or "the rule failed for the data as a whole"
                rejected_chunk.append(f"rule {rule.name}: {why}")
        self._record_findings(report, frame, structure, outcomes, window)
        report.validate_seconds += time.perf_counter() - started

        entries = list(read_rejects)
        entries += self._quarantine_entries(frame if not structure.fatal else output, keys, structure, outcomes,
                                            quarantine_mask, batch.lineage if batch else None, sent=output)
        del output  # the coerced frame holds what is left to publish
        for entry in entries[len(read_rejects):]:
            verdicts[entry.partition].rows_quarantined += 1
        for entry in read_rejects:
            verdicts[entry.partition].rows_quarantined += 1

        contract = self.product.contract
        publications, quarantines = {}, {}
        good = frame[~quarantine_mask] if not structure.fatal else frame.iloc[0:0]
        good_keys = keys[~quarantine_mask] if not structure.fatal else keys.iloc[0:0]
        del frame
        good = finalize(good, self.code.schema) if not structure.fatal else good
        conformance = self._conformance(good)
        by_key = _split(good, good_keys)  # Arrow tables per partition, converted once
        del good
        entries_by_key: dict[str, list[Entry]] = {}
        for entry in entries:
            entries_by_key.setdefault(entry.partition, []).append(entry)
        report.conformance += conformance
        shrinking = self._shrink_guard()
        for key, verdict in verdicts.items():
            if rejected_chunk or conformance:
                verdict.reason = "; ".join(rejected_chunk + conformance)
            elif verdict.rows_quarantined > contract.slo.error_rate.allowed(verdict.rows_in):
                verdict.reason = (f"error rate {verdict.error_rate:.2%} ({verdict.rows_quarantined} of "
                                  f"{verdict.rows_in} rows) exceeds the SLO of {report.error_rate_max:.2%}")
            table = by_key.get(key) or by_key[None]
            if not verdict.reason:
                verdict.reason = shrinking(key, table.num_rows, verdict.rows_in)
            if verdict.reason:
                continue
            verdict.rows_published = table.num_rows
            publications[key] = Publication(table, verdict.rows_in, verdict.rows_quarantined)
            quarantines[key] = quarantine_table(entries_by_key.get(key, []), self.run_id)
            verdict.published = True
        report.fatal += rejected_chunk
        started = time.perf_counter()
        if publications:  # product, quarantine and ledger in one lake transaction
            run = RunInfo(self.run_id, self.code_version, contract.version)
            report.snapshots.append(self.lake.publish(
                self.product.address, contract.major, publications, quarantines, run, self._retention_start(window),
                partitioned_by=contract.partitioning.column if contract.partitioning else None))
        report.publish_seconds += time.perf_counter() - started
        report.verdicts.update(verdicts)
        return held

    def _published_elsewhere(self, frame: pd.DataFrame, structure: Any, window: RunWindow) -> None:
        """A key already published in a partition outside the window is a duplicate, for a product whose
        key is unique across its history (duplicates inside the window are the structure check's)."""
        contract = self.product.contract
        key = list(self.code.schema.key)
        partition = contract.partitioning.column if contract.partitioning else None
        if (not key or partition is None or partition in key or contract.key_scope != "history"
                or not len(frame) or not window.keys):
            return
        candidates = np.flatnonzero(~structure.failing)
        table = pa.Table.from_pandas(frame.iloc[candidates][key], preserve_index=False)
        rows, partitions = self.lake.published_elsewhere(self.product.address, contract.major, table,
                                                         window.keys[0], window.keys[-1])
        for where in sorted(set(partitions)):
            mask = np.zeros(len(frame), dtype=bool)
            mask[candidates[rows[partitions == where]]] = True
            structure.reasons.append((",".join(key), mask, f"duplicate key {key}: already published in partition "
                                                           f"{where}"))
            structure.failing |= mask

    def _shrink_guard(self) -> Callable[[str, int, int], str | None]:
        """Why a partition must not replace its published version: it would empty it, or bring it
        below the volume SLO's lower bound, unless the contract allows shrinking. None: it may."""
        contract = self.product.contract
        state = None if contract.slo.allow_shrink else self.lake.published(self.product.address, contract.major)
        if state is None:
            return lambda key, rows, rows_in: None
        volume = contract.slo.volume
        ordered = state.keys()

        def why(key: str, rows: int, rows_in: int) -> str | None:
            before = state.partitions.get(key)
            if before is None or before.rows == 0 or rows >= before.rows:
                return None
            below = ""
            if rows:
                earlier = [state.partitions[k].rows_in for k in ordered[:bisect.bisect_left(ordered, key)]]
                low, _, how = volume.bounds(earlier) if volume else (None, None, "")
                if low is None or rows_in >= low:
                    return None
                below = f", below the volume SLO's lower bound of {low:.0f} ({how})"
            return (f"{SHRINK}: partition {key} would go from {before.rows} published rows to {rows} "
                    f"({rows_in} rows in){below}; the published version stays (a contract whose partitions may "
                    f"empty or shrink sets slo.allow_shrink)")

        return why

    # -- inputs -------------------------------------------------------------------------------
    def _inputs(self, window: RunWindow) -> tuple[dict[str, Any], SourceBatch | None]:
        contract = self.product.contract
        parameters = inspect.signature(self.code.function).parameters
        takes_all = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
        arguments: dict[str, Any] = {}
        if "window" in parameters:
            arguments["window"] = window
        if "params" in parameters:
            arguments["params"] = dict(contract.parameters)
        batch = None
        # an input or source only relation rules read is not the function's (see _related)
        sources = {n: feed for n, feed in contract.sources.items() if takes_all or n in parameters}
        if sources:
            batch = read_sources(self.operational_root, sources, window, self._lateness(), self.observer)
            arguments.update(batch.frames)
        connection = None
        for name in contract.inputs:
            if not (takes_all or name in parameters):
                continue
            resolved, keys = self._input(name, window)
            if _wants_relation(parameters.get(name)):
                connection = connection or self.port.attach()
                arguments[name] = self.port.relation(connection, resolved, keys)
            else:
                arguments[name] = to_pandas(self.port.scan(resolved, keys))
        return arguments, batch

    def _input(self, name: str, window: RunWindow) -> tuple[Any, list[str] | None]:
        """An input resolved through the port, and the partitions of it the window reads (all published)."""
        spec = self.product.contract.inputs[name]
        upstream = self.mesh.product(spec.address)
        resolved = self.port.resolve(spec.address)
        published = resolved.published
        keys = _input_keys(self.product.window_of(name, upstream), spec.days, window, published.keys(), upstream)
        missing = [k for k in keys if k not in published.partitions] if keys is not None else []
        if missing:
            raise MeshError(
                f"{self.product.address}: input {name} ({spec.address}) has no published partitions "
                f"{_span(missing)}; materialize it first (or its partitions were rejected by its checks)")
        return resolved, keys

    def _lateness(self) -> int:
        partitioning = self.product.contract.partitioning
        return partitioning.lateness_days if partitioning else 0

    def _related(self, window: RunWindow, batch: SourceBatch | None) -> dict[str, Any]:
        """The inputs and sources relation rules read, for the window: Arrow tables or frames, scoped per
        partition when the window holds several. A source the function does not read is read apart: its
        rejected records are its own product's, not these."""
        contract = self.product.contract
        found: dict[str, Any] = {}
        for name in sorted(contract.relation_inputs):
            if name in contract.inputs:
                resolved, keys = self._input(name, window)
                found[name] = self._scoped(name, window, resolved, self.port.scan(resolved, keys))
                continue
            if batch is not None and name in batch.frames:
                frame = batch.frames[name]
            else:
                feeds = {name: contract.sources[name]}
                frame = read_sources(self.operational_root, feeds, window, self._lateness(), self.observer).frames[name]
            event_date = contract.sources[name].event_date
            if len(window.keys) < 2 or not window.partitioned or event_date is None:
                found[name] = frame
                continue
            assert window.start is not None and window.cadence is not None
            rows = period_keys(datetimes(frame[event_date]), window.start, window.cadence.period,
                               KEY_FORMATS[window.cadence])
            found[name] = relations.Scoped(frame, rows, {k: (k, k) for k in window.keys})  # a record's own day
        return found

    def _scoped(self, name: str, window: RunWindow, resolved: Any, table: pa.Table) -> Any:
        """An input relation rules read, with what each partition of a window of several would read alone."""
        spec = self.product.contract.inputs[name]
        upstream = self.mesh.product(spec.address)
        if len(window.keys) < 2 or not window.partitioned or not upstream.partitioned:
            return table
        kind, available = self.product.window_of(name, upstream), resolved.published.keys()
        ranges = {}
        for key in window.keys:
            seen = _input_keys(kind, spec.days, RunWindow.of_keys(self.product.domain, key, key), available, upstream)
            ranges[key] = (seen[0], seen[-1]) if seen else None
        assert upstream.contract.partitioning is not None
        column, cadence = upstream.contract.partitioning.column, upstream.domain.snapshots.cadence
        origin = parse_key(available[0], cadence) if available else window.start
        rows = period_keys(datetimes(to_pandas(table.select([column]))[column]), origin, cadence.period,
                           KEY_FORMATS[cadence])
        return relations.Scoped(table, rows, ranges)

    def _partition_keys(self, output: pd.DataFrame, window: RunWindow) -> tuple[pd.Series, list]:
        """Each row's partition key, and the rows that belong to no partition of the run (a null or
        unparsable partition column, or a date outside the window) with why. Those are quarantined
        (as structure failures) under the window's first partition, as they belong to none, so the
        rest of the chunk still publishes and rows in = published + quarantined holds."""
        partitioning = self.product.contract.partitioning
        if partitioning is None:
            return pd.Series(ALL, index=output.index, dtype=object), []
        column = partitioning.column
        if column not in output.columns:
            raise MeshError(f"{self.product.address}: the function's result has no partition column {column!r}")
        assert window.start is not None and window.cadence is not None
        from mesh.contracts.partitions import KEY_FORMATS

        try:
            moments = datetimes(output[column])
        except (ValueError, TypeError, OverflowError):  # not dates at all: judged row by row
            moments = coerce_datetimes(output[column])
        # each distinct period formatted once, not every row
        keys = pd.Series(period_keys(moments, window.start, window.cadence.period, KEY_FORMATS[window.cadence]),
                         index=output.index, dtype=object)
        null = keys.isna().to_numpy()
        outside = ~null & ~keys.isin(set(window.keys)).to_numpy()
        problems = []
        if null.any():
            problems.append((column, null, f"{column} is null or not a date: the row belongs to no partition"))
        if outside.any():
            problems.append((column, outside, f"{column} falls outside the run's partitions "
                                              f"{window.keys[0]}..{window.keys[-1]}: filter rows with `window`"))
        if problems:
            keys = keys.where(~(null | outside), window.keys[0])
        return keys.astype(object), problems

    # -- audit ----------------------------------------------------------------------------
    def _record_findings(self, report: Report, frame: pd.DataFrame, structure: Any, outcomes: list[RuleOutcome],
                         window: RunWindow) -> None:
        rows = len(frame)
        finding = report.findings[STRUCTURE]
        finding.rows_checked += rows
        finding.rows_failing += int(structure.failing.sum())
        finding.errors += [f"{'..'.join(window.keys[::max(1, len(window.keys) - 1)])}: {p}" for p in structure.fatal]
        if structure.failing.any():
            sample = frame[structure.failing].head(SAMPLE_ROWS).copy()
            sample.insert(0, "_problem", [_structure_reason(structure, i) for i in np.flatnonzero(structure.failing)[
                :SAMPLE_ROWS]])
            finding.add_sample(self._shown(sample))
        for outcome in outcomes:
            finding = report.findings[outcome.rule.name]
            finding.rows_checked += rows
            if outcome.error:
                finding.errors.append(outcome.error)
                continue
            finding.rows_failing += outcome.failing_rows
            finding.whole_frame_failures += int(outcome.failed_whole_frame)
            if outcome.failing_rows:
                sample = frame[outcome.failing].head(SAMPLE_ROWS)
                if outcome.reasons:
                    sample = sample.copy()
                    sample.insert(0, "_problem", [outcome.reasons[int(p)] for p in np.flatnonzero(
                        outcome.failing)[:SAMPLE_ROWS]])
                finding.add_sample(self._shown(sample))

    def _shown(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows as the UI may show them to anyone: PII masked as for a reader without the PII right."""
        return mask_frame(rows, dict(self.product.contract.pii), self.port.masking_key)

    def _quarantine_entries(self, frame: pd.DataFrame, keys: pd.Series, structure: Any,
                            outcomes: list[RuleOutcome], mask: np.ndarray, lineage: Lineage | None,
                            sent: pd.DataFrame | None = None) -> list[Entry]:
        """One entry per row in ``mask``, under the first rule it fails, naming every rule it fails. A cell
        ``structure`` could not convert is shown as ``sent`` (the function's output) holds it, not as null."""
        if structure.fatal or not mask.any():
            return []
        positions = np.flatnonzero(mask)
        failures: dict[int, list[tuple[str, str | None, str]]] = {int(p): [] for p in positions}
        for column, column_mask, reason in structure.reasons:
            for p in np.flatnonzero(column_mask):
                failures[int(p)].append((STRUCTURE, column, reason))
        for outcome in outcomes:
            if outcome.rule.severity != "error" or outcome.failing is None:
                continue
            reasons, columns = outcome.reasons or {}, outcome.columns or {}
            for p in np.flatnonzero(outcome.failing):
                failures[int(p)].append((outcome.rule.name, columns.get(int(p), outcome.rule.column),
                                         reasons.get(int(p)) or _rule_reason(outcome.rule)))
        files, lines = (lineage.locate(frame.index[positions]) if lineage else ([None] * len(positions),) * 2)
        entries = []
        rows = frame.iloc[positions].to_dict("records")  # at once: a row at a time costs a Series each
        for i, p in enumerate(positions):
            rule, column, reason = failures[int(p)][0]
            row = rows[i]
            if sent is not None and structure.failing[p]:
                given = sent.iloc[p]
                row |= {c: given[c] for c, v in row.items()
                        if c in given.index and _missing(v) and not _missing(given[c])}
            value = row.get(column) if column and column in row else None
            entries.append(Entry(
                partition=keys.iat[p], stage="validate", rule=rule, reason=reason, column=column, value=value,
                rules_failed=",".join(dict.fromkeys(f[0] for f in failures[int(p)])),
                source_file=files[i], source_line=lines[i], record=record_json(row)))
        return entries

    def _conformance(self, good: pd.DataFrame) -> list[str]:
        """What is published must keep the schema already published in this major version: no column
        removed or retyped; a new column only when it may be null (older partitions read it as null)."""
        old = dict(self.lake.columns(self.product.address, self.product.contract.major) or [])
        if not old:
            return []
        now = dict(arrow_shape(pa.Schema.from_pandas(good, preserve_index=False).empty_table()))
        problems = [f"{c} removed" for c in old if c not in now]
        problems += [f"{c} {old[c]} -> {now[c]}" for c in old if c in now and old[c] != now[c]]
        problems += [f"{c} added but not nullable" for c in now
                     if c not in old and not self.code.schema.column(c).nullable]
        if not problems:
            return []
        return [f"schema differs from published v{self.product.contract.major} ({', '.join(problems)}): "
                f"bump the contract's major version"]

    def _within_retention(self, window: RunWindow) -> RunWindow:
        """The window without its partitions older than the retention as of its newest one: publishing
        would delete them at once, and their inputs may be gone (an input may keep less history)."""
        horizon = self._retention_start(window)
        if horizon is None or not window.keys or window.keys[0] >= horizon:
            return window
        assert window.start is not None and window.cadence is not None
        skipped = next((i for i, key in enumerate(window.keys) if key >= horizon), len(window.keys))
        self.log(f"{self.product.address}: {skipped} partition(s) {window.keys[0]}..{window.keys[skipped - 1]} are "
                 f"older than the {self.product.contract.retention.days}-day retention: not computed")
        start = window.start + skipped * window.cadence.period
        return RunWindow(start, window.end, window.cadence, window.keys[skipped:], window.as_of)

    def _retention_start(self, window: RunWindow) -> str | None:
        retention = self.product.contract.retention
        if retention is None or window.end is None or window.cadence is None:
            return None
        return format_key(window.end - timedelta(days=retention.days), window.cadence)


def _structure_reason(structure: Any, position: int) -> str:
    return "; ".join(f"{column}: {reason}" for column, mask, reason in structure.reasons if mask[position])


def _missing(value: Any) -> bool:
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _rule_reason(rule: Rule) -> str:
    return f"failed rule {rule.name}: {rule.description}"


def _head(window: RunWindow, size: int) -> tuple[RunWindow, RunWindow | None]:
    """The window's first ``size`` partitions, and the rest (None when nothing is left)."""
    if not window.partitioned or len(window.keys) <= size:
        return window, None
    assert window.cadence is not None and window.start is not None
    period = window.cadence.period
    middle = window.start + size * period
    return (RunWindow(window.start, middle, window.cadence, window.keys[:size], window.as_of),
            RunWindow(middle, window.end, window.cadence, window.keys[size:], window.as_of))


def _rows(value: Any) -> int:
    """Rows a chunk holds in memory for an input: frames and Arrow tables (a DuckDB relation streams)."""
    if isinstance(value, relations.Scoped):
        value = value.data
    if isinstance(value, pd.DataFrame):
        return len(value)
    return value.num_rows if isinstance(value, pa.Table) else 0


def _input_keys(window_kind: Window, days: int | None, window: RunWindow, available: list[str],
                upstream: Product) -> list[str] | None:
    """Upstream partition keys a run reads; None means every published partition."""
    if not upstream.partitioned or not window.partitioned:
        return None
    assert window.end is not None and window.start is not None
    cadence = upstream.domain.snapshots.cadence
    end = format_key(window.end, cadence)
    if window_kind is Window.partition:
        return list(window.keys)
    if window_kind is Window.trailing:
        start = format_key(window.start - timedelta(days=days or 0), cadence)
        return [k for k in available if start <= k < end]
    return [k for k in available if k < end]


def _wants_relation(parameter: inspect.Parameter | None) -> bool:
    if parameter is None:
        return False
    annotation = parameter.annotation
    return annotation is duckdb.DuckDBPyRelation or (isinstance(annotation, str) and "DuckDBPyRelation" in annotation)


def _to_frame(result: Any, product: Product) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, duckdb.DuckDBPyRelation):
        return to_pandas(result.to_arrow_table())
    if isinstance(result, pa.Table):
        return to_pandas(result)
    raise MeshError(f"{product.address}: the function returned {type(result).__name__}; "
                    f"expected a pandas DataFrame, a DuckDB relation or an Arrow table")


def _split(frame: pd.DataFrame, keys: pd.Series) -> dict[str | None, pa.Table]:
    """Arrow tables per partition key (``None``: an empty table with the schema), converted once."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    parts: dict[str | None, pa.Table] = {None: table.slice(0, 0)}
    if not len(frame):
        return parts
    order = np.argsort(keys.to_numpy(dtype=object), kind="stable")
    ordered = table.take(pa.array(order))
    sorted_keys = keys.to_numpy(dtype=object)[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(sorted_keys)]
    for start, end in zip(starts, ends, strict=True):
        parts[str(sorted_keys[start])] = ordered.slice(start, end - start)
    return parts


def _span(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]} ({len(keys)})"
