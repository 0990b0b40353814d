"""Service level objectives evaluated at run time: volume per partition.

The error-rate SLO is decided while auditing (``mesh.quality.wap``) because it gates publishing; volume is
judged here, after the run, against the contract's bounds or a band around the median of earlier
published partitions. Freshness is evaluated outside runs (``mesh.quality.freshness``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import dagster as dg

from mesh.contracts.registry import Product
from mesh.quality.wap import SHRINK, Report
from mesh.storage.lake import Lake


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
    # a published partition that a run would have emptied or shrunk below the SLO was kept (mesh.quality.wap)
    problems = [v.reason for _, v in sorted(report.verdicts.items()) if v.reason and v.reason.startswith(SHRINK)]
    if volume is None:
        metadata["slo"] = "none declared"
        return VolumeFinding(not problems, problems[0] if problems else None, metadata)
    history: dict[str, int] = {}
    if volume.trailing_partitions:
        manifest = lake.published(product.address, product.contract.major)
        history = {k: e.rows_in for k, e in (manifest.partitions.items() if manifest else [])}
    ordered = sorted(history)
    for key, rows in sorted(counts.items()):
        reason = report.verdicts[key].reason
        if reason and reason.startswith(SHRINK):
            continue
        earlier = [history[k] for k in ordered[:bisect.bisect_left(ordered, key)]]
        low, high, how = volume.bounds(earlier)
        if (low is not None and rows < low) or (high is not None and rows > high):
            shown = f"{low:.0f}" if low is not None else "0"
            problems.append(f"{key}: {rows} rows, outside {shown}..{'any' if high is None else f'{high:.0f}'} "
                            f"({how})")
    metadata["slo"] = dg.MetadataValue.json(volume.model_dump(exclude_none=True))
    metadata["partitions_outside"] = len(problems)
    if problems:
        metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:30]))
    return VolumeFinding(not problems, problems[0] if problems else None, metadata)
