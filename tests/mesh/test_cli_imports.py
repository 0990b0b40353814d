"""The command lines that only read (``sql``, ``read``, ``catalog``, ``show``, ``review``) never import Dagster.

Importing Dagster alone takes seconds; these commands answer from contracts, models, the lake and, for
``show`` and ``review``, the local instance's SQLite index. ``sql`` and ``read`` import no pandas either
(half a second), and a model's columns and rules, once built, come without pandera. Each check runs in a
fresh interpreter, where nothing else has imported them first, and calls the commands through click as
``mesh`` does, on a lake with a published product.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import DAY, ROOT

SCRIPT = textwrap.dedent("""
    import json, sys
    from click.testing import CliRunner
    import mesh.cli

    outputs = []
    for args in json.loads(sys.argv[1]):
        result = CliRunner().invoke(mesh.cli.main, args)
        if result.exit_code != 0:
            raise SystemExit(f"mesh {' '.join(args)} failed: {result.output} {result.exception!r}")
        outputs.append(result.output)
    print(json.dumps({"outputs": outputs, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                                                            ("dagster", "pandera", "pandas", "mesh",
                                                             "pyarrow", "numpy"))}))
""")


def run_fresh(env: dict[str, str], *commands: list[str]) -> tuple[list[str], list[str]]:
    """Outputs of ``mesh <command>`` in a new interpreter, and the modules it had loaded at the end."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    return found["outputs"], found["loaded"]


@pytest.fixture
def published(sales_env, tmp_path) -> dict[str, str]:
    """The environment of a person reading a lake where sales.orders has one day published."""
    report = sales_env.run("sales.orders", DAY)
    assert report.rows_published > 0
    return {**os.environ, "MESH_PROJECT_DIR": str(ROOT), "MESH_STORAGE_URI": str(sales_env.products),
            "MESH_OPERATIONAL_ROOT": str(sales_env.operational), "MESH_WORK_DIR": str(tmp_path / "work"),
            "MESH_MASKING_KEY": "test-key", "DAGSTER_HOME": str(tmp_path / "dagster"),
            "rows": str(report.rows_published)}


def test_sql_read_and_catalog_answer_without_importing_dagster(published):
    outputs, loaded = run_fresh(
        published,
        ["sql", "SELECT count(*) AS orders FROM sales.orders", "--format", "json"],
        ["read", "sales.orders", "--partition", DAY, "--format", "csv"],
        ["catalog"],
        ["catalog", "ship_mode"])
    count, rows, listing, search = outputs
    assert json.loads(count) == [{"orders": int(published["rows"])}]
    assert len(rows.strip().splitlines()) == int(published["rows"]) + 1  # a header, then every row
    assert "sales.orders" in listing and "governance.slo_scorecard" in listing
    assert "sales.order_lines" in search and "column ship_mode" in search  # columns come from the models
    assert not [m for m in loaded if m.startswith("dagster")], loaded


def test_sql_and_read_answer_without_pandas(published):
    """Arrow and DuckDB print what they read: DuckDB's Python client imports pandas to bind a query
    parameter or to register an Arrow table, so the lake and the ports do neither on these paths."""
    outputs, loaded = run_fresh(
        published,
        ["sql", "SELECT count(*) AS orders FROM sales.orders"],
        ["read", "sales.orders", "--partition", DAY])
    table, rows = outputs
    assert re.search(rf"│\s+{published['rows']}\s+│", table), table  # the count, in DuckDB's box
    assert "order_id" in rows.splitlines()[1], rows  # the box's header row names the columns
    assert not [m for m in loaded if m.startswith(("pandas", "dagster"))], loaded


def test_sql_and_read_print_duckdbs_own_result_without_arrow(published):
    """`mesh sql` and `mesh read`, in each format, print what DuckDB returns: pyarrow and numpy (a fifth of
    a second) stay out, and so does the masking function (registering it imports numpy) when no view masks."""
    outputs, loaded = run_fresh(
        published,
        ["sql", "SELECT count(*) AS orders FROM sales.orders"],
        ["sql", "SELECT order_id FROM sales.orders WHERE false"],
        ["sql", "SELECT order_id, order_date FROM sales.orders ORDER BY order_id LIMIT 2", "--format", "csv"],
        ["read", "sales.orders", "--partition", DAY, "--format", "csv"],
        ["read", "sales.orders", "--partition", DAY, "--format", "json", "--limit", "2"],
        ["read", "sales.orders", "--partition", DAY],
        ["sql", "SELECT 1e308 * 10 AS big, 'nan'::DOUBLE AS odd, [-1e308 * 10, 1.5] AS listed FROM sales.orders "
                "LIMIT 1", "--format", "json"],
        ["read", "sales.orders", "--partition", DAY, "--limit", "2"],
        ["sql", "SELECT order_id FROM sales.orders", "--limit", "0"])
    table, empty, two, rows, first, drawn, infinite, limited, none = outputs
    assert re.search(rf"│\s+{published['rows']}\s+│", table), table
    assert empty.strip() == "(no rows) columns: order_id"
    header, *lines = two.splitlines()
    assert header == "order_id,order_date" and len(lines) == 2 and re.fullmatch(r"\d+,\d{4}-\d\d-\d\d", lines[0])
    assert len(rows.splitlines()) == int(published["rows"]) + 1 and rows.startswith("order_id,")
    assert [r["order_date"] for r in json.loads(first)] == [DAY, DAY]  # --limit, dates as ISO text
    assert "order_id" in drawn.splitlines()[1]
    # JSON has no number for an infinity or NaN (Python would write Infinity, which parsers refuse): text
    assert json.loads(infinite, parse_constant=lambda c: pytest.fail(f"not JSON: {c}")) == [
        {"big": "inf", "odd": "nan", "listed": ["-inf", 1.5]}]
    # a table shows --limit rows of its box, and says how many there are
    assert len(re.findall(r"^│\s+\d+\s+│", limited, flags=re.M)) == 2, limited
    assert f"({published['rows']} rows, 2 shown; use --format csv or json for all)" in limited
    assert "order_id" in none and not re.search(r"^│\s+\d+\s+│", none, flags=re.M) and "0 shown" in none
    assert not [m for m in loaded if m.startswith(("pyarrow", "numpy", "pandas", "dagster"))], loaded


def test_show_and_review_read_the_local_instance_without_dagster(published):
    """`show` and `review` read check results from the local instance (an empty one here) without
    Dagster; a second process reads the models' columns and rules from their outlines, without pandera."""
    commands = (["show", "sales.orders"], ["review", "--domain", "sales", "--json"])
    first, loaded_first = run_fresh(published, *commands)
    again, loaded = run_fresh(published, *commands)
    assert again == first
    show, review = again
    assert "  order_id " in show and "ERP order key" in show  # the model's columns, with their descriptions
    assert "status: never run" in show and "checks: never evaluated" in show
    orders = next(r for r in json.loads(review) if r["address"] == "sales.orders")
    assert orders["status"] == "never run"
    assert {"structure", "total_price_positive", "error_rate"} <= {c["name"] for c in orders["checks"]}
    assert not [m for m in loaded_first if m.startswith("dagster")], loaded_first
    assert not [m for m in loaded if m.startswith(("dagster", "pandera", "pandas"))], loaded


def test_catalog_lists_products_from_contracts_alone(published):
    """Listing needs no model: pandera, the slowest import after Dagster, stays out too."""
    _, loaded = run_fresh(published, ["catalog", "--domain", "sales"])
    assert not [m for m in loaded if m.startswith(("dagster", "pandera"))], loaded


def test_python_port_and_domain_helpers_import_without_dagster(published):
    script = ("import sys, mesh; from mesh import rule; frame = mesh.read('sales.orders', partition=sys.argv[1]); "
              "print(len(frame), rule(severity='warn')['raise_warning'], "
              "any(m.split('.')[0] == 'dagster' for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script, DAY], env=published, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [published["rows"], "True", "False"]


def test_result_is_the_class_the_runner_recognises():
    from mesh import Result
    from mesh.contracts.result import Result as Home
    from mesh.quality.wap import Result as Recognised

    assert Result is Home is Recognised
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        getattr(importlib.import_module("mesh"), "nothing_here")  # noqa: B009 - the attribute access is the test



def test_review_names_the_checks_as_the_compiler_and_the_validator_do():
    """`mesh.governance.review` spells the names of the checks every product has rather than import the modules that
    define them (pandera and Dagster); they must stay the same names."""
    from mesh.governance.review import SLO_CHECKS as REVIEWED
    from mesh.governance.review import STRUCTURE as REVIEWED_STRUCTURE
    from mesh.orchestration.compile import SLO_CHECKS
    from mesh.quality.rules import STRUCTURE

    assert REVIEWED == SLO_CHECKS and REVIEWED_STRUCTURE == STRUCTURE


def test_read_and_sql_mask_pii_in_every_format(published):
    """What `mesh read` and `mesh sql` print goes through the same masking as the ports: a person without
    the PII right sees names hashed and addresses redacted, in each format; one with it sees them."""
    from mesh.contracts.access import REDACTED

    person = {**published, "MESH_PRINCIPAL_PII": "false"}
    day = ["--start", "2023-01-01", "--limit", "3"]
    outputs, _ = run_fresh(
        person,
        ["read", "customer.customers", *day, "--format", "json"],
        ["read", "customer.customers", *day, "--format", "csv"],
        ["read", "customer.customers", *day],
        ["sql", "SELECT name, address FROM customer.customers ORDER BY customer_id LIMIT 3", "--format", "json"])
    rows, text, drawn, queried = outputs
    masked = json.loads(rows)
    assert len(masked) == 3 and all(r["address"] == REDACTED and not r["name"].startswith("Customer#")
                                    for r in masked)
    assert text.count(REDACTED) >= 3 and "Customer#" not in text and "Customer#" not in drawn
    assert [r["address"] for r in json.loads(queried)] == [REDACTED] * 3
    (clear,), _ = run_fresh({**published, "MESH_PRINCIPAL_PII": "true"},
                            ["read", "customer.customers", *day, "--format", "json"])
    assert all(r["name"].startswith("Customer#") and r["address"] != REDACTED for r in json.loads(clear))


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["read", "sales.orders"]])
def test_a_negative_limit_is_refused_not_read_as_no_limit(command):
    """DuckDB reads ``LIMIT -1`` as no limit at all: the option refuses it before anything is read."""
    from click.testing import CliRunner

    import mesh.cli

    result = CliRunner().invoke(mesh.cli.main, [*command, "--limit", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--limit': -1 is not in the range x>=0." in result.output
