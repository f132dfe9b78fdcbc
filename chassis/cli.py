"""`aftersales`: the operator's command for databases, broker setup, services and dead letters."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from chassis.config import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="service databases").add_subparsers(dest="action",
                                                                        required=True)
    upgrade = db.add_parser("upgrade", help="create each service's database and migrate it")
    upgrade.add_argument("services", nargs="+")

    broker = sub.add_parser("broker", help="broker definitions").add_subparsers(
        dest="action", required=True)
    setup = broker.add_parser("setup", help="apply deploy/rabbitmq/policies.yaml to a vhost")
    setup.add_argument("--vhost", required=True)
    setup.add_argument("--services", required=True, help="comma-separated consumer services")
    setup.add_argument("--admin-url", help="management API (default AFTERSALES_RABBITMQ_ADMIN_URL)")

    run = sub.add_parser("run", help="run services in this process until Ctrl-C")
    run.add_argument("services", nargs="+")
    run.add_argument("--migrate", action="store_true", help="migrate the databases first")

    dead = sub.add_parser("deadletter", help="a service's dead letters").add_subparsers(
        dest="action", required=True)
    for name, text in (("list", "list dead letters"), ("show", "show one in full"),
                       ("replay", "send back to the queue they came from")):
        cmd = dead.add_parser(name, help=text)
        cmd.add_argument("service")
        cmd.add_argument("--id", action="append", dest="ids", help="message (event) id")

    outbox = sub.add_parser("outbox", help="outbox status").add_subparsers(dest="action",
                                                                           required=True)
    status = outbox.add_parser("status", help="pending rows and oldest age")
    status.add_argument("service")

    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"aftersales: configuration error: {exc}", file=sys.stderr)
        return 2


def _db(args: argparse.Namespace) -> int:
    from chassis.db import migrate
    from chassis.runner import migrations_dir, service_class

    for name in args.services:
        settings = load_settings(name, args.config)
        migrate(settings.database_url, migrations_dir(service_class(name)))
        print(f"{name}: database migrated")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from chassis.broker_admin import BrokerAdmin

    services = [s for s in args.services.split(",") if s]
    BrokerAdmin(args.admin_url).apply(args.vhost, services)
    print(f"vhost {args.vhost}: definitions applied for {', '.join(services)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from chassis.runner import green

    green()
    import eventlet

    from chassis.db import migrate
    from chassis.logs import configure_logging
    from chassis.runner import make_container, migrations_dir, service_class

    settings = [load_settings(name, args.config) for name in args.services]
    configure_logging(settings[0].log_level, dealer=settings[0].dealer_code)
    containers = []
    for item in settings:
        cls = service_class(item.service)
        if args.migrate:
            migrate(item.database_url, migrations_dir(cls))
        containers.append(make_container(cls, item))
    stopping = eventlet.event.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.ready() or stopping.send(True))
    for container in containers:
        container.start()
    print(json.dumps({"running": [s.service for s in settings],
                      "http": [f"http://{s.http_host}:{s.http_port}" for s in settings]}),
          flush=True)
    stopping.wait()
    for container in containers:
        container.stop()
    return 0


def _deadletter(args: argparse.Namespace) -> int:
    from chassis.deadletter import list_dead_letters, replay

    settings = load_settings(args.service, args.config)
    ids = set(args.ids) if args.ids else None
    if args.action == "replay":
        count = replay(settings.amqp_uri, args.service, ids)
        print(f"{args.service}: replayed {count} dead letters")
        return 0
    letters = list_dead_letters(settings.amqp_uri, args.service)
    if ids is not None:
        letters = [letter for letter in letters if letter.message_id in ids]
    rows: list[Any] = [letter.describe() if args.action == "show" else letter.summary()
                       for letter in letters]
    for row in rows:
        print(json.dumps(row, ensure_ascii=False, default=str))
    if not rows:
        print(f"{args.service}: no dead letters", file=sys.stderr)
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from chassis.db import create_engine
    from chassis.outbox import OutboxRelay
    from chassis.runner import database_metadata, service_class

    settings = load_settings(args.service, args.config)
    engine = create_engine(settings.database_url)
    table = database_metadata(service_class(args.service)).tables["outbox"]
    pending, age = OutboxRelay(args.service, engine, table, settings.amqp_uri).status()
    print(json.dumps({"service": args.service, "pending": pending,
                      "oldest_age_seconds": round(age, 3)}))
    return 0


_COMMANDS = {"db": _db, "broker": _broker, "run": _run, "deadletter": _deadletter,
             "outbox": _outbox}

if __name__ == "__main__":
    raise SystemExit(main())
