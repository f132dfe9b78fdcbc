"""Reading and replaying a service's dead-letter queue (`aftersales deadletter …`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chassis import broker_names as names
from chassis.broker import (
    ConfirmingPublisher,
    OutgoingMessage,
    connect,
    dead_letter_queue,
)
from chassis.consumer import PUBLISHER_MISMATCH


@dataclass(frozen=True)
class DeadLetter:
    position: int
    message_id: str
    reason: str
    detail: str
    attempts: int
    original_queue: str
    routing_key: str
    dead_lettered_at: str
    body: bytes
    headers: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {"position": self.position, "message_id": self.message_id, "reason": self.reason,
                "attempts": self.attempts, "queue": self.original_queue,
                "routing_key": self.routing_key, "at": self.dead_lettered_at,
                "detail": self.detail[:120]}

    def describe(self) -> dict[str, Any]:
        try:
            body: Any = json.loads(self.body)
        except ValueError:
            body = self.body.decode("utf-8", errors="replace")
        return {**self.summary(), "detail": self.detail, "headers": self.headers, "body": body}


def _from_message(position: int, message: Any) -> DeadLetter:
    headers = dict(message.headers or {})
    # "x-death" and "x-delivery-count" are RabbitMQ's own headers, not the platform's.
    deaths = headers.get("x-death") or []
    if names.DEATH_REASON not in headers and deaths:
        # Dead-lettered by the broker itself (the delivery limit was reached).
        death = deaths[0]
        headers.setdefault(names.DEATH_REASON, death.get("reason", "broker"))
        headers.setdefault(names.ORIGINAL_QUEUE, death.get("queue", ""))
        headers.setdefault(names.ORIGINAL_ROUTING_KEY, (death.get("routing-keys") or [""])[0])
        headers.setdefault(names.ATTEMPTS, headers.get("x-delivery-count", 0))
    return DeadLetter(
        position=position, message_id=(message.properties or {}).get("message_id", ""),
        reason=str(headers.get(names.DEATH_REASON, "")),
        detail=str(headers.get(names.DEATH_DETAIL, "")),
        attempts=int(headers.get(names.ATTEMPTS, 0) or 0),
        original_queue=str(headers.get(names.ORIGINAL_QUEUE, "")),
        routing_key=str(headers.get(names.ORIGINAL_ROUTING_KEY, "")),
        dead_lettered_at=str(headers.get(names.DEAD_LETTERED_AT, "")), body=message.body,
        headers=headers)


def list_dead_letters(amqp_uri: str, service: str, limit: int = 1000) -> list[DeadLetter]:
    """Look without taking: every message is fetched unacknowledged and returned to the queue
    when the channel closes."""
    found: list[DeadLetter] = []
    with connect(amqp_uri) as conn:
        channel = conn.channel()
        queue = dead_letter_queue(service)(channel)
        queue.declare()
        while len(found) < limit:
            message = queue.get(no_ack=False)
            if message is None:
                break
            found.append(_from_message(len(found) + 1, message))
        channel.close()
    return found


def replay(amqp_uri: str, service: str, message_ids: set[str] | None = None) -> int:
    """Send dead letters back to the queue they came from (all, or those with the given ids).

    Each is republished with the broker's confirm before it is removed from the dead-letter
    queue, so a crash mid-replay can duplicate (harmless: inboxes) but never lose one.

    A replay is published as this service's own broker user, which headquarters' consumers
    trust, so letters refused as `publisher_mismatch` (a site speaking for another dealer) are
    replayed only when named by id: replaying everything must not launder a forgery.
    """
    publisher = ConfirmingPublisher(amqp_uri)
    replayed = 0
    try:
        with connect(amqp_uri) as conn:
            channel = conn.channel()
            queue = dead_letter_queue(service)(channel)
            queue.declare()
            keep = []
            while True:
                message = queue.get(no_ack=False)
                if message is None:
                    break
                letter = _from_message(0, message)
                if message_ids is not None:
                    wanted = letter.message_id in message_ids
                else:
                    wanted = letter.reason != PUBLISHER_MISMATCH
                if not wanted:
                    keep.append(message)
                    continue
                headers = {k: v for k, v in letter.headers.items()
                           if k not in names.DEAD_LETTER_HEADERS
                           and not k.startswith("x-death")}
                headers[names.REPLAYED] = int(headers.get(names.REPLAYED, 0)) + 1
                # The default exchange routes by queue name: only the consumer that failed
                # sees the event again, not every subscriber of the original exchange.
                publisher.publish([OutgoingMessage(
                    exchange="", routing_key=letter.original_queue, body=letter.body,
                    message_id=letter.message_id, headers=headers,
                    content_type=message.content_type or "application/json")])
                message.ack()
                replayed += 1
            channel.close()  # unacked messages we skipped go back to the queue
    finally:
        publisher.close()
    return replayed
