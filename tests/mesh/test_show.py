"""`mesh show` in words a person reads: SLOs as the contract writes them, failing checks by name,
"never published" for a product without data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mesh.contracts.registry import load_mesh
from mesh.governance.catalog import render_show, render_slo, show, written_slo
from mesh.governance.review import CheckLine, ProductReview
from tests.conftest import ROOT

MESH = str(Path(sys.executable).parent / "mesh")


def test_slos_read_as_the_contract_writes_them():
    mesh = load_mesh()
    text = render_show(show(mesh, "sales.customer_revenue"))
    slos = next(line for line in text.splitlines() if line.startswith("SLOs:"))
    assert "freshness max_age 30h, warn_age 26h" in slos  # the contract's words, not seconds or timedeltas
    assert f"error_rate max {mesh.product('sales.customer_revenue').contract.slo.error_rate.max}" in slos
    assert not any(word in slos for word in ("108000", "PT30H", "1 day", "timedelta", "{"))


def test_an_error_rate_left_out_is_shown_as_the_default():
    mesh = load_mesh()
    product = mesh.product("sales.customer_revenue")
    text = (mesh.root / product.file).read_text()
    written = re.search(r"\n  error_rate:\n    max: [0-9.]+\n", text)
    assert written, text
    slo = written_slo(product, text.replace(written.group(0), "\n"))
    assert render_slo(slo) == "freshness max_age 30h, warn_age 26h; error_rate max 0.05 (default)"


def test_failing_checks_are_named_with_their_severity_and_rows():
    checks = [CheckLine("structure", True, "ERROR", None, 0, "2026-11-03T06:00:00+00:00"),
              CheckLine("total_price_positive", False, "ERROR", "3 rows have a price of 0 or less", 3,
                        "2026-11-03T06:00:00+00:00"),
              CheckLine("total_price_plausible", False, "WARN", None, 1, "2026-11-03T06:00:00+00:00"),
              CheckLine("volume", None, "-", None, None, None)]
    status = ProductReview("sales.orders", "team:sales", "failing", "2026-11-03T06:00:00+00:00", "2026-11-02", 3,
                           ["error_rate"], checks, freshness="PASS").as_dict()
    text = render_show(show(load_mesh(), "sales.orders", status))
    assert "status: failing (freshness pass)" in text
    assert "last published: 2026-11-03T06:00:00+00:00, partition 2026-11-02" in text
    assert ("failing check: total_price_positive (ERROR, 3 row(s)): 3 rows have a price of 0 or less"
            in text.splitlines())
    assert "failing check: total_price_plausible (WARN, 1 row(s))" in text.splitlines()
    assert "breached SLOs: error_rate" in text and "quarantined rows: 3" in text
    assert "structure" not in text.split("failing check")[-1].split("\n")[0]  # passing checks are not listed


def test_a_product_never_published_says_so(tmp_path):
    """On an empty lake and instance: words, never ``None``."""
    env = {**os.environ, "MESH_PROJECT_DIR": str(ROOT), "MESH_STORAGE_URI": str(tmp_path / "products"),
           "MESH_WORK_DIR": str(tmp_path / "work"), "DAGSTER_HOME": str(tmp_path / "dagster"),
           "MESH_MASKING_KEY": "test-key"}
    done = subprocess.run([MESH, "show", "sales.orders"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    status = done.stdout.split("\nSLOs:")[1].split("\ncontract (")[0]
    assert "last published: never published" in status
    assert "status: never run" in status and "checks: never evaluated" in status
    assert "(never published)" in status  # no lake snapshot either
    assert "None" not in status


def test_review_names_every_check_the_ui_shows_for_every_product():
    """`mesh review` names checks without compiling products; they must be the asset checks Dagster gets."""
    from mesh.governance.review import check_names
    from mesh.orchestration.compile import check_specs
    from mesh.quality.code import resolve

    mesh = load_mesh()
    for product in mesh.products.values():
        expected = [spec.name for spec in check_specs(product, resolve(product, mesh.root))]
        assert check_names(product, mesh) == expected, product.address
