"""Storage: where products live, how they are written, and the ports through which they are read.

Owns DuckDB with its extensions loaded from their wheels (``engine``); the DuckLake lakehouse, one
transaction per publish (``lake``) and its maintenance (``maintenance``); the Python and SQL read
ports by address, with access checks and PII masking (``ports``) and the SQL port's statement gate
(``sqlgate``); reading operational feeds, typed by the contract (``sources``); and the quarantine
record of rejected input (``quarantine``).

May use ``mesh.contracts`` and ``mesh.errors``. A sibling of ``mesh.instance``: neither uses the other.
"""
