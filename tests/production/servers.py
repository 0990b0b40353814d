"""Real servers on loopback for the production profile: PostgreSQL (Debian's) and the moto S3 server.

PostgreSQL refuses to run as root, so as root every command goes through ``runuser -u postgres``
into a data directory that user owns. moto keeps its state in memory; with ``recording`` it logs
every request to a file and ``restart`` replays that log, so a restarted server comes back with the
objects it held, as a real S3 server with a disk would (moto has no persistence of its own).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.servers import free_port

BIN = Path(sys.executable).parent


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/system-deps.sh (make test does)")
    return Path(found[-1]).parent


@dataclass
class Postgres:
    """A throwaway cluster with trust authentication for user ``postgres`` on 127.0.0.1."""

    root: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self):
        self.bin = postgres_bin()
        self.data = self.root / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stdout}{done.stderr}")

    def init(self) -> Postgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "-N")
        return self

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
                  "-o", options, "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return name

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class MotoS3:
    """``moto_server`` on a free loopback port; ``kill`` stops it hard, ``restart`` brings its objects back."""

    root: Path
    recording: bool = False
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        if self.recording:
            env |= {"MOTO_ENABLE_RECORDING": "true", "MOTO_RECORDER_FILEPATH": str(self.root / "recording.jsonl")}
        log = open(self.root / "moto.log", "a")  # noqa: SIM115 - the server writes to it until killed
        self.process = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{(self.root / 'moto.log').read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.endpoint}/moto-api/", timeout=1).ok:
                    return self
            if time.time() > deadline:
                raise TimeoutError("moto_server did not answer in 30s")
            time.sleep(0.1)

    def kill(self) -> None:
        """Stop the server the hard way, as a crash or a network outage would."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Start again on the same port and replay the recorded requests (the server's 'disk')."""
        self.kill()
        if self.recording:
            log = self.root / "recording.jsonl"
            log.write_text("".join(json.dumps(entry) + "\n" for entry in _entries(log)))
        self.start()
        if self.recording:
            requests.post(f"{self.endpoint}/moto-api/recorder/replay-recording", timeout=300).raise_for_status()


def _entries(log: Path) -> list[dict]:
    """The recorded requests. moto's recorder writes each entry and then its newline from the thread
    serving the request, so concurrent requests can share a line; the entry being written when the
    server was killed may be cut short (a torn write), and is dropped."""
    decoder, entries = json.JSONDecoder(), []
    for line in log.read_text().splitlines() if log.exists() else []:
        at = 0
        while at < len(line):
            try:
                entry, at = decoder.raw_decode(line, at)
            except ValueError:
                break
            entries.append(entry)
            while at < len(line) and line[at].isspace():
                at += 1
    return entries
