"""Quality: judging a product's rows, and publishing only what passes.

Owns the rules read from a product's pandera model (``rules``); finding a product's code, its
function and its model (``code``); relation rules across products (``relations``); the mesh-wide rule
that nothing is published before it happens (``business_day``); partition-aware freshness
(``freshness``) and the volume SLO (``slo``); and write-audit-publish, which computes a product for a
window, audits every row and publishes what passes with the rest quarantined (``wap``).

May use ``mesh.storage``, ``mesh.contracts`` and ``mesh.errors``.
"""
