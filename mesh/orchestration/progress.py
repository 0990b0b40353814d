"""Progress of long work (generating the operational feeds, materializing the mesh), shown while it runs.

``Progress`` counts units (day files, partitions) done of a total per task (a system, a product) and
shows the current task, the whole's done of total, the time elapsed and an estimate of the time left:
on a terminal as one line rewritten in place; elsewhere (CI logs, pipes) as a plain line every
``interval`` seconds and one when each task ends. ``progress_logger`` feeds it a Dagster run's
events. Dagster is imported only inside the functions that need it: the command line stays fast.
Not here: the work itself (``operational``, ``mesh.orchestration.runs``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import dagster as dg

LOGGER_KEY = "mesh_progress"


@dataclass
class Task:
    total: int
    done: int = 0
    started: float | None = None
    ended: float | None = None
    failed: bool = False


class Progress:
    """Done of total per task, rendered for a terminal or for a log (``tty`` defaults to the stream's)."""

    def __init__(self, title: str, unit: str = "", stream: TextIO | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, interval: float = 12.0, refresh: float = 0.2):
        self.title, self.unit = title, unit
        self.stream = stream or sys.stdout
        self.tty = _isatty(self.stream) if tty is None else tty
        self.clock, self.interval, self.refresh = clock, interval, refresh
        self.tasks: dict[str, Task] = {}
        self.current: str | None = None
        self.started = clock()
        self._printed = self.started  # when the last line was printed (drawn, on a terminal)
        self._width = 0  # terminal mode: length of the line on screen, to blank what a shorter one leaves
        self._lock = threading.RLock()  # the ticker thread and the work both print
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        """Keep the display alive while a long step reports nothing: the clock moves, the estimate too."""
        self._ticker = threading.Thread(target=self._tick_until_stopped, name="progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.close()

    def _tick_until_stopped(self) -> None:
        while not self._stop.wait(min(1.0, self.interval)):
            self.tick()

    def tick(self) -> None:
        """Show the state if it is time to (the elapsed time and the estimate change without work done)."""
        with self._lock:
            if self.tasks:
                self._show()

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tasks.values())

    @property
    def done(self) -> int:
        return sum(t.done for t in self.tasks.values())

    def add(self, task: str, total: int) -> None:
        """Declare a task and how many units it has (again: more units of the same task)."""
        if task in self.tasks:
            self.tasks[task].total += total
        else:
            self.tasks[task] = Task(total)

    def start(self, task: str) -> None:
        with self._lock:
            self.tasks.setdefault(task, Task(0))
            self.tasks[task].started = self.clock()
            self.current = task
            self._show(force=self.tty)

    def advance(self, task: str, units: int = 1) -> None:
        with self._lock:
            entry = self.tasks.setdefault(task, Task(0))
            if entry.started is None:
                entry.started = self.clock()
            entry.done += units
            entry.total = max(entry.total, entry.done)
            self.current = task
            self._show()

    def finish(self, task: str, failed: bool = False) -> None:
        """The task is over: all its units count as done (the estimate is of work left), and it is reported."""
        with self._lock:
            entry = self.tasks.setdefault(task, Task(0))
            entry.done, entry.ended, entry.failed = max(entry.total, entry.done), self.clock(), failed
            entry.total = entry.done
            started = entry.started if entry.started is not None else entry.ended
            what = "failed" if failed else "done"
            self._print(f"{self.title}: {task} {what} in {_duration(entry.ended - started)} | {self._overall()}",
                        final=True)

    def close(self) -> None:
        """End the terminal's live line, so what follows starts on a line of its own."""
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0

    def clearing(self, echo: Callable[[str], None]) -> Callable[[str], None]:
        """``echo`` that first blanks the terminal's live line, so a message does not land on it
        (the next redraw puts the line back under the message)."""

        def say(text: str) -> None:
            with self._lock:
                if self.tty and self._width:
                    self.stream.write("\r" + " " * self._width + "\r")
                    self.stream.flush()
                    self._width = 0
                echo(text)

        return say

    def line(self) -> str:
        """The current state as one line: the task being worked on, then the whole."""
        head = self.title
        task = self.tasks.get(self.current) if self.current else None
        if task is not None:
            head += f": {self.current} {task.done}/{task.total}{' ' + self.unit if self.unit else ''}"
        return f"{head} | {self._overall()}"

    def _overall(self) -> str:
        elapsed = self.clock() - self.started
        done, total = self.done, self.total
        text = f"all {done}/{total} | {_duration(elapsed)} elapsed"
        if done < total and done * 100 >= total and elapsed >= 1:  # a pace from less says little
            text += f" | ~{_duration(elapsed * (total - done) / done)} left"
        return text

    def _show(self, force: bool = False) -> None:
        """Redraw the terminal's line (at most every ``refresh`` seconds), or print a plain line every ``interval``."""
        due = self.clock() - self._printed >= (self.refresh if self.tty else self.interval)
        if force or due:
            self._print(self.line(), final=not self.tty)

    def _print(self, text: str, final: bool) -> None:
        if self.tty:
            padding = " " * max(0, self._width - len(text))
            self.stream.write(f"\r{text}{padding}" + ("\n" if final else ""))
            self._width = 0 if final else len(text)
        else:
            self.stream.write(text + "\n")
        self._printed = self.clock()
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


# -- Dagster runs ----------------------------------------------------------------------------------------
def progress_logger(progress: Progress) -> dg.LoggerDefinition:
    """A Dagster logger advancing ``progress`` per product (``domain.product``) of the run it logs:
    a product's partitions in the run's range are its units (``progress_run_config`` passes the range),
    each materialization is one done, its step's end finishes it."""
    import dagster as dg

    planned: set[str | None] = set()  # Dagster builds a run's loggers more than once: count its work once

    @dg.logger(config_schema={"first": dg.Field(str, is_required=False), "last": dg.Field(str, is_required=False)},
               description="Progress of the run's products, partitions done of total, on the command line.")
    def mesh_progress(init_context: dg.InitLoggerContext):
        if init_context.run_id not in planned:
            planned.add(init_context.run_id)
            config = init_context.logger_config or {}
            for name, count in run_units(init_context.job_def, config.get("first"), config.get("last")).items():
                progress.add(name, count)
        return _ProgressHandler.logger(progress)

    return mesh_progress


def progress_loggers(progress: Progress) -> dict[str, dg.LoggerDefinition]:
    """Loggers for ``dg.Definitions(loggers=...)``: the progress logger beside Dagster's console logger,
    which a job's own loggers would otherwise replace."""
    import dagster as dg

    return {"console": dg.colored_console_logger, LOGGER_KEY: progress_logger(progress)}


def progress_run_config(first: str | None = None, last: str | None = None) -> dict:
    """The run config fragment that turns the progress logger on for a run over ``first..last``."""
    window = {k: v for k, v in (("first", first), ("last", last)) if v is not None}
    return {"loggers": {LOGGER_KEY: {"config": window}}}


def run_units(job: dg.JobDefinition | None, first: str | None, last: str | None) -> dict[str, int]:
    """Partitions to run per product of ``job``: those of ``first..last`` (all when unset), 1 if unpartitioned."""
    if job is None:
        return {}
    layer = job.asset_layer
    units = {}
    for key in sorted(layer.selected_asset_keys, key=lambda k: k.path):
        partitions = layer.get(key).partitions_def
        count = 1
        if partitions is not None:
            keys = partitions.get_partition_keys()
            count = sum(1 for k in keys if (first is None or k >= first) and (last is None or k <= last))
        units[_name(key.path)] = count
    return units


def _name(path: list[str] | tuple[str, ...]) -> str:
    return ".".join(path)


class _ProgressHandler:
    """Turns the run's Dagster events into ``Progress`` calls; other log records are ignored."""

    @staticmethod
    def logger(progress: Progress):
        import logging

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                event = getattr(record, "dagster_meta", {}).get("dagster_event")
                if event is not None:
                    _on_event(progress, event)

        logger = logging.Logger(LOGGER_KEY, level=logging.DEBUG)
        logger.addHandler(Handler())
        return logger


def _on_event(progress: Progress, event) -> None:
    kind = event.event_type_value
    if kind == "ASSET_MATERIALIZATION":
        progress.advance(_name(event.asset_key.path))
        return
    if kind not in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
        return
    name = _step_product(progress, event.step_key)
    if name is None:
        return
    if kind == "STEP_START":
        progress.start(name)
    else:
        progress.finish(name, failed=kind == "STEP_FAILURE")


def _step_product(progress: Progress, step_key: str | None) -> str | None:
    """The product a step computes: mesh steps are named ``<domain>__<product>`` after its asset key."""
    if not step_key:
        return None
    name = step_key.replace("__", ".")
    return name if name in progress.tasks else None
