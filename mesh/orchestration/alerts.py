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
import logging
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
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


log = logging.getLogger(__name__)


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
    """POSTs each notification as JSON. Transient failures (no connection, a timeout, 5xx, 429) are
    retried with exponential backoff, waiting ``budget`` seconds at most in all, so a sensor tick is not
    held long (each attempt also times out after ``timeout``); an
    answer that will not change (another 4xx) fails at once, naming the status."""

    def __init__(self, url: str, attempts: int = 4, timeout: float = 10, budget: float = 20,
                 sleep: Callable[[float], None] = time.sleep):
        self.url, self.attempts, self.timeout, self.budget, self.sleep = url, attempts, timeout, budget, sleep

    def send(self, note: Notification) -> bool:
        body = json.dumps(asdict(note)).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json",
                                                                       "Idempotency-Key": note.id})
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):
                    return True
            except urllib.error.HTTPError as err:
                if err.code != 429 and err.code < 500:
                    raise RuntimeError(f"webhook {self.url} refused notification {note.id}: HTTP {err.code} "
                                       f"{err.reason} (not retried)") from err
                problem = f"HTTP {err.code} {err.reason}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                problem = str(getattr(err, "reason", err))
            wait = min(2.0 ** (attempt - 1), self.budget - waited)
            if attempt == self.attempts or wait <= 0:
                raise RuntimeError(f"webhook {self.url} failed after {attempt} attempt(s) within {self.budget:g}s: "
                                   f"{problem}")
            log.warning("webhook %s: %s; retrying in %.1fs (attempt %d of %d)", self.url, problem, wait, attempt,
                        self.attempts)
            self.sleep(wait)
            waited += wait
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
