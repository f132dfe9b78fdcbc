"""`aftersales`: the operator's command for databases, broker setup, services, dead letters and
audit logs."""

# Each command imports the service stack it uses (nameko, kombu, SQLAlchemy, through
# chassis.db, broker_admin, deadletter, outbox, uplink) inside its function: `run` must make
# eventlet green before those are imported, and the other commands start faster without what
# they do not need.

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chassis import registry
from chassis.config import ConfigError, load_settings
from chassis.runner import (
    database_metadata,
    green,
    make_container,
    migrations_dir,
    service_class,
)

DEFAULT_UPLINKS = "deploy/local/uplinks.yaml"
# `aftersales ops` commands of the chassis itself; a service's operator_commands may not
# take these names.
OPS_BUILTINS = ("sites",)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser(
        # Only `ops` needs the services' operator commands, and reading them loads every
        # installed service class; the other commands stay as light as they were.
        registry.operator_commands() if "ops" in argv else {})
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"aftersales: configuration error: {exc}", file=sys.stderr)
        return 2


def _parser(operator_commands: Mapping[str, Mapping[str, str]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="service databases").add_subparsers(dest="action",
                                                                        required=True)
    upgrade = db.add_parser("upgrade", help="create each service's database and migrate it")
    upgrade.add_argument("services", nargs="+")

    broker = sub.add_parser("broker", help="broker definitions").add_subparsers(
        dest="action", required=True)
    setup = broker.add_parser("setup", help="apply chassis/broker_policies.yaml to a vhost")
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

    audit = sub.add_parser("audit", help="a service's audit log of privileged actions") \
        .add_subparsers(dest="action", required=True)
    audit_list = audit.add_parser("list", help="audit entries, newest first")
    audit_list.add_argument("service")
    audit_list.add_argument("--since", type=_moment,
                            help="ISO 8601 time or date; without an offset it is UTC")
    audit_list.add_argument("--action", dest="audited", metavar="ACTION",
                            help="one action only, e.g. QUOTE_APPROVED_ON_BEHALF")
    audit_list.add_argument("--limit", type=_positive, default=100, help="default 100")
    audit_list.add_argument("--json", action="store_true", help="one JSON object a line")

    outbox = sub.add_parser("outbox", help="outbox status").add_subparsers(dest="action",
                                                                           required=True)
    status = outbox.add_parser("status", help="pending rows and oldest age")
    status.add_argument("service")

    uplink = sub.add_parser("uplink", help="site → headquarters broker links (shovels)")
    uplink.add_argument("--file", default=DEFAULT_UPLINKS, help=f"default {DEFAULT_UPLINKS}")
    uplink.add_argument("--secrets-dir", help="where setup keeps the links' generated passwords "
                                              "(default AFTERSALES_SECRETS_DIR, else the "
                                              "file's secrets_dir, else var/secrets)")
    uplink_sub = uplink.add_subparsers(dest="action", required=True)
    start = uplink_sub.add_parser("setup", help="declare both ends and start the shovels")
    start.add_argument("--dealer", help="one dealer site only")
    cut = uplink_sub.add_parser("stop", help="remove a site's shovels (events wait at the site)")
    cut.add_argument("dealer")
    uplink_sub.add_parser("status", help="shovel state and events waiting per site")

    ops = sub.add_parser("ops", help="operations views").add_subparsers(dest="action",
                                                                        required=True)
    sites = ops.add_parser("sites", help="per site: link, events waiting, last event seen at "
                                         "headquarters; per headquarters service: backlog")
    sites.add_argument("--uplinks", default=DEFAULT_UPLINKS, help=f"default {DEFAULT_UPLINKS}")
    # `aftersales ops <command> <service> [args…]`, from what each service declares, e.g.
    # `ops rebuild bi` runs bi's "bi.rebuild:main" with --config and the remaining arguments.
    for command, targets in sorted(operator_commands.items()):
        if command in OPS_BUILTINS:
            raise SystemExit(f"aftersales: {', '.join(sorted(targets))} declare the operator "
                             f"command {command!r}, which is the chassis' own")
        cmd = ops.add_parser(command, help=f"{command} ({', '.join(sorted(targets))})")
        cmd.add_argument("service", choices=sorted(targets))
        cmd.add_argument("arguments", nargs=argparse.REMAINDER,
                         help="passed on to the service's command")
        cmd.set_defaults(targets=dict(targets))
    return parser


def _db(args: argparse.Namespace) -> int:
    from chassis.db import migrate

    for name in args.services:
        settings = load_settings(name, args.config)
        migrate(settings.database_url, migrations_dir(service_class(name)),
                settings=settings)
        print(f"{name}: database migrated")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from chassis.broker_admin import BrokerAdmin

    services = [s for s in args.services.split(",") if s]
    admin = BrokerAdmin(args.admin_url)
    admin.apply(args.vhost, services)
    known = registry.service_classes()
    queues = [q for s in services if s in known for q in admin.declare_event_queues(
        args.vhost, known[s])]
    print(f"vhost {args.vhost}: definitions applied for {', '.join(services)}; "
          f"{len(queues)} event queues declared")
    return 0


def _run(args: argparse.Namespace) -> int:
    green()
    import eventlet

    from chassis.db import migrate
    from chassis.logs import configure_logging

    settings = [load_settings(name, args.config) for name in args.services]
    configure_logging(settings[0].log_level, dealer=settings[0].dealer_code)
    containers = []
    for item in settings:
        cls = service_class(item.service)
        if args.migrate:
            migrate(item.database_url, migrations_dir(cls), settings=item)
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


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time or date") from None
    # Rows are stored in UTC; a bare time read as UTC answers the same on any machine.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _audit(args: argparse.Namespace) -> int:
    from chassis.audit import keeps_audit_log, read_audit_log
    from chassis.db import create_engine

    settings = load_settings(args.service, args.config)
    if not keeps_audit_log(database_metadata(service_class(args.service))):
        print(f"aftersales: {args.service} keeps no audit log (chassis.audit)", file=sys.stderr)
        return 1
    engine = create_engine(settings.database_url)
    try:
        entries = read_audit_log(engine, since=args.since, action=args.audited,
                                 limit=args.limit)
    finally:
        engine.dispose()
    for entry in entries:
        print(json.dumps(entry.as_dict(), ensure_ascii=False) if args.json else entry.line())
    if not entries:
        print(f"{args.service}: no audit entries", file=sys.stderr)
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from chassis.db import create_engine
    from chassis.outbox import OutboxRelay

    settings = load_settings(args.service, args.config)
    engine = create_engine(settings.database_url)
    table = database_metadata(service_class(args.service)).tables["outbox"]
    pending, age = OutboxRelay(args.service, engine, table, settings.amqp_uri).status()
    print(json.dumps({"service": args.service, "pending": pending,
                      "oldest_age_seconds": round(age, 3)}))
    return 0


def _uplink(args: argparse.Namespace) -> int:
    from chassis import uplink

    links = uplink.load_uplinks(args.file, secrets_dir=args.secrets_dir)
    if args.action == "setup":
        for name in uplink.setup(links, args.dealer):
            print(f"shovel {name}: defined (ack-mode on-confirm)")
        print(f"link passwords: {links.secrets_dir} (mode 0600; keep out of version control)")
    elif args.action == "stop":
        for name in uplink.stop(links, args.dealer):
            print(f"shovel {name}: removed; events wait at site {args.dealer}")
    else:
        for row in uplink.status(links):
            print(json.dumps(row))
    return 0


def _ops(args: argparse.Namespace) -> int:
    if args.action != "sites":
        return _operator_command(args.targets[args.service], args.config, args.arguments)
    from chassis import uplink
    from chassis.db import create_engine

    seen: dict[str, dict[str, Any]] = {}
    for service in registry.services_on(registry.HEADQUARTERS):
        settings = load_settings(service, args.config)
        engine = create_engine(settings.database_url)
        try:
            for dealer, last, count in uplink.events_from_sites(engine):
                row = seen.setdefault(dealer, {"last_event_at_hq": None, "events_applied": {}})
                row["events_applied"][service] = count
                if row["last_event_at_hq"] is None or last > row["last_event_at_hq"]:
                    row["last_event_at_hq"] = last
        finally:
            engine.dispose()
    links = uplink.load_uplinks(args.uplinks)
    for link in uplink.status(links):
        at_hq = seen.pop(link["dealer_code"], {"last_event_at_hq": None, "events_applied": {}})
        print(json.dumps({**link, **at_hq}, default=str))
    for dealer, at_hq in sorted(seen.items()):  # sites heard of but not in the uplinks file
        print(json.dumps({"dealer_code": dealer, "running": None, **at_hq}, default=str))
    for service, backlog in sorted(uplink.headquarters_backlog(links).items()):
        print(json.dumps({"headquarters_service": service, **backlog}))
    return 0


def _operator_command(target: str, config: str | None, arguments: list[str]) -> int:
    """Run a service's "module:function" with `--config` (when given) and `arguments`."""
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function([*(["--config", config] if config else []), *arguments]) or 0)


_COMMANDS = {"db": _db, "broker": _broker, "run": _run, "deadletter": _deadletter,
             "audit": _audit, "outbox": _outbox, "uplink": _uplink, "ops": _ops}

if __name__ == "__main__":
    raise SystemExit(main())
