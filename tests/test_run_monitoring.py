"""A run whose process dies is marked failed by the instance's run monitoring (issue 13), with the
project's real local instance configuration (``deploy/local/dagster.yaml``) and a real daemon."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from mesh.instance.launcher import LocalRunLauncher, worker_pid

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SLEEPY = textwrap.dedent("""
    import os, socket, time
    import dagster as dg

    @dg.op
    def wait_forever() -> None:
        time.sleep(600)

    @dg.job
    def sleepy():
        wait_forever()

    defs = dg.Definitions(jobs=[sleepy])

    if __name__ == "__main__":  # as `mesh materialize` runs: in this process, its pid in the run's tags
        sleepy.execute_in_process(instance=dg.DagsterInstance.get(), tags={
            "mesh/trigger": "cli", "mesh/host": socket.gethostname(), "mesh/pid": str(os.getpid())})
""")


def local_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    return home


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(1)
    raise TimeoutError(what)


def test_the_local_instance_checks_worker_health():
    instance = dg.DagsterInstance.ephemeral()
    assert not instance.run_launcher.supports_check_run_worker_health  # Dagster's default: cannot tell
    assert LocalRunLauncher().supports_check_run_worker_health


def test_a_launched_worker_that_is_killed_is_found_dead(tmp_path):
    """Runs the launcher starts are found by the worker's own 'Started process for run' event."""
    from dagster._core.events import EngineEventData
    from dagster._core.launcher.base import WorkerStatus

    home = local_home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    assert isinstance(instance.run_launcher, LocalRunLauncher)

    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def job():
        noop()

    worker = subprocess.Popen(["sleep", "600"])
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    assert instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING  # no pid yet
    # what dagster/_grpc/impl.py reports when it starts a run worker
    instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", run,
                                 EngineEventData.in_process(worker.pid))
    assert worker_pid(instance, run) == (worker.pid, socket.gethostname())
    assert instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING
    os.kill(worker.pid, signal.SIGKILL)  # not reaped yet: a zombie is dead too
    time.sleep(0.5)
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status is WorkerStatus.FAILED and f"worker process {worker.pid}" in health.msg
    worker.wait()


@pytest.mark.slow
def test_a_run_killed_with_kill_9_is_marked_failed_by_the_daemon(tmp_path):
    home = local_home(tmp_path)
    (tmp_path / "sleepy.py").write_text(SLEEPY)
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_file: sleepy.py\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(PROJECT)}
    runner = subprocess.Popen([sys.executable, "sleepy.py"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    instance = dg.DagsterInstance.from_config(str(home))
    started = wait_for(lambda: instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])), 120,
                       "the run did not start")
    run_id = started[0].run_id
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    assert instance.get_run_by_id(run_id).status is dg.DagsterRunStatus.STARTED  # what nobody would fix

    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def failed():
            run = dg.DagsterInstance.from_config(str(home)).get_run_by_id(run_id)
            return run if run.status is dg.DagsterRunStatus.FAILURE else None

        try:
            wait_for(failed, 150, "the daemon did not mark the dead run failed")
        except TimeoutError:
            log.flush()
            raise AssertionError((tmp_path / "daemon.log").read_text()[-4000:]) from None
        failures = [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.is_run_failure]
        assert failures and f"worker process {runner.pid}" in failures[-1].message
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("config", ["dagster.yaml", "dagster.docker.yaml"])
def test_production_instances_monitor_runs_with_launchers_that_check_workers(config):
    """ECS and Docker launchers check their workers (tasks, containers) themselves: run monitoring on."""
    import yaml

    instance = yaml.safe_load((PROJECT / "deploy" / config).read_text())
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_launcher"]["class"] in ("EcsRunLauncher", "DockerRunLauncher")
