"""Real processes for tests: a Dagster webserver (or `dagster dev`) on loopback, and a GraphQL client."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@contextlib.contextmanager
def dagster(project: Path, env: dict[str, str], command: str = "dev", extra: list[str] | None = None,
            expect_locations: int | None = None, timeout: float = 240) -> Iterator[Dagster]:
    """Start `dagster dev` (webserver + daemon) or `dagster-webserver` on a free port in ``project``."""
    port = free_port()
    log = Path(env["DAGSTER_HOME"]) / f"{command}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if command == "dev":
        args = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    else:
        args = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    handle = open(log, "w")  # noqa: SIM115 - the server writes to it until the context exits
    process = subprocess.Popen([*args, *(extra or [])], cwd=project, env={**os.environ, **env}, stdout=handle,
                               stderr=subprocess.STDOUT, start_new_session=True)
    server = Dagster(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.time() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited early:\n{log.read_text()[-4000:]}")
            try:
                if requests.get(f"{server.url}/server_info", timeout=2).ok:
                    entries = server.locations()
                    loading = [n for n, kind in entries.items() if kind not in ("RepositoryLocation", "PythonError")]
                    if entries and not loading and (expect_locations is None or len(entries) >= expect_locations):
                        break
            except (requests.RequestException, AssertionError, KeyError, TypeError):
                pass
            if time.time() > deadline:
                raise TimeoutError(f"{command} did not come up in {timeout}s:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        handle.close()
