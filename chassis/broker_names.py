"""Every name the platform gives a thing on the broker, in one leaf module.

Exchanges, queues, shovels, users and dead-letter headers are named here and nowhere else, so
the modules that declare them (`chassis.broker`, `chassis.broker_admin`, `chassis.uplink`,
`chassis.embedded`), those that read them (`chassis.consumer`, `chassis.deadletter`,
`chassis.service`) and `chassis/broker_policies.yaml` agree without importing each other.
This module imports nothing from chassis, so anything may import it.
"""

from __future__ import annotations

# -- events ------------------------------------------------------------------------------------


def event_exchange_name(service: str) -> str:
    """The topic exchange a service publishes its events to (nameko's `<service>.events`)."""
    return f"{service}.events"


def event_queue_name(source_service: str, event_type: str, consumer_name: str) -> str:
    """The durable queue one handler (`service.method`) consumes one event type from."""
    return f"evt-{source_service}-{event_type}--{consumer_name}"


def consuming_service(queue: str) -> str | None:
    """The service whose handler consumes an event queue (None for any other queue)."""
    if not queue.startswith("evt-") or "--" not in queue:
        return None
    return queue.rsplit("--", 1)[1].split(".", 1)[0]


# -- dead letters ------------------------------------------------------------------------------

DEAD_LETTER_EXCHANGE = "aftersales.deadletter"


def dead_letter_queue_name(service: str) -> str:
    return f"deadletter.{service}"


def dead_letters_of(queue: str) -> str | None:
    """The service a dead-letter queue belongs to (None for any other queue)."""
    prefix = dead_letter_queue_name("")
    return queue[len(prefix):] if queue.startswith(prefix) else None


# What the consumer adds to a message it dead-letters, and `aftersales deadletter` reads back.
DEATH_REASON = "x-death-reason"
DEATH_DETAIL = "x-death-detail"
ATTEMPTS = "x-attempts"
ORIGINAL_EXCHANGE = "x-original-exchange"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
ORIGINAL_QUEUE = "x-original-queue"
DEAD_LETTERED_AT = "x-dead-lettered-at"
DEAD_LETTER_HEADERS = (DEATH_REASON, DEATH_DETAIL, ATTEMPTS, ORIGINAL_EXCHANGE,
                       ORIGINAL_ROUTING_KEY, ORIGINAL_QUEUE, DEAD_LETTERED_AT)
REPLAYED = "x-replayed"  # how many times `aftersales deadletter replay` sent it back

# -- links between a dealer site and headquarters (chassis.uplink) -----------------------------

UPLINK_QUEUE = "uplink.hq.{service}"          # on the site broker: waits for headquarters
SHOVEL = "uplink-{dealer}-{service}"          # site → headquarters
UPLINK_USER = "uplink-{dealer}"               # publishes at headquarters for one site
DOWNLINK_QUEUE = "downlink.{dealer}.{service}"  # at headquarters: waits for one site
DOWNLINK_SHOVEL = "downlink-{dealer}-{service}"  # headquarters → site
DOWNLINK_USER = "downlink-{dealer}"           # publishes at one site for headquarters
# The one downlink user every site shared before link credentials were per site; setup
# removes it, since its password was a fixed development value.
SHARED_DOWNLINK_USER = "downlink-hq"


def uplink_queue(service: str) -> str:
    return UPLINK_QUEUE.format(service=service)


def uplink_shovel(dealer_code: str, service: str) -> str:
    return SHOVEL.format(dealer=dealer_code, service=service)


def uplink_user(dealer_code: str) -> str:
    """The broker user a dealer site's shovels publish as at headquarters. They set it as the
    AMQP `user_id` of every message (which RabbitMQ checks against the login), and
    headquarters' consumers accept a site's event only with its dealer's uplink user."""
    return UPLINK_USER.format(dealer=dealer_code)


def uplink_dealer(user: str) -> str | None:
    """The dealer whose uplink user `user` is (None for any other user)."""
    prefix, _, suffix = UPLINK_USER.partition("{dealer}")
    if not user.startswith(prefix) or not user.endswith(suffix):
        return None
    dealer = user[len(prefix):len(user) - len(suffix)]
    return dealer if dealer and uplink_user(dealer) == user else None


def downlink_user(dealer_code: str) -> str:
    """The broker user headquarters' shovels publish as at one dealer site."""
    return DOWNLINK_USER.format(dealer=dealer_code)


def downlink_queue(dealer_code: str, service: str) -> str:
    return DOWNLINK_QUEUE.format(dealer=dealer_code, service=service)


def downlink_shovel(dealer_code: str, service: str) -> str:
    return DOWNLINK_SHOVEL.format(dealer=dealer_code, service=service)
