"""Defective HR feeds: every defect ends in a quarantine with its reason, and every feed line is accounted for."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from mesh.contracts.registry import load_mesh
from mesh.quality.code import resolve
from mesh.quality.rules import check_structure, evaluate_rules
from operational import Settings
from operational.feeds import KINDS, DefectLog, Defects, count_records, inject
from operational.hr import FEEDS, generate
from tests.conftest import MeshEnv

HR_RULES = {"expiry_before_issue": ("consulting.certifications", "expiry_after_issue"),
            "missing_practice": ("consulting.consultants", "consultant_has_practice")}
SOURCES = {"consultants": "consultants", "skill_assessments": "skills", "trainings": "trainings",
           "certifications": "certifications", "resumes": "resumes", "practice_requirements": "practice_requirements"}
WEEK = [(date(2023, 1, 1) + timedelta(days=i)).isoformat() for i in range(7)]


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    """HR feeds with the issue-5 defects and the generic kinds they come with, none of which adds lines."""
    root = tmp_path_factory.mktemp("hr-defects")
    generate(root, Settings(defects=Defects(0.02, ("out_of_range", "null_key"), seed=11)))
    return root


def test_issue_5_defects_are_quarantined_by_their_rule(defective, tmp_path):
    env = MeshEnv(tmp_path / "products", defective)
    log = [json.loads(line) for line in (defective / "hr" / "_defects.jsonl").read_text().splitlines()]
    generic = {(e["feed"], e["day"], e["line"]) for e in log if e["kind"] not in HR_RULES}
    matched = dict.fromkeys(HR_RULES, 0)
    for kind, (address, rule) in HR_RULES.items():
        report = env.run(address, "2023-01-01", "2023-01-31")
        assert report.rejected == []
        quarantine = env.port().read(f"{address}__quarantine")
        entries = {(row["partition"], row["source_line"]): row for row in quarantine.to_dict("records")}
        for defect in (e for e in log if e["kind"] == kind and e["day"] <= "2023-01-31"):
            entry = entries[defect["day"], defect["line"]]  # quarantined, whatever else is wrong with it
            if (defect["feed"], defect["day"], defect["line"]) not in generic:
                assert entry["rule"] == rule and entry["reason"].startswith(f"failed rule {rule}: "), defect
                matched[kind] += 1
    assert all(count >= 3 for count in matched.values()), matched
    # downstream, certificates whose holder was quarantined are kept and flagged, not lost
    report = env.run("consulting.certification_compliance", "2023-01-01", "2023-01-02")
    assert report.rejected == [] and report.findings["consultant_in_master"].rows_failing > 0


def data_lines(root: Path, feed: str, day: str) -> int:
    return count_records(root / "hr" / feed / f"{day}.csv")


def test_every_generic_defect_is_accounted_for(erp_root, tmp_path):
    root = tmp_path / "feeds"
    for feed in SOURCES.values():
        (root / "hr" / feed).mkdir(parents=True)
        for day in WEEK:
            shutil.copy(erp_root / "hr" / feed / f"{day}.csv", root / "hr" / feed / f"{day}.csv")
        inject(root / "hr" / feed, FEEDS[feed], "csv", Defects(0.03, KINDS, seed=5), DefectLog())
    env = MeshEnv(tmp_path / "products", root)
    mesh = load_mesh()
    rules_seen = set()
    for product, feed in SOURCES.items():
        address = f"consulting.{product}"
        report = env.run(address, WEEK[0], WEEK[-1])
        code = resolve(mesh.product(address), mesh.root)
        manifest = env.port().lake.published(mesh.product(address).address, 1)
        for day in WEEK:
            verdict = report.verdicts[day]
            assert verdict.rows_in == data_lines(root, feed, day), (product, day)
            if not verdict.published:
                assert "error rate" in verdict.reason
                continue
            entry = manifest.partitions[day]
            assert entry.rows_in == entry.rows + entry.rows_quarantined
            published, structure = check_structure(env.port().read(address, partition=day), code.schema)
            assert not structure.failing.any()
            assert not any(o.failing_rows for o in evaluate_rules(published, code.schema, severity="error"))
        if manifest.partitions:
            rules_seen |= set(env.port().read(f"{address}__quarantine")["rule"])
    assert {"malformed_record", "type_mismatch", "late_record", "structure"} <= rules_seen
