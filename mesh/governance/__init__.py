"""Governance: the policies products are held to, what consumers find, and what owners review.

Owns the global policies ``mesh lint`` checks (``policies``) and schema versions with their breaking
changes (``versions``); discovery, the catalog and the model outlines it keeps between runs
(``catalog``, ``outline``); export as Open Data Contract Standard documents (``odcs``); scaffolding of
new domains and products (``scaffold``); and the owners' review of check results and SLOs (``review``).

May use ``mesh.quality``, ``mesh.storage``, ``mesh.instance``, ``mesh.contracts`` and ``mesh.errors``.
"""
