"""JSON-lines feeds read in bulk (orjson, column by column) give exactly what the per-record reading gives.

``reference_read_jsonl`` below is the reader as it was before the bulk path: ``json.loads`` line by
line, numbers kept exact (``Decimal``), NaN and Infinity kept as text. Every test reads the same
files through both and compares everything a run sees: typed frames, quarantine entries (rule,
reason, column, value, file, line, record), rows read per partition and the lineage of each row.
"""

from __future__ import annotations

import json
import string
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mesh.contracts.contract import SourceFeed
from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh
from mesh.storage import sources
from mesh.storage.sources import read_sources

FEED = SourceFeed(
    system="app", feed="events", format="jsonl", event_date="day",
    columns={"id": "bigint", "name": "varchar", "amount": "double", "day": "date", "at": "timestamp",
             "flag": "boolean", "plan": "varchar", "seats": "integer", "detail": "varchar"},
    paths={"plan": "data.plan", "seats": "data.seats", "detail": "data.more.detail"},
)
PATHS = [FEED.paths.get(c, c) for c in FEED.columns]
DAY = "2026-11-01"


def _reference_json_path(record, path):
    value = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict | list):
        return json.dumps(value, default=float)  # fixed since: an object holding a float made it raise
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _unpaired(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def reference_read_jsonl(path: Path, feed: SourceFeed):
    """The per-record reader the bulk one replaced, verbatim."""
    paths = [feed.paths.get(c, c) for c in feed.columns]
    records, lines, rejects = [], [], []
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            if not line.endswith("\n"):
                rejects.append((number, "truncated JSON line: the file does not end with a newline, so its last "
                                        "record may be cut", text))
                continue
            try:
                record = json.loads(text, parse_float=Decimal, parse_constant=str)
            except ValueError as err:
                rejects.append((number, f"malformed JSON line: {err}", text))
                continue
            except ArithmeticError:  # fixed since: an exponent no Decimal holds (1e9999999999999999999) raised
                rejects.append((number, "malformed JSON line: a number has an exponent of more than 18 digits, "
                                        "which no number holds", text))
                continue
            if not isinstance(record, dict):
                found = type(record).__name__
                rejects.append((number, f"malformed JSON line: expected an object, found {found}", text))
                continue
            values = [_reference_json_path(record, p) for p in paths]
            bad = [p for p, v in zip(paths, values, strict=True) if isinstance(v, str) and _unpaired(v)]
            if bad:  # fixed since: an unpaired surrogate escape crashed the run when the frame was built
                rejects.append((number, f"malformed JSON line: {bad[0]} holds an unpaired surrogate escape, which is "
                                        "not Unicode text", text))
                continue
            records.append(values)
            lines.append(number)
    return records, np.asarray(lines, dtype=np.int64), rejects


def window(first: str, last: str | None = None) -> RunWindow:
    return RunWindow.of_keys(load_mesh().domains["sales"], first, last or first)


def write(root: Path, day: str, content: str | bytes) -> Path:
    path = root / FEED.system / FEED.feed / f"{day}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return path


def read_both(root: Path, monkeypatch, first: str = DAY, last: str | None = None, lateness: int = 1,
              feed: SourceFeed = FEED):
    bulk = read_sources(root, {"events": feed}, window(first, last), lateness_days=lateness)
    with monkeypatch.context() as patch:
        patch.setitem(sources._READERS, "jsonl", reference_read_jsonl)
        reference = read_sources(root, {"events": feed}, window(first, last), lateness_days=lateness)
    return bulk, reference


def assert_same(bulk, reference) -> None:
    for name, frame in reference.frames.items():
        pd.testing.assert_frame_equal(bulk.frames[name], frame, check_exact=True)
    assert [_entry(e) for e in bulk.rejects] == [_entry(e) for e in reference.rejects]
    assert bulk.rows_read == reference.rows_read
    assert bulk.lineage.files == reference.lineage.files
    for ours, theirs in zip(bulk.lineage.file_of_row + bulk.lineage.line_of_row,
                            reference.lineage.file_of_row + reference.lineage.line_of_row, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # every record accounted for
    assert sum(bulk.rows_read.values()) == sum(len(f) for f in bulk.frames.values()) + len(bulk.rejects)


def _entry(entry):
    """An entry's fields, the value with its type (1 and Decimal('1') and '1' are told apart)."""
    fields = dict(vars(entry))
    value = fields.pop("value")
    return fields, type(value).__name__, None if value is None or value is pd.NA else str(value)


def good(i: int, **overrides) -> str:
    record = {"id": i, "name": f"n{i}", "amount": 2, "day": DAY, "at": f"{DAY}T10:00:00Z", "flag": True,
              "data": {"plan": "team", "seats": 3, "more": {"detail": "d"}}}
    record.update(overrides)
    return json.dumps(record)


HOSTILE = [
    good(1),
    good(2, amount=1.10, name=1.10),  # a float: exact text in a varchar, Decimal in the record
    good(3, amount="1.5", id="3"),  # numbers as text
    good(4, amount="abc"),  # wrong type
    good(5, at="yesterday"),  # wrong type for a timestamp
    '{"id": 6, "name": "missing almost everything"}',  # missing fields: nulls, and no event date
    good(7, data="not an object"),  # a nested path through a string
    good(8, data={"plan": {"tier": "gold"}, "seats": [1, 2], "more": None}),  # an object and a list as values
    good(9, flag=False, name=True),  # booleans, in a boolean and a varchar column
    '{"id": 10, "amount": NaN, "day": "2026-11-01"}',  # NaN: text for the reference, refused by orjson
    '{"id": 11, "amount": Infinity, "day": "2026-11-01"}',
    '{"id": 12, "amount": 1e400, "day": "2026-11-01"}',
    f'{{"id": {2**64}, "day": "2026-11-01"}}',  # beyond 64 bits: orjson gives a float
    f'{{"id": {-(2**63) - 1}, "day": "2026-11-01"}}',
    '{"id": 15, "name": "\\ud83d\\ude00 an escaped pair", "day": "2026-11-01"}',
    '{"id": 16, "id": 17, "day": "2026-11-01"}',  # a duplicate key: the last one wins
    '{"id": 18, "day": "2026-11-01"',  # malformed
    "[1, 2]",
    '"just a string"',
    "42",
    "null",
    "",
    "   \t ",
    '\x0c{"id": 19, "day": "2026-11-01"}\x0b',  # whitespace str.strip removes and JSON does not allow
    '{"id": 20, "name": "line\u2028separator", "day": "2026-11-01"}',
    '{"id": 21, "name": "tab\tinside", "day": "2026-11-01"}',  # a raw control character: malformed
    good(22, day="2026-10-01"),  # too late
    good(23, day="2026-11-09"),  # from the future
    good(24, day="2026-10-31"),  # a day late: within the lateness, in the previous partition
    good(25, amount=-0.0, seats=2**31),  # negative zero; outside the integer range
    good(26, amount=12345678901234567890.123456789),
    good(27, name="ünïcödé ✓ " + "x" * 3000),
    '{"id": 28, "amount": 1E+2, "name": 1e-7, "day": "2026-11-01"}',
    '{"id": 29, "day": "2026-11-01"}   ',
    '{"id": 30, "day": "2026-11-01"} trailing',
]


def test_hostile_lines_give_what_the_per_record_reader_gives(tmp_path, monkeypatch):
    write(tmp_path, DAY, "\ufeff" + "\n".join(HOSTILE[:12]) + "\r\n" + "\r".join(HOSTILE[12:20]) + "\n"
          + "\n".join(HOSTILE[20:]) + "\n" + good(99))  # BOM, CRLF, lone CR, a truncated last line
    write(tmp_path, "2026-10-31", "")
    bulk, reference = read_both(tmp_path, monkeypatch, "2026-10-31", DAY)
    assert_same(bulk, reference)
    rules = {e.rule for e in bulk.rejects}
    assert {"malformed_record", "type_mismatch", "late_record", "future_record", "missing_event_date"} <= rules
    [truncated] = [e for e in bulk.rejects if e.reason.startswith("truncated JSON line")]
    assert truncated.source_line == len(HOSTILE) + 1 and truncated.record == good(99)
    assert len(bulk.frames["events"]) > 10


def test_a_number_where_a_moment_belongs_is_a_wrong_type_not_an_epoch(tmp_path, monkeypatch):
    """A JSON number in a timestamp column is quarantined as a type mismatch, as a text that is no moment
    is: not read as seconds since 1970 (what pandas 4 will make of a number given to ``to_datetime``)."""
    write(tmp_path, DAY, "\n".join([good(1), good(2, at=1764583200), good(3, at=1764583200.5), good(4, at="x")]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # pandas' Pandas4Warning among them
        bulk, reference = read_both(tmp_path, monkeypatch, lateness=0)
    assert_same(bulk, reference)
    assert sorted(bulk.frames["events"]["id"].tolist()) == [1]
    assert sorted((e.rule, e.column) for e in bulk.rejects) == [("type_mismatch", "at")] * 3


def test_a_file_of_good_lines_needs_no_per_record_parsing(tmp_path, monkeypatch):
    """The bulk path is taken: only the lines orjson cannot decide go through the reference parser."""
    lines = [good(i) for i in range(200)]
    lines[50] = '{"id": 50, "day": '
    lines[120] = good(120, amount=2.5)
    write(tmp_path, DAY, "\n".join(lines) + "\n")
    called = []
    original = sources._json_record
    monkeypatch.setattr(sources, "_json_record", lambda text, paths: called.append(text) or original(text, paths))
    batch = read_sources(tmp_path, {"events": FEED}, window(DAY), lateness_days=0)
    assert sorted(called) == sorted([lines[50].strip(), lines[120]])
    assert len(batch.frames["events"]) == 199 and [e.source_line for e in batch.rejects] == [51]
    assert batch.frames["events"]["amount"].iloc[119] == 2.5


def test_several_files_and_late_files_as_the_reference(tmp_path, monkeypatch):
    write(tmp_path, "2026-11-01", "\n".join([good(1), "{oops", good(2, day="2026-10-30")]) + "\n")
    write(tmp_path, "2026-11-02", "\n".join([good(3, day="2026-11-02"), good(4, day="2026-11-01"), "[]"]) + "\n")
    write(tmp_path, "2026-11-03", "\n".join([good(5, day="2026-11-01"), good(6, day="2026-11-03")]) + "\n")
    bulk, reference = read_both(tmp_path, monkeypatch, "2026-11-01", "2026-11-01", lateness=2)
    assert_same(bulk, reference)
    assert sorted(bulk.frames["events"]["id"].tolist()) == [1, 4, 5]


def test_an_empty_file_and_a_file_of_blank_lines(tmp_path, monkeypatch):
    write(tmp_path, "2026-11-01", "")
    write(tmp_path, "2026-11-02", "\n \n\t\n")
    bulk, reference = read_both(tmp_path, monkeypatch, "2026-11-01", "2026-11-02", lateness=0)
    assert_same(bulk, reference)
    assert len(bulk.frames["events"]) == 0 and not bulk.rejects


# Lines made of pieces of valid records, cut and spliced at random, with values of every JSON type
# at the paths the feed reads: whatever the line, both readers must agree.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                     st.sampled_from(["2026-11-01", "2026-10-31", "2026-11-05", f"{DAY}T01:02:03Z", "12", "1.0",
                                      "NaN", "", " 7 "]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(["plan", "seats", "more",
                                                                                          "detail", "x"]),
                                                                         inner, max_size=3)), max_leaves=6)
_record = st.dictionaries(st.sampled_from(["id", "name", "amount", "day", "at", "flag", "data", "other"]),
                          _values, max_size=8)


@st.composite
def _line(draw) -> str:
    record = draw(_record)
    if draw(st.booleans()):
        record["day"] = DAY
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    edit = draw(st.sampled_from(["none", "none", "cut", "insert", "constant"]))
    if edit == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif edit == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(string.printable + "\u2028\x85\ufeff", max_size=3)) + text[at:]
    elif edit == "constant":
        text = text.replace("0", draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "0.10"])), 1)
    return text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line(), min_size=1, max_size=12), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       last=st.booleans())
# a number whose exponent no Decimal holds: both readers raised and stopped the read (found by this test)
@example(lines=['{"id": [-1181e999591620717411303424, null, null]}', '{}'], newline="\n", last=False)
def test_any_lines_give_what_the_per_record_reader_gives(tmp_path_factory, monkeypatch, lines, newline, last):
    root = tmp_path_factory.mktemp("feed")
    write(root, DAY, newline.join(lines) + (newline if last else ""))
    bulk, reference = read_both(root, monkeypatch, lateness=0)
    assert_same(bulk, reference)


def test_a_number_whose_exponent_no_number_holds_is_quarantined_and_the_rest_read(tmp_path, monkeypatch):
    """Valid JSON (RFC 8259 bounds no exponent) that both readers raised on, stopping the whole read."""
    huge = '{"id": 9, "day": "2026-11-01", "amount": -1181e999591620717411303424}'
    write(tmp_path, DAY, "\n".join([good(1), huge, good(2)]) + "\n")
    bulk, reference = read_both(tmp_path, monkeypatch, lateness=0)
    assert_same(bulk, reference)
    [held] = bulk.rejects
    assert (held.rule, held.source_line, held.record) == ("malformed_record", 2, huge)
    assert held.reason == "malformed JSON line: a number has an exponent of more than 18 digits, which no number holds"
    assert list(bulk.frames["events"]["id"]) == [1, 2]


def test_an_unpaired_surrogate_is_quarantined_and_an_object_holding_a_float_is_published(tmp_path, monkeypatch):
    """Two lines that stopped the whole read before: JSON's escape ``\\ud800`` alone (no text holds it, so
    building the frame raised) and an object value holding a float (``json.dumps`` of a Decimal raised)."""
    lonely = '{"id": 7, "day": "2026-11-01", "name": "bad \\ud800 name"}'
    nested = '{"id": 8, "day": "2026-11-01", "data": {"more": {"detail": {"score": 1.5, "tags": [0.25]}}}}'
    write(tmp_path, DAY, "\n".join([good(1), lonely, nested, good(2)]) + "\n")
    bulk, reference = read_both(tmp_path, monkeypatch, lateness=0)
    assert_same(bulk, reference)
    [held] = bulk.rejects
    assert (held.rule, held.source_line, held.record) == ("malformed_record", 2, lonely)
    assert held.reason == "malformed JSON line: name holds an unpaired surrogate escape, which is not Unicode text"
    frame = bulk.frames["events"]
    assert sum(bulk.rows_read.values()) == len(frame) + len(bulk.rejects) == 4
    assert json.loads(frame.loc[frame["id"] == 8, "detail"].item()) == {"score": 1.5, "tags": [0.25]}
