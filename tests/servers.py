"""Real processes for tests: a Dagster webserver, daemon or `dagster dev` on loopback, and a GraphQL client."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

BIN = Path(sys.executable).parent
# What each command logs once it has stopped its work (Dagster's own messages; the webserver holds no
# state the tests read): from then on the rest of its shutdown (interpreter teardown, code servers
# draining, 10 to 20 s) only costs the tests time.
STOPPED = {"dev": ("Daemon threads shut down.",), "daemon": ("Daemon threads shut down.",),
           "webserver": ("was shut down.",)}
DAEMON_STARTED = "Instance is configured with the following daemons"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_workspace(folder: Path, project: Path, domains: Iterable[str]) -> Path:
    """``folder/workspace.yaml`` with only these domains' entries of the project's workspace.yaml:
    fewer code servers to start and reload, fewer sensors ticking. Written in the project's own
    layout (`mesh new domain` appends to it); working directories made absolute outside the project."""
    entries = yaml.safe_load((project / "workspace.yaml").read_text())["load_from"]
    wanted = list(domains)
    chosen = [e["python_module"] for e in entries if e["python_module"]["location_name"] in wanted]
    assert sorted(m["location_name"] for m in chosen) == sorted(wanted), (wanted, entries)
    lines = ["load_from:"]
    for module in chosen:
        if folder.resolve() != project.resolve():
            module["working_directory"] = str((project / module.get("working_directory", ".")).resolve())
        lines += ["  - python_module:", *(f"      {key}: {value}" for key, value in module.items())]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "workspace.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Dagster:
    url: str
    process: subprocess.Popen
    log: Path
    project: Path | None = None
    env: dict | None = None

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 timeout=timeout)
        response.raise_for_status()
        payload = response.json()
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def locations(self) -> dict[str, str]:
        data = self.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
            name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
        return {e["name"]: e["locationOrLoadError"]["__typename"] for e in data["workspaceOrError"]["locationEntries"]}


def _ready(server: Dagster, command: str, expect_locations: int | None) -> bool:
    if command == "daemon":  # no webserver to ask: the controller logs its daemons once it runs them
        return DAEMON_STARTED in server.log.read_text(errors="replace")
    try:
        if requests.get(f"{server.url}/server_info", timeout=2).ok:
            entries = server.locations()
            loading = [n for n, kind in entries.items() if kind not in ("RepositoryLocation", "PythonError")]
            return bool(entries) and not loading and (expect_locations is None or len(entries) >= expect_locations)
    except (requests.RequestException, AssertionError, KeyError, TypeError):
        pass
    return False


@contextlib.contextmanager
def dagster(project: Path, env: dict[str, str], command: str = "dev", extra: list[str] | None = None,
            expect_locations: int | None = None, timeout: float = 240) -> Iterator[Dagster]:
    """Start `dagster dev` (webserver + daemon), `dagster-webserver` or `dagster-daemon run` on
    ``project``'s workspace.yaml; on exit stop it as Ctrl-C does, waiting until it says it stopped."""
    port = free_port()
    log = Path(env["DAGSTER_HOME"]) / f"{command}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    serve = ["-h", "127.0.0.1", "-p", str(port)]
    args = {"dev": [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", *serve],
            "webserver": [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", *serve],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]}[command]
    handle = open(log, "w")  # noqa: SIM115 - the server writes to it until the context exits
    process = subprocess.Popen([*args, *(extra or [])], cwd=project, env={**os.environ, **env}, stdout=handle,
                               stderr=subprocess.STDOUT, start_new_session=True)
    server = Dagster(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.time() + timeout
        while not _ready(server, command, expect_locations):
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited early:\n{log.read_text()[-4000:]}")
            if time.time() > deadline:
                raise TimeoutError(f"{command} did not come up in {timeout}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield server
    finally:
        stop(process, log, STOPPED[command])
        handle.close()


def stop(process: subprocess.Popen, log: Path, stopped: tuple[str, ...], grace: float = 60) -> None:
    """SIGTERM the process group (Dagster stops as on Ctrl-C), wait until the log says every part
    stopped (or the process ended, or ``grace`` passed), then kill what is left of the group."""
    start = log.stat().st_size if log.exists() else 0
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.time() + grace
    while process.poll() is None and time.time() < deadline:
        with open(log, "rb") as text:
            text.seek(start)
            said = text.read().decode(errors="replace")
        if all(marker in said for marker in stopped):
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
