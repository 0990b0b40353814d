"""`make serve` (the end of `make up`): the command it runs serves every code location of workspace.yaml,
and says nothing about being deprecated or superseded on the way in."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import ROOT
from tests.servers import Dagster, free_port

pytestmark = pytest.mark.slow


def serve_command(home: Path, port: int) -> list[str]:
    """The command `make serve` runs, as make prints it (a dry run: nothing is installed or started)."""
    # --no-print-directory: under `make test`, make would print "make[1]: Entering directory" lines.
    printed = subprocess.run(["make", "-s", "--no-print-directory", "-n", "serve", "HOST=127.0.0.1", f"PORT={port}",
                              f"DAGSTER_HOME={home}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return shlex.split(printed.strip().splitlines()[-1])


def test_make_serve_serves_every_location_without_a_deprecation_warning(tmp_path: Path):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    command = serve_command(home, port)
    expected = {entry["python_module"]["location_name"]
                for entry in yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]}
    log = tmp_path / "serve.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MESH_WORK_DIR": str(tmp_path / "work")}
    with open(log, "w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Dagster(f"http://127.0.0.1:{port}", process, log)
    try:
        locations: dict[str, str] = {}
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None:
            with contextlib.suppress(requests.RequestException, AssertionError, KeyError, TypeError):
                locations = server.locations()
                if set(locations) == expected and all(kind == "RepositoryLocation" for kind in locations.values()):
                    break
            time.sleep(2)
        assert locations == dict.fromkeys(expected, "RepositoryLocation"), log.read_text()[-4000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # Dagster's own shutdown can take a minute: not tested here
        process.wait(timeout=30)
    output = log.read_text()
    assert "SupersessionWarning" not in output and "DeprecationWarning" not in output, output[:4000]
    assert "Use 'dg dev' instead" not in output
