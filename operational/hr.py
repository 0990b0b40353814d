"""The simulated HR and learning systems of a consulting firm: one feed file per day.

Feeds under ``<root>/hr/<feed>/<day>.<format>``, one file for every day from the epoch to the ERP's
horizon (header only on a day without records):

- ``consultants``: HR master changes: hires, promotions and leavers (employee, name, practice, grade);
- ``skills``: skill assessments (skill, level 1-5, day assessed);
- ``trainings``: course completions from the learning system (course, skill, hours, day completed);
- ``certifications``: certificates earned or renewed (name, vendor, issue and expiry day);
- ``resumes``: short resume texts, rewritten every year or so;
- ``practice_requirements``: each practice's staffing demand, revised every quarter (skill, level
  required, headcount needed).

Every record carries ``recorded_on``, the day the system recorded it, which is its file's day
(``effective_on`` for requirements). The firm is older than the epoch: on the epoch day its systems
are migrated, so that feed holds the staff of that day, their latest assessments, last year's
trainings, their recent certificates and resumes, with their original business dates.

Deterministic from the settings: each consultant's career comes from a random generator seeded by
the seed and the employee id. Defects: the generic kinds of ``operational.feeds`` on every feed,
plus the HR system's own two (issue 5), which are the HR flavours of two generic kinds and are
injected with them, at the same rate, before the generic ones: ``expiry_before_issue`` (with
``out_of_range``: a certificate that expires before it is issued) and ``missing_practice`` (with
``null_key``: a consultant record without a practice). ``hr/_defects.jsonl`` logs them all; the
line of an HR defect is its line in the file before generic defects were added.
"""

from __future__ import annotations

import csv
import heapq
import json
import random
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from operational import Settings
from operational.erp import ErpSettings, history_days
from operational.feeds import DefectLog, FeedSpec, day_range, inject, injected_kinds, write_partitioned

FORMAT_VERSION = 2  # bump when the feed layout changes, so caches regenerate
CONSULTANTS_AT_SF_001 = 240  # headcount on the epoch day at scale factor 0.01
SCALE_BOUNDS = (0.1, 50.0)  # the headcount scales with the scale factor, within these multiples
HIRES_PER_YEAR_SHARE = 0.18  # new hires a year, as a share of the epoch's headcount
MEAN_TENURE_DAYS = 8 * 365
MIGRATED_TRAINING_DAYS = 365  # trainings the migration carries over
MIGRATED_EXPIRED_CERTIFICATE_DAYS = 180  # certificates expired this recently are migrated too

FEEDS = {
    "consultants": FeedSpec("consultants", ("employee_id",), "recorded_on", (), ("employee_id", "hired_on")),
    "skills": FeedSpec("skills", ("employee_id", "skill", "assessed_on"), "recorded_on", ("level",),
                       ("level", "assessed_on")),
    "trainings": FeedSpec("trainings", ("employee_id", "course", "completed_on"), "recorded_on", ("hours",),
                          ("hours", "completed_on")),
    "certifications": FeedSpec("certifications", ("cert_id",), "recorded_on", (),
                               ("cert_id", "issued_on", "expires_on")),
    "resumes": FeedSpec("resumes", ("employee_id",), "recorded_on", (), ("employee_id",)),
    "practice_requirements": FeedSpec("practice_requirements", ("practice", "skill"), "effective_on",
                                      ("required_level", "headcount_needed"), ("required_level", "headcount_needed")),
}
COLUMNS = {
    "consultants": ["employee_id", "full_name", "practice", "grade", "hired_on", "left_on", "change_type",
                    "recorded_on"],
    "skills": ["employee_id", "skill", "level", "assessed_on", "recorded_on"],
    "trainings": ["employee_id", "course", "skill", "hours", "completed_on", "recorded_on"],
    "certifications": ["cert_id", "employee_id", "certification", "vendor", "issued_on", "expires_on", "recorded_on"],
    "resumes": ["employee_id", "resume", "recorded_on"],
    "practice_requirements": ["practice", "skill", "required_level", "headcount_needed", "effective_on"],
}
HR_DEFECTS = {"expiry_before_issue": "out_of_range", "missing_practice": "null_key"}  # HR kind -> generic kind

# practice -> (share of the staff, core skills)
PRACTICES = {
    "Data": (0.30, ["Python", "SQL", "Spark", "Data Modeling", "Machine Learning", "dbt"]),
    "Cloud": (0.25, ["AWS", "Azure", "GCP", "Kubernetes", "Terraform"]),
    "Security": (0.15, ["Network Security", "Identity Management", "Threat Modeling", "Incident Response"]),
    "Strategy": (0.15, ["Business Analysis", "Change Management", "Financial Modeling", "Project Management"]),
    "Engineering": (0.15, ["Python", "Agile Delivery", "Kubernetes", "AWS"]),
}
SKILLS = sorted({skill for _, core in PRACTICES.values() for skill in core})
GRADES = ["Analyst", "Consultant", "Senior Consultant", "Manager", "Principal"]
# certification -> (vendor, skill it attests, validity in years)
CERTIFICATIONS = {
    "AWS Solutions Architect Associate": ("Amazon Web Services", "AWS", 3),
    "Azure Solutions Architect Expert": ("Microsoft", "Azure", 1),
    "Google Professional Cloud Architect": ("Google Cloud", "GCP", 2),
    "Certified Kubernetes Administrator": ("Linux Foundation", "Kubernetes", 2),
    "Terraform Associate": ("HashiCorp", "Terraform", 2),
    "Databricks Data Engineer Professional": ("Databricks", "Spark", 2),
    "dbt Analytics Engineering": ("dbt Labs", "dbt", 2),
    "Machine Learning Specialty": ("Amazon Web Services", "Machine Learning", 3),
    "CISSP": ("ISC2", "Network Security", 3),
    "Certified Identity and Access Manager": ("Identity Management Institute", "Identity Management", 2),
    "GIAC Certified Incident Handler": ("GIAC", "Incident Response", 4),
    "PMP": ("PMI", "Project Management", 3),
    "Certified ScrumMaster": ("Scrum Alliance", "Agile Delivery", 2),
}
COURSES = [("Foundations of {}", 8.0), ("{} in Practice", 16.0), ("Advanced {}", 24.0)]
# how resumes name a skill: several surface forms, so that extracting key skills is not trivial
RESUME_PHRASES = {
    "Python": ["Python", "Python 3", "pandas"], "SQL": ["SQL", "PostgreSQL", "T-SQL"],
    "Spark": ["Apache Spark", "Spark", "Databricks"], "Data Modeling": ["data modeling", "dimensional modelling"],
    "Machine Learning": ["machine learning", "ML models", "scikit-learn"], "dbt": ["dbt", "data build tool"],
    "AWS": ["AWS", "Amazon Web Services"], "Azure": ["Azure", "Microsoft Azure"], "GCP": ["GCP", "Google Cloud"],
    "Kubernetes": ["Kubernetes", "k8s"], "Terraform": ["Terraform", "HashiCorp Terraform"],
    "Network Security": ["network security", "firewalls", "zero trust networking"],
    "Identity Management": ["identity and access management", "Okta"],
    "Threat Modeling": ["threat modeling", "STRIDE"], "Incident Response": ["incident response", "digital forensics"],
    "Business Analysis": ["business analysis", "requirements engineering"],
    "Change Management": ["change management", "organisational change"],
    "Financial Modeling": ["financial modeling", "business cases"],
    "Project Management": ["project management", "PRINCE2"], "Agile Delivery": ["Agile", "Scrum"],
}
RESUME_OPENERS = ["Works with {}.", "Delivered client projects using {}.", "Strong background in {}."]
FIRST_NAMES = ["Ada", "Amara", "Ben", "Chen", "Chloé", "Dara", "Elif", "Emma", "Farid", "Grace", "Hana", "Ines",
               "Jonas", "Kofi", "Lena", "Łukasz", "Maya", "Mateo", "Nia", "Noah", "Olu", "Priya", "Quinn", "Rafael",
               "Sara", "Søren", "Tariq", "Uma", "Victor", "Wen", "Yusuf", "Zoë"]
LAST_NAMES = ["Abebe", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hughes", "Ito", "Jansen",
              "Kowalski", "Lindqvist", "Martin", "Nakamura", "Okafor", "Patel", "Quispe", "Rossi", "Schmidt",
              "Tanaka", "Usman", "Virtanen", "Weber", "Xu", "Yilmaz", "Zhang"]


class HrSettings(ErpSettings):
    """The common settings, with the HR systems' headcount; the calendar is the ERP's."""

    @property
    def initial_headcount(self) -> int:
        low, high = SCALE_BOUNDS
        return round(CONSULTANTS_AT_SF_001 * min(high, max(low, self.scale_factor / 0.01)))

    def describe(self) -> dict:
        return {**super().describe(), "version": FORMAT_VERSION, "horizon": self.last_day.isoformat()}


@dataclass
class Records:
    """What the HR systems recorded, as rows per feed."""

    rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in FEEDS})

    def add(self, feed: str, **row: object) -> None:
        self.rows[feed].append(row)

    def extend(self, other: Records) -> None:
        for name, rows in other.rows.items():
            self.rows[name] += rows


def day_files(settings: Settings) -> int:
    """How many files ``generate`` writes: one per feed and day."""
    return len(FEEDS) * len(history_days(settings))


def generate(root: Path, settings: Settings, force: bool = False, on_file: Callable[[], None] | None = None) -> Path:
    """Write every daily feed of the HR systems for the whole history; a no-op when up to date.
    ``on_file`` is called as each day's file of a feed is complete."""
    settings = HrSettings(**{f: getattr(settings, f) for f in Settings.__dataclass_fields__})
    base = root / "hr"
    marker = base / "_feeds.json"
    if not force and marker.exists() and json.loads(marker.read_text()) == settings.describe():
        return base
    base.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    records, staff = simulate(settings)
    add_requirements(records, staff, settings)
    rows = {name: _sorted(name, feed_rows) for name, feed_rows in records.rows.items()}
    log = DefectLog()
    _inject_hr_defects(rows, settings, log)
    days = day_range(settings.epoch, settings.last_day)
    corrupted = bool(injected_kinds(settings.format, settings.defects))  # a file is complete once corrupted
    for name, feed_rows in rows.items():
        write_feed(name, feed_rows, base / name, settings.format, days, on_file=None if corrupted else on_file)
        inject(base / name, FEEDS[name], settings.format, settings.defects, log, on_file=on_file)
    log.write(base / "_defects.jsonl")
    marker.write_text(json.dumps(settings.describe(), indent=1))
    return base


# -- the firm ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Employment:
    employee_id: int
    practice: str
    hired_on: date
    left_on: date | None


def simulate(settings: HrSettings) -> tuple[Records, list[Employment]]:
    """Every consultant's career, hired before the epoch (the staff migrated) or after it."""
    epoch, horizon = settings.epoch, settings.last_day
    rng = random.Random(f"{settings.seed}:hr:hires")
    staff_hires = sorted(epoch - timedelta(days=30 + int(rng.expovariate(1 / 1500)) % (12 * 365))
                         for _ in range(settings.initial_headcount))
    years = (horizon - epoch).days / 365
    new_hires = sorted(epoch + timedelta(days=rng.randint(1, (horizon - epoch).days))
                       for _ in range(round(settings.initial_headcount * HIRES_PER_YEAR_SHARE * years)))
    records, staff = Records(), []
    for employee_id, hired_on in enumerate(staff_hires + new_hires, start=1001):
        career = Career(employee_id, hired_on, epoch, horizon,
                        random.Random(f"{settings.seed}:hr:consultant:{employee_id}"))
        records.extend(career.run())
        staff.append(Employment(employee_id, career.practice, hired_on, career.left_on))
    return records, staff


class Career:
    """One consultant from hire to leaving: assessments, trainings, certificates, promotions, resumes.

    Events sit in a queue by day; each handler records what happened and may schedule its next one.
    """

    def __init__(self, employee_id: int, hired_on: date, epoch: date, horizon: date, rng: random.Random):
        self.id, self.hired_on, self.epoch, self.horizon, self.rng = employee_id, hired_on, epoch, horizon, rng
        self.practice = rng.choices(list(PRACTICES), weights=[share for share, _ in PRACTICES.values()])[0]
        self.name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        experience_years = rng.uniform(0, 9)
        self.grade = min(len(GRADES) - 1, int(experience_years // 2.5))
        core = PRACTICES[self.practice][1]
        chosen = rng.sample(core, k=rng.randint(2, min(4, len(core))))
        chosen += rng.sample([s for s in SKILLS if s not in chosen], k=rng.randint(0, 2))
        self.levels = {s: min(4, max(1, round(1 + experience_years / 3 + rng.uniform(-1, 1)) - (s not in core)))
                       for s in chosen}
        self.trained: set[str] = set()  # skills trained since their last assessment
        self.certificates: dict[str, tuple[date, date]] = {}  # certification -> (issued, expires), latest
        self.certificate_count = 0
        left = max(hired_on, epoch) + timedelta(days=30 + int(rng.expovariate(1 / MEAN_TENURE_DAYS)))
        self.left_on = left if left <= horizon else None
        self.records = Records()
        self.queue: list[tuple[date, str]] = []

    def run(self) -> Records:
        """The career's records as the HR systems hold them (see ``migrate``)."""
        days = self.rng.randint
        self._record_change(self.hired_on, "hire")
        for offset, event in ((0, "resume"), (days(20, 120), "assess"), (days(20, 90), "train"),
                              (days(60, 400), "certify"), (days(900, 1300), "promote")):
            self._schedule(self.hired_on + timedelta(days=offset), event)
        end = self.left_on or self.horizon + timedelta(days=1)
        while self.queue:
            day, event = heapq.heappop(self.queue)
            if day < end:
                getattr(self, "_" + event.split(":")[0])(day, event)
        if self.left_on is not None:
            self._record_change(self.left_on, "leave")
        return migrate(self.records, self.epoch, self.horizon)

    def _schedule(self, day: date, event: str) -> None:
        heapq.heappush(self.queue, (day, event))

    # -- events -----------------------------------------------------------------------------------
    def _assess(self, day: date, event: str) -> None:
        for skill in sorted(self.trained):  # training pays off at the next assessment, less often at high levels
            if skill not in self.levels:
                self.levels[skill] = 1
            elif self.levels[skill] < 5 and self.rng.random() < 0.5 / self.levels[skill]:
                self.levels[skill] += 1
        self.trained.clear()
        for skill, level in sorted(self.levels.items()):
            self.records.add("skills", employee_id=self.id, skill=skill, level=level, assessed_on=day,
                             recorded_on=day)
        self._schedule(day + timedelta(days=self.rng.randint(150, 210)), event)

    def _train(self, day: date, event: str) -> None:
        missing_core = [s for s in PRACTICES[self.practice][1] if s not in self.levels]
        growing = [s for s, level in sorted(self.levels.items()) if level < 5] or sorted(self.levels)
        pool = missing_core if missing_core and self.rng.random() < 0.3 else growing  # learn a core skill, or grow
        skill = self.rng.choice(pool)
        course, hours = self.rng.choice(COURSES)
        self.trained.add(skill)
        self.records.add("trainings", employee_id=self.id, course=course.format(skill), skill=skill, hours=hours,
                         completed_on=day, recorded_on=day + timedelta(days=self.rng.choice([0, 0, 0, 1, 2])))
        self._schedule(day + timedelta(days=self.rng.randint(30, 90)), event)

    def _certify(self, day: date, event: str) -> None:
        eligible = [c for c, (_, skill, _) in CERTIFICATIONS.items()
                    if self.levels.get(skill, 0) >= 3 and c not in self.certificates]
        if eligible and self.rng.random() < 0.5:
            self._issue(self.rng.choice(eligible), day)
        self._schedule(day + timedelta(days=self.rng.randint(200, 500)), event)

    def _renew(self, day: date, event: str) -> None:
        """Due for renewal: most renew on time, some let it lapse and renew late, the rest never do."""
        certification = event.split(":", 1)[1]
        expires = self.certificates[certification][1]
        if day > expires or self.rng.random() < 0.75:
            self._issue(certification, day)
        elif self.rng.random() < 0.5:
            self._schedule(expires + timedelta(days=self.rng.randint(20, 200)), event)

    def _promote(self, day: date, event: str) -> None:
        if self.grade < len(GRADES) - 1:
            self.grade += 1
            self._record_change(day, "promotion")
            self._schedule(day + timedelta(days=self.rng.randint(900, 1300)), event)

    def _resume(self, day: date, event: str) -> None:
        self.records.add("resumes", employee_id=self.id, resume=self._resume_text(day), recorded_on=day)
        self._schedule(day + timedelta(days=self.rng.randint(300, 500)), event)

    # -- helpers ------------------------------------------------------------------------------------
    def _issue(self, certification: str, day: date) -> None:
        vendor, _, years = CERTIFICATIONS[certification]
        expires = day + timedelta(days=365 * years + years // 4)
        self.certificate_count += 1
        self.certificates[certification] = (day, expires)
        self.records.add("certifications", cert_id=self.id * 1000 + self.certificate_count, employee_id=self.id,
                         certification=certification, vendor=vendor, issued_on=day, expires_on=expires,
                         recorded_on=day)
        self._schedule(expires - timedelta(days=self.rng.randint(0, 45)), f"renew:{certification}")

    def _record_change(self, day: date, change: str) -> None:
        self.records.add("consultants", employee_id=self.id, full_name=self.name, practice=self.practice,
                         grade=GRADES[self.grade], hired_on=self.hired_on,
                         left_on=day if change == "leave" else None, change_type=change, recorded_on=day)

    def _resume_text(self, day: date) -> str:
        rng = self.rng
        strongest = sorted(self.levels, key=lambda s: (-self.levels[s], s))[: rng.randint(2, 4)]
        phrases = [rng.choice(RESUME_PHRASES[s]) for s in strongest]
        years = (day - self.hired_on).days // 365
        text = (f"{self.name}: {GRADES[self.grade]}, {self.practice} practice, {years} years with the firm. "
                + rng.choice(RESUME_OPENERS).format(", ".join(phrases[:-1]) + " and " + phrases[-1]))
        unassessed = [s for s in SKILLS if s not in self.levels]
        if unassessed and rng.random() < 0.35:
            text += f" Also familiar with {rng.choice(RESUME_PHRASES[rng.choice(unassessed)])}."
        held = sorted(c for c, (_, expires) in self.certificates.items() if expires >= day)
        return text + (f" Certifications: {', '.join(held)}." if held else "")


def migrate(records: Records, epoch: date, horizon: date) -> Records:
    """What the HR systems hold from the epoch on: the history before it arrives in one migration.

    Recorded on the epoch day: the consultant's record as of that day, the latest assessment of each
    skill, the past year's trainings, the latest certificate of each kind unless long expired, and
    the latest resume. Everything after the horizon is not yet recorded.
    """
    out = Records()
    for name, rows in records.rows.items():
        kept = [r for r in rows if epoch <= r[FEEDS[name].date_column] <= horizon]
        earlier = [r for r in rows if r[FEEDS[name].date_column] < epoch]
        superseded = any(r[FEEDS[name].date_column] == epoch for r in kept)  # a newer record of the same day
        if name == "consultants" and earlier and not superseded:
            kept.insert(0, {**earlier[-1], "change_type": "migration"})
        elif name == "resumes" and earlier and not superseded:
            kept.insert(0, earlier[-1])
        elif name == "trainings":
            kept[:0] = [r for r in earlier if r["completed_on"] >= epoch - timedelta(days=MIGRATED_TRAINING_DAYS)]
        elif name in ("skills", "certifications"):
            group = "skill" if name == "skills" else "certification"
            latest = {r[group]: r for r in earlier}  # rows are in day order: the last one wins
            recent = epoch - timedelta(days=MIGRATED_EXPIRED_CERTIFICATE_DAYS)
            kept[:0] = [r for r in latest.values() if name == "skills" or r["expires_on"] >= recent]
        out.rows[name] = [{**r, "recorded_on": epoch} if r["recorded_on"] < epoch else r for r in kept]
    return out


def add_requirements(records: Records, staff: list[Employment], settings: HrSettings) -> None:
    """Each practice's demand per core skill, set on the epoch and revised at the start of every quarter."""
    rng = random.Random(f"{settings.seed}:hr:requirements")
    for day in quarter_starts(settings.epoch, settings.last_day):
        for practice, (_, core) in PRACTICES.items():
            headcount = sum(1 for e in staff if e.practice == practice and e.hired_on <= day
                            and (e.left_on is None or e.left_on > day))
            for rank, skill in enumerate(core):
                records.add("practice_requirements", practice=practice, skill=skill,
                            required_level=(4 if rank < 2 else 3) - (rng.random() < 0.2),
                            headcount_needed=max(1, round(headcount * rng.uniform(0.1, 0.4))), effective_on=day)


def quarter_starts(first: date, last: date) -> list[date]:
    """``first``, then the first day of every later quarter up to ``last``."""
    days = [first]
    year, month = first.year, (first.month - 1) // 3 * 3 + 1
    while True:
        year, month = (year + 1, month - 9) if month > 9 else (year, month + 3)
        if date(year, month, 1) > last:
            return days
        days.append(date(year, month, 1))


# -- writing ------------------------------------------------------------------------------------------
ORDER = {"consultants": ("employee_id",), "skills": ("employee_id", "skill"), "trainings": ("employee_id", "course"),
         "certifications": ("cert_id",), "resumes": ("employee_id",), "practice_requirements": ("practice", "skill")}


def _sorted(name: str, rows: list[dict]) -> list[dict]:
    """The order rows have in their day's file (the write query sorts the same way)."""
    keys = (FEEDS[name].date_column, *ORDER[name])
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


def _inject_hr_defects(rows: dict[str, list[dict]], settings: Settings, log: DefectLog) -> None:
    """The HR systems' own defects (issue 5), at the generic defect rate, logged with file day and line."""
    defects = settings.defects
    if defects.rate <= 0:
        return
    first_line = 2 if settings.format == "csv" else 1
    for kind, feed in (("expiry_before_issue", "certifications"), ("missing_practice", "consultants")):
        if HR_DEFECTS[kind] not in defects.kinds:
            continue
        rng = random.Random(f"{defects.seed}:hr:{kind}")
        position: dict[date, int] = defaultdict(int)
        for row in rows[feed]:
            day = row[FEEDS[feed].date_column]
            line = first_line + position[day]
            position[day] += 1
            if rng.random() >= defects.rate:
                continue
            if kind == "expiry_before_issue":
                row["expires_on"] = row["issued_on"] - timedelta(days=rng.randint(1, 365))
                detail = f"cert_id {row['cert_id']}: expires_on {row['expires_on']} before issued_on {row['issued_on']}"
            else:
                row["practice"] = None
                detail = f"employee_id {row['employee_id']}: practice emptied"
            log.add(feed, day.isoformat(), kind, line, detail)


def write_feed(name: str, rows: list[dict], folder: Path, fmt: str, days: list[date],
               on_file: Callable[[], None] | None = None) -> None:
    """One file per day, rows in the order given; CSV and JSON lines directly (much faster than
    DuckDB's partitioned COPY for thousands of small files), Parquet through ``write_partitioned``."""
    if fmt == "parquet":
        con = duckdb.connect()
        con.register("feed", pa.Table.from_pylist(rows, schema=_schema(name)))
        date_column = FEEDS[name].date_column
        order = ", ".join(("_day", *ORDER[name]))
        write_partitioned(con, f"SELECT *, {date_column} AS _day FROM feed ORDER BY {order}", folder, fmt, days,
                          on_file=on_file)
        return
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row[FEEDS[name].date_column]].append(row)
    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    columns = COLUMNS[name]
    for day in days:
        with open(staging / f"{day.isoformat()}.{fmt}", "w", encoding="utf-8", newline="") as handle:
            if fmt == "csv":
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([_text(row[c]) for c in columns] for row in by_day.get(day, []))
            else:
                handle.writelines(json.dumps({c: _json(row[c]) for c in columns}, ensure_ascii=False) + "\n"
                                  for row in by_day.get(day, []))
        if on_file is not None:
            on_file()
    shutil.rmtree(folder, ignore_errors=True)
    staging.replace(folder)


def _text(value: object) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)


def _json(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _schema(name: str) -> pa.Schema:
    def kind(column: str) -> pa.DataType:
        if column.endswith("_on"):
            return pa.date32()
        if column == "hours":
            return pa.float64()
        if column.endswith("_id") or column in ("level", "required_level", "headcount_needed"):
            return pa.int64()
        return pa.string()

    return pa.schema([(c, kind(c)) for c in COLUMNS[name]])
