"""The supply chain domain's transformations, and the one helper they share: SQL over several inputs."""

import duckdb


def query(statement: str, **inputs: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Run one SQL statement over input relations of one connection, each readable as ``input_<name>``.

    A product's DuckDB inputs arrive as relations on one connection. SQL cannot name a relation,
    so each gets a view of its own, named after the function's parameter: the statement reads
    exactly the relations the function was given, whatever views the connection already holds.
    """
    *others, (name, relation) = inputs.items()
    for other, other_relation in others:
        other_relation.create_view(f"input_{other}", replace=True)
    return relation.query(f"input_{name}", statement)
