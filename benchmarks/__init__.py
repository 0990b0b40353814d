"""The performance suite: what the mesh costs over bare compute, and how that cost scales.

``python -m benchmarks`` (``make bench``) runs five cases side by side with their baselines in the
same process run, and writes JSON and Markdown results (see ``benchmarks/README.md``):

- ``backfill``: whole-history backfill of the ERP domains vs the same products in plain DuckDB SQL;
- ``snapshot``: one daily snapshot of the whole mesh vs Dagster's floor (same graph, empty bodies);
- ``validation``: throughput of the product schemas on ``sales.order_lines``;
- ``definitions``: load time of generated meshes of 100 to 5,000 products;
- ``memory``: peak resident memory of the largest products vs the data they hold at once.

Not part of ``make test``; ``tests/test_benchmarks_smoke.py`` runs it at a tiny scale.
"""
