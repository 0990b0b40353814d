"""What a product's function may return beside its rows: ``Result``, the rows and their metadata.

Apart from ``mesh.quality.wap``, which runs products and imports Dagster, so that domain code importing
``from mesh import Result`` loads no orchestration: the catalog imports products' models, and some
models import constants from their product's function module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """What a function returns when it has more to say than its rows: metadata shown on the
    materialization (a model's AUC, a parameter it chose). Values: numbers, text, or dicts/lists."""

    data: Any
    metadata: dict[str, Any] = field(default_factory=dict)
