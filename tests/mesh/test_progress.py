"""Progress of long work: plain periodic lines off a terminal, one rewritten line on it, per operational
system while feeds are generated, and per product from a Dagster run's events."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from mesh.orchestration.progress import Progress, progress_loggers, progress_run_config
from operational import Settings, generate_all, hr
from operational.feeds import Defects


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain(clock: FakeClock, interval: float = 10) -> tuple[Progress, io.StringIO]:
    stream = io.StringIO()
    return Progress("generate", unit="files", stream=stream, tty=False, clock=clock, interval=interval), stream


def test_plain_output_prints_a_line_per_interval_with_done_total_elapsed_and_estimate():
    clock = FakeClock()
    progress, stream = plain(clock)
    progress.add("erp", 100)
    progress.add("hr", 300)
    progress.start("erp")
    for _ in range(9):  # 9 s: no line yet, however much is done
        clock.now += 1
        progress.advance("erp", 5)
    assert stream.getvalue() == ""
    clock.now += 1
    progress.advance("erp", 5)  # 10 s, 50 of 400 done: 70 s left at this pace
    assert stream.getvalue() == "generate: erp 50/100 files | all 50/400 | 0:10 elapsed | ~1:10 left\n"
    clock.now += 5
    progress.advance("erp", 50)
    progress.finish("erp")  # a task's end is always reported
    clock.now += 3
    progress.tick()  # 3 s after the last line: nothing
    assert stream.getvalue().splitlines()[1:] == [
        "generate: erp done in 0:15 | all 100/400 | 0:15 elapsed | ~0:45 left"]


def test_plain_output_keeps_reporting_while_a_long_step_reports_nothing():
    clock = FakeClock()
    progress, stream = plain(clock, interval=12)
    progress.add("sales.orders", 1429)
    progress.start("sales.orders")
    for _ in range(30):
        clock.now += 1
        progress.tick()
    assert stream.getvalue().splitlines() == [
        "generate: sales.orders 0/1429 files | all 0/1429 | 0:12 elapsed",
        "generate: sales.orders 0/1429 files | all 0/1429 | 0:24 elapsed",
    ]


def test_terminal_output_rewrites_one_line_and_ends_it_on_close():
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress("generate", unit="files", stream=stream, tty=True, clock=clock, refresh=0.5)
    progress.add("hr", 10)
    progress.start("hr")
    for _ in range(10):
        clock.now += 1
        progress.advance("hr")
    progress.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n"), "one line on screen, ended once"
    drawn = text.rstrip("\n").split("\r")[1:]
    assert len(drawn) == 11  # the start, then each advance (a second apart, over the refresh period)
    assert drawn[-1].rstrip() == "generate: hr 10/10 files | all 10/10 | 0:10 elapsed"
    assert drawn[5] == "generate: hr 5/10 files | all 5/10 | 0:05 elapsed | ~0:05 left"


def test_terminal_output_redraws_at_most_once_per_refresh_and_blanks_a_longer_line():
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress("g", stream=stream, tty=True, clock=clock, refresh=1)
    progress.add("a_long_system_name", 1000)
    progress.add("b", 1)
    progress.start("a_long_system_name")
    for _ in range(1000):  # a thousand files within a second: drawn once
        progress.advance("a_long_system_name")
    clock.now += 1
    progress.start("b")
    drawn = stream.getvalue().split("\r")[1:]
    assert len(drawn) == 2
    assert drawn[1].startswith("g: b 0/1 | all 1000/1001") and len(drawn[1]) == len(drawn[0])


def test_a_message_on_a_terminal_blanks_the_live_line_first():
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress("g", stream=stream, tty=True, clock=clock)
    progress.add("a", 2)
    progress.start("a")
    progress.clearing(lambda text: stream.write(text + "\n"))("materializing sales")
    live = "g: a 0/2 | all 0/2 | 0:00 elapsed"
    assert stream.getvalue() == f"\r{live}\r{' ' * len(live)}\rmaterializing sales\n"


def test_the_stream_decides_terminal_or_plain():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress("g", stream=Terminal()).tty
    assert not Progress("g", stream=io.StringIO()).tty


def test_generating_a_system_reports_each_day_file_once(tmp_path: Path):
    """The defects pass rewrites every file the write pass wrote: a file counts when both are done."""

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def add(self, task, total):
            self.calls.append(("add", task, total))

        def start(self, task):
            self.calls.append(("start", task))

        def advance(self, task, units=1):
            self.calls.append(("advance", task, units))

        def finish(self, task, failed=False):
            self.calls.append(("finish", task, failed))

    for fmt, defects in (("csv", Defects(0.02)), ("parquet", Defects())):
        settings = Settings(scale_factor=0.001, format=fmt, defects=defects)
        recorder = Recorder()
        generate_all(tmp_path / fmt, settings, systems=["hr"], progress=recorder)
        files = sorted((tmp_path / fmt / "hr").glob(f"*/*.{fmt}"))
        advances = [c for c in recorder.calls if c[0] == "advance"]
        assert len(files) == hr.day_files(settings) == len(advances) > 0
        assert recorder.calls[:2] == [("add", "hr", len(files)), ("start", "hr")]
        assert recorder.calls[-1] == ("finish", "hr", False)


def test_mesh_operational_generate_shows_progress_per_system(tmp_path: Path, monkeypatch):
    import mesh.cli

    monkeypatch.setenv("MESH_OPERATIONAL_ROOT", str(tmp_path))
    result = CliRunner().invoke(mesh.cli.main, ["operational", "generate", "--system", "hr",
                                                "--scale-factor", "0.001"])
    assert result.exit_code == 0, result.output
    total = hr.day_files(Settings(scale_factor=0.001))
    assert "generate: hr done in " in result.output
    assert f"| all {total}/{total} |" in result.output
    assert result.output.index("generate: hr done") < result.output.index("feeds at ")
    again = CliRunner().invoke(mesh.cli.main, ["operational", "generate", "--system", "hr", "--scale-factor", "0.001"])
    assert f"generate: hr done in 0:00 | all {total}/{total}" in again.output  # up to date


# -- a Dagster run ---------------------------------------------------------------------------------------
DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")


@pytest.fixture
def tiny_mesh():
    """Two products of one domain, daily, one run per range as the mesh's products are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)

        @dg.asset(key=["shop", "orders"], partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
        def orders() -> None:
            return None

        @dg.asset(key=["shop", "revenue"], partitions_def=DAYS, deps=[orders],
                  backfill_policy=dg.BackfillPolicy.single_run())
        def revenue() -> None:
            raise RuntimeError("revenue cannot be computed")

    return dg.Definitions(assets=[orders, revenue],
                          jobs=[dg.define_asset_job("window", selection=dg.AssetSelection.all())])


def test_a_dagster_run_reports_partitions_done_per_product(tiny_mesh):
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress("materialize", unit="partitions", stream=stream, tty=False, clock=clock, interval=0)
    definitions = dg.Definitions.merge(tiny_mesh, dg.Definitions(loggers=progress_loggers(progress)))
    job = definitions.resolve_job_def("window")
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    run_config = {"loggers": {**quiet["loggers"], **progress_run_config("2024-01-03", "2024-01-07")["loggers"]}}
    tags = {"dagster/asset_partition_range_start": "2024-01-03", "dagster/asset_partition_range_end": "2024-01-07"}
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, tags=tags, run_config=run_config, raise_on_error=False)
    assert not result.success
    lines = stream.getvalue().splitlines()
    assert lines == [
        "materialize: shop.orders 0/5 partitions | all 0/10 | 0:00 elapsed",
        *[f"materialize: shop.orders {n}/5 partitions | all {n}/10 | 0:00 elapsed" for n in range(1, 6)],
        "materialize: shop.orders done in 0:00 | all 5/10 | 0:00 elapsed",
        "materialize: shop.revenue 0/5 partitions | all 5/10 | 0:00 elapsed",
        "materialize: shop.revenue failed in 0:00 | all 10/10 | 0:00 elapsed",
    ]
