"""Alerts to owners: one notification when an incident opens and one when it recovers.

An incident is a product breaching an SLO: freshness (the daemon's state or the newest partition
missing), a failed blocking check, or its error-rate SLO. ``track`` compares what is breached now
with the incidents already open (kept in the monitor sensor's cursor, stored in the instance) and
returns what to send. Every notification carries a stable id, and the outbox refuses an id it has
already written, so a daemon restart between sending and saving the cursor never duplicates.
Notifiers are pluggable: a JSON-lines outbox by default, a webhook when configured.
"""

from __future__ import annotations

import fcntl
import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg


@dataclass(frozen=True)
class Breach:
    """Something breached right now; ``evidence`` identifies this occurrence (a run, a partition)."""

    product: str
    owner: str
    kind: str  # freshness, blocking_check:<name>, error_rate
    evidence: str
    detail: str

    @property
    def key(self) -> str:
        return f"{self.product}|{self.kind}"


@dataclass(frozen=True)
class Notification:
    id: str
    status: str  # "breached" or "recovered"
    product: str
    owner: str
    kind: str
    detail: str
    opened_at: str
    at: str


def track(open_incidents: dict[str, dict], breaches: list[Breach], now: datetime | None = None
          ) -> tuple[dict[str, dict], list[Notification]]:
    """New open incidents and the notifications that move from ``open_incidents`` to them."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    current: dict[str, dict] = {}
    notes = []
    for breach in breaches:
        if breach.key in open_incidents:
            current[breach.key] = open_incidents[breach.key]
            continue
        incident = {"id": f"{breach.key}|{breach.evidence}", "owner": breach.owner, "opened_at": stamp,
                    "detail": breach.detail}
        current[breach.key] = incident
        notes.append(Notification(incident["id"], "breached", breach.product, breach.owner, breach.kind,
                                  breach.detail, stamp, stamp))
    for key, incident in open_incidents.items():
        if key not in current:
            product, kind = key.split("|", 1)
            notes.append(Notification(incident["id"] + "|recovered", "recovered", product, incident["owner"], kind,
                                      f"recovered from: {incident['detail']}", incident["opened_at"], stamp))
    return current, notes


class Notifier(ABC):
    @abstractmethod
    def send(self, note: Notification) -> bool:
        """Deliver one notification; False when it had already been delivered."""


class OutboxNotifier(Notifier):
    """Appends notifications as JSON lines to a local file, once per id."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def send(self, note: Notification) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            if any(json.loads(line).get("id") == note.id for line in handle if line.strip()):
                return False
            handle.seek(0, 2)
            handle.write(json.dumps(asdict(note)) + "\n")
            handle.flush()
        return True


class WebhookNotifier(Notifier):
    """POSTs each notification as JSON, retrying transient failures a bounded number of times."""

    def __init__(self, url: str, attempts: int = 3, timeout: float = 10):
        self.url, self.attempts, self.timeout = url, attempts, timeout

    def send(self, note: Notification) -> bool:
        body = json.dumps(asdict(note)).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json",
                                                                       "Idempotency-Key": note.id})
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):
                    return True
            except (urllib.error.URLError, TimeoutError) as err:
                if attempt == self.attempts:
                    raise RuntimeError(f"webhook {self.url} failed after {attempt} attempts: {err}") from err
                time.sleep(2 ** attempt)
        return False


class AlertsResource(dg.ConfigurableResource):
    """Where owners are notified: the outbox file, and a webhook URL when one is configured."""

    outbox: str
    webhook_url: str | None = None

    def notifiers(self) -> list[Notifier]:
        notifiers: list[Notifier] = [OutboxNotifier(Path(self.outbox))]
        if self.webhook_url:
            notifiers.append(WebhookNotifier(self.webhook_url))
        return notifiers

    def deliver(self, notes: list[Notification]) -> int:
        sent = 0
        for note in notes:
            for notifier in self.notifiers():
                sent += int(notifier.send(note))
        return sent
