"""Sending webhooks: Standard Webhooks over HTTPS, to the address that was checked.

`deliver(job)` makes one attempt: the URL is checked again (https, a public address unless
`allow_private_endpoints`), the host name resolved and every address it resolves to checked,
then the request goes to the first of those addresses itself (no second resolution: a name
cannot be re-pointed between the check and the call), with the endpoint's host name in
`Host` and in TLS (SNI and certificate check). Redirects are not followed (a 3xx is a
failure). At most `response_excerpt_bytes` of the answer are read; the whole attempt is
bounded by `attempt_timeout_seconds` of wall-clock time.

Headers: `webhook-id` (the event id, the same on every attempt), `webhook-timestamp` (unix
seconds, this attempt's), `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`
once per live secret, space-separated, while a rotation overlaps).

`Sender` is the nameko dependency that runs the attempts a dispatcher tick took, in a green
pool, once the tick's transaction has committed, and keeps their answers for the next tick
to record.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import eventlet
import urllib3
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider

import contracts
from contracts.wire import CONTENT_TYPE
from partners.domain import (
    AttemptResult,
    Job,
    parse_target,
    resolved_refusal,
    url_refusal,
)
from partners.settings import PartnersSettings

log = logging.getLogger(__name__)

USER_AGENT = "aftersales-partners/1 (Standard Webhooks)"
Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address a name resolves to (A and AAAA), in the resolver's order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in found))


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int,
                     body: bytes) -> str:
    """One `v1,...` signature per secret, space-separated (contracts' Standard Webhooks
    signing)."""
    return " ".join(contracts.sign_webhook(secret, message_id, timestamp, body)
                    for secret in secrets)


class Connections:
    """Keep-alive connection pools per checked address (and the name it stands for)."""

    def __init__(self, per_address: int = 10) -> None:
        self.per_address = per_address
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def pool(self, scheme: str, address: str, port: int, host: str,
             timeout: float) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            found = self._pools.get(key)
            if found is None:
                options: dict[str, Any] = {"maxsize": self.per_address, "block": False,
                                           "timeout": urllib3.Timeout(connect=timeout,
                                                                      read=timeout),
                                           "retries": False}
                if scheme == "https":
                    found = urllib3.HTTPSConnectionPool(
                        address, port, server_hostname=host, assert_hostname=host,
                        cert_reqs="CERT_REQUIRED", **options)
                else:
                    found = urllib3.HTTPConnectionPool(address, port, **options)
                self._pools[key] = found
            return found

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def deliver(job: Job, options: PartnersSettings, *, connections: Connections | None = None,
            resolver: Resolver = resolve, clock: Callable[[], datetime] | None = None
            ) -> AttemptResult:
    """One attempt; never raises (every failure is a result)."""
    started = (clock or (lambda: datetime.now(UTC)))()
    begun = time.monotonic()

    def result(status: int | None = None, excerpt: str | None = None,
               error: str | None = None) -> AttemptResult:
        return AttemptResult(job.delivery_id, job.attempt, job.endpoint_id, job.partner_id,
                             started, status, (time.monotonic() - begun) * 1000.0, excerpt,
                             error, job.created_at)

    allow_private = options.allow_private_endpoints
    refused = url_refusal(job.url, allow_private=allow_private)
    if refused:
        return result(error=refused)
    target = parse_target(job.url)
    timestamp = int(time.time())  # the receiver checks it against its own clock
    headers = {"Host": target.host_header, "Content-Type": CONTENT_TYPE,
               "User-Agent": USER_AGENT, "webhook-id": job.message_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": signature_header(job.secrets, job.message_id, timestamp,
                                                     job.body)}
    owned = connections is None
    connections = connections or Connections(per_address=1)
    try:
        with eventlet.Timeout(options.attempt_timeout_seconds):
            addresses = ([target.host] if target.host_is_address
                         else resolver(target.host, target.port))
            refused = None if allow_private else resolved_refusal(addresses)
            if refused:
                return result(error=refused)
            if not addresses:
                return result(error="refused: the name resolves to no address")
            pool = connections.pool(target.scheme, addresses[0], target.port, target.host,
                                    options.attempt_timeout_seconds)
            response = pool.urlopen("POST", target.path, body=job.body, headers=headers,
                                    redirect=False, retries=False, preload_content=False,
                                    assert_same_host=False, release_conn=False)
            try:
                cap = options.response_excerpt_bytes
                excerpt = response.read(cap + 1) if cap else b""
                whole = len(excerpt) <= cap
                text = excerpt[:cap].decode("utf-8", "replace") if cap else None
            finally:
                if not cap or not whole:
                    response.close()  # unread answer left: the connection is not reused
                response.release_conn()
            return result(status=response.status, excerpt=text)
    except eventlet.Timeout:
        return result(error=f"timeout: no answer within {options.attempt_timeout_seconds:g}s")
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        return result(error=f"connection: {type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # a delivery attempt never breaks the dispatcher
        log.exception("delivery %s attempt %d failed unexpectedly", job.delivery_id,
                      job.attempt)
        return result(error=f"connection: {type(exc).__name__}"[:500])
    finally:
        if owned:
            connections.close()


class Sender(DependencyProvider):
    """Runs the jobs a dispatcher tick took once its transaction committed, `concurrency`
    at a time; their results wait for the next tick to record (a process that stops before
    then leaves them SENDING until their lease runs out, then they are sent again)."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self.resolver = resolver

    def setup(self) -> None:
        self.options = PartnersSettings.from_settings(self.container.config["AFTERSALES"])
        self.pool = GreenPool(self.options.concurrency)
        self.connections = Connections(per_address=self.options.concurrency)
        self.finished: list[AttemptResult] = []
        self.in_flight = 0
        self._taken: dict[Any, list[AttemptResult]] = {}
        self._jobs: dict[Any, list[Job]] = {}

    def stop(self) -> None:
        with eventlet.Timeout(self.options.attempt_timeout_seconds + 1, False):
            self.pool.waitall()
        self.connections.close()

    def kill(self) -> None:
        self.connections.close()

    def get_dependency(self, worker_ctx: Any) -> SenderHandle:
        return SenderHandle(self, worker_ctx)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        if exc_info is not None:  # the tick rolled back: its answers are recorded next time
            self.finished[:0] = self._taken.pop(worker_ctx, [])
            self._jobs.pop(worker_ctx, None)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._taken.pop(worker_ctx, None)
        for job in self._jobs.pop(worker_ctx, []):
            self.in_flight += 1
            self.pool.spawn_n(self._send, job)

    def _send(self, job: Job) -> None:
        try:
            self.finished.append(deliver(job, self.options, connections=self.connections,
                                         resolver=self.resolver or resolve))
        finally:
            self.in_flight -= 1


class SenderHandle:
    """What a worker sees of the sender: the answers to record, room for more, and where to
    put the jobs it took (sent after its transaction)."""

    def __init__(self, sender: Sender, worker_ctx: Any) -> None:
        self.sender, self.worker_ctx = sender, worker_ctx

    def take_finished(self) -> list[AttemptResult]:
        taken, self.sender.finished = self.sender.finished, []
        self.sender._taken[self.worker_ctx] = taken
        return taken

    def room(self) -> int:
        return max(0, self.sender.options.concurrency - self.sender.in_flight)

    def send_after_commit(self, jobs: list[Job]) -> None:
        self.sender._jobs.setdefault(self.worker_ctx, []).extend(jobs)
