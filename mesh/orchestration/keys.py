"""How Dagster names a product: its asset key is ``[<domain>, <product>]``.

The compiler, the snapshot jobs, the monitor and the mesh's own observations all name products
the same way, so a product's checks, runs and alerts meet on one asset in the UI.
"""

from __future__ import annotations

import dagster as dg

from mesh.contracts.registry import Product


def asset_key(product: Product) -> dg.AssetKey:
    return dg.AssetKey([product.address.domain, product.address.product])
