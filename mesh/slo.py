"""Service level objectives evaluated at run time: volume per partition.

The error-rate SLO is decided while auditing (``mesh.wap``) because it gates publishing; volume is
judged here, after the run, against the contract's bounds or a band around the median of earlier
published partitions. Freshness is evaluated outside runs (``mesh.freshness``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import dagster as dg

from mesh.lake import Lake
from mesh.registry import Product
from mesh.wap import Report


@dataclass
class VolumeFinding:
    passed: bool
    summary: str | None
    metadata: dict[str, object] = field(default_factory=dict)


def volume_finding(product: Product, report: Report, lake: Lake) -> VolumeFinding:
    volume = product.contract.slo.volume
    counts = {k: v.rows_in for k, v in report.verdicts.items()}
    metadata: dict[str, object] = {"rows_per_partition_min": min(counts.values(), default=0),
                                   "rows_per_partition_max": max(counts.values(), default=0)}
    if volume is None:
        metadata["slo"] = "none declared"
        return VolumeFinding(True, None, metadata)
    problems: list[str] = []
    history: dict[str, int] = {}
    if volume.trailing_partitions:
        manifest = lake.published(product.address, product.contract.major)
        history = {k: e.rows_in for k, e in (manifest.partitions.items() if manifest else [])}
    for key, rows in sorted(counts.items()):
        if volume.min_rows is not None and rows < volume.min_rows:
            problems.append(f"{key}: {rows} rows, below the minimum of {volume.min_rows}")
        if volume.max_rows is not None and rows > volume.max_rows:
            problems.append(f"{key}: {rows} rows, above the maximum of {volume.max_rows}")
        if volume.trailing_partitions:
            earlier = [history[k] for k in sorted(history) if k < key][-volume.trailing_partitions:]
            if len(earlier) >= 2:
                median = statistics.median(earlier)
                low, high = median * (1 - volume.tolerance), median * (1 + volume.tolerance)
                if not low <= rows <= high:
                    problems.append(f"{key}: {rows} rows, outside {low:.0f}..{high:.0f} "
                                    f"(median {median:.0f} of {len(earlier)} earlier partitions)")
    metadata["slo"] = dg.MetadataValue.json(volume.model_dump(exclude_none=True))
    metadata["partitions_outside"] = len(problems)
    if problems:
        metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:30]))
    return VolumeFinding(not problems, problems[0] if problems else None, metadata)
