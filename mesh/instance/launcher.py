"""The local instance's run launcher: Dagster's default one, plus the worker health check that run
monitoring needs to fail a run whose process died.

With Dagster's ``DefaultRunLauncher`` the daemon cannot tell a live run from one whose worker was
killed (``kill -9``, the out-of-memory killer, a closed laptop): such a run stays STARTED, holding
its products' concurrency slots, until ``max_runtime_seconds``. ``LocalRunLauncher`` reports a run's
worker as failed when its process is gone from this host, so the daemon's run monitoring
(``run_monitoring`` in ``deploy/local/dagster.yaml``) marks the run failed within a poll interval
and frees its slots. Command-line runs (``mesh materialize``) record their process in tags; runs the
launcher starts are found from the "Started process for run (pid: N)" event of their worker.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

PID_TAG, HOST_TAG = "mesh/pid", "mesh/host"  # set by command-line runs (mesh.orchestration.runs)


def process_alive(pid: int) -> bool:
    """Whether a process runs on this host; a zombie (dead, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill(0)
    return state not in ("Z", "X")


def worker_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[int | None, str | None]:
    """The process running ``run`` and its host, as far as the instance knows (None, None: not known)."""
    pid = run.tags.get(PID_TAG, "")
    if pid.isdigit():
        return int(pid), run.tags.get(HOST_TAG)
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):
        entry = record.event_log_entry
        event = entry.dagster_event
        if not entry.message.startswith("Started process for run") or event is None:
            continue
        value = event.engine_event_data.metadata.get("pid") if event.engine_event_data else None
        text = str(getattr(value, "value", value) or "")
        if text.isdigit():
            return int(text), socket.gethostname()  # this launcher starts workers on its own host
    return None, None


class LocalRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` whose workers' health the daemon's run monitoring can check."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid, host = worker_pid(self._instance, run)
        if pid is None or host != socket.gethostname():
            # Not known yet (the worker is starting) or elsewhere: only the run timeout can judge it.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker process not known on this host")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker process {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"worker process {pid} on {host} is gone (killed or crashed)")
