"""The benchmark runner at a tiny scale, so that it cannot rot: every case runs and writes its results.

Figures at this scale mean nothing; what is checked is that each case measures, compares with its
baseline, states its targets and that the JSON and Markdown results are written.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import CASES, main

pytestmark = pytest.mark.slow  # over a minute: scheduled with the other long files, first


def test_every_case_runs_and_writes_results(tmp_path):
    out = tmp_path / "results"
    code = main(["--scale-factor", "0.01", "--days", "2", "--repeat", "1", "--out", str(out),
                 "--work", str(tmp_path / "work"),  # not benchmarks/.work, where real runs keep theirs
                 "--only-domains", "customer,sales", "--products", "6,12", "--domains", "2",
                 "--memory-products", "1", "--instance", "memory"])
    assert code == 0
    results = json.loads((out / "sf0.01.json").read_text())
    assert [c["name"] for c in results["cases"]] == list(CASES)
    assert results["machine"]["cores"] >= 1 and results["commit"]
    assert all(c["measured"]["cpu"] for c in results["cases"])  # each case names its host's CPU (merges mix hosts)
    by_name = {c["name"]: c for c in results["cases"]}
    backfill = {f["name"]: f for f in by_name["backfill"]["figures"]}
    assert backfill["mesh backfill"]["ratio_to_baseline"] > 0  # compared with DuckDB in the same run
    # what users run (a SQLite instance, as `mesh materialize`), with the in-memory floor beside it
    assert backfill["mesh backfill, in-memory instance (Dagster's floor)"]["ratio_to_baseline"] > 0
    assert by_name["backfill"]["parameters"]["instance"].startswith("SQLite on disk, as `mesh materialize`")
    assert by_name["backfill"]["parameters"]["domains"] == "customer, sales"
    snapshot = {f["name"]: f for f in by_name["snapshot"]["figures"]}
    assert snapshot["mesh overhead per asset"]["ratio_to_baseline"] > 0
    assert len(by_name["definitions"]["targets"]) == 1  # linear growth; the 1,000-product target needs 1,000
    cli = {f["name"]: f for f in by_name["cli"]["figures"]}
    assert cli["mesh sql"]["ratio_to_baseline"] > 0 and cli["mesh review"]["ratio_to_baseline"] > 0
    assert [t["goal"] for t in by_name["cli"]["targets"]] == [
        "`mesh sql` under 1 s wall", "`mesh read` under 1 s wall", "`mesh catalog` under 1 s wall",
        "`mesh show` under 1 s wall", "`mesh review` under 3 s wall"]
    for case in ("backfill", "snapshot", "validation", "cli"):
        assert by_name[case]["targets"], case
        assert all(isinstance(t["met"], bool) for t in by_name[case]["targets"])
    assert (tmp_path / "work" / "sf0.01" / "makeup").is_dir()  # the case's work folder is the one given
    markdown = (out / "sf0.01.md").read_text()
    assert "## Targets" in markdown and "ratio to baseline" in markdown
    assert markdown.count(f"on {results['machine']['cpu']}_") == len(CASES)


def test_merge_keeps_the_cases_not_measured_again(tmp_path):
    out = tmp_path / "results"
    common = ["--scale-factor", "0.01", "--days", "2", "--repeat", "1", "--out", str(out),
              "--work", str(tmp_path / "work"), "--only-domains", "customer,sales", "--products", "6,12",
              "--domains", "2"]
    assert main([*common, "--cases", "definitions,validation"]) == 0
    first = {c["name"]: c for c in json.loads((out / "sf0.01.json").read_text())["cases"]}
    assert main([*common, "--cases", "validation", "--merge"]) == 0
    merged = json.loads((out / "sf0.01.json").read_text())
    cases = {c["name"]: c for c in merged["cases"]}
    assert list(cases) == ["validation", "definitions"]  # in the runner's order of cases
    assert cases["definitions"] == first["definitions"]  # kept as measured, with its own date and commit
    assert cases["validation"]["measured"]["date"] >= first["validation"]["measured"]["date"]
    assert "then" in merged["command"] and "measured" in (out / "sf0.01.md").read_text()


def test_a_results_file_from_before_cases_named_their_date_commit_or_cpu_still_renders(tmp_path):
    """Older results files have cases without ``measured``, with it null, or without its CPU: merging
    keeps them, so the report renders each with what it has."""
    from benchmarks.report import CaseResult, load_cases, to_json, to_markdown

    header = {"date": "2026-11-25", "commit": "abc", "scale_factor": "1", "repeat": {"a": 1, "b": 1, "c": 1},
              "command": "python -m benchmarks", "seconds": 1.0,
              "machine": {"cores": 2, "memory_gib": 1.0, "cpu": "X", "python": "3.11", "versions": {}}}
    cases = [CaseResult(name, name) for name in ("a", "b", "c")]
    data = json.loads(to_json(header, cases))
    data["cases"][0].pop("measured")
    data["cases"][1]["measured"] = None
    data["cases"][2]["measured"] = {"date": "2026-11-25", "commit": "abc"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    footers = [line for line in to_markdown(header, load_cases(path)).splitlines() if line.startswith("_case ran")]
    assert footers == ["_case ran in 0 s_", "_case ran in 0 s_",
                       "_case ran in 0 s; measured 2026-11-25 at commit `abc`_"]
