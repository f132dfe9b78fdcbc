"""partners' operator commands, run where headquarters' partners database is reachable:

    aftersales --config hq.yaml ops register-partner partners --client-id ptn_3f... \\
        --name "Speedy Auto" --event-types QuoteApproved,VehicleDelivered [--dealers D001] \\
        [--regions EAST] [--vins LSVAU2187N2183740,...] [--own-vehicles-only] [--partner-id ID]
    aftersales --config hq.yaml ops add-endpoint partners --partner-id ID --url https://... \\
        [--event-types ...] [--rate-per-second 20]          # prints the signing secret once
    aftersales --config hq.yaml ops rotate-secret partners --endpoint-id E [--overlap-hours 24]
    aftersales --config hq.yaml ops enable-endpoint partners --endpoint-id E
    aftersales --config hq.yaml ops replay partners --endpoint-id E \\
        (--event-id UUID | --from ISO --to ISO | --failed-since ISO)
    aftersales --config hq.yaml ops partners partners       # one JSON line per partner

Each is one transaction on the partners database, committed when it ends (the running
service's dispatcher sends what a replay put back in line). Run `aftersales db upgrade
partners` first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from chassis.config import ConfigError, load_settings
from chassis.db import create_engine
from chassis.errors import DomainError
from partners import use_cases
from partners.settings import PartnersSettings
from partners.store import PartnersUnitOfWork, endpoint_sealer


class _NoEvents:
    def emit(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise TypeError("these commands announce nothing")


@contextmanager
def _unit_of_work(config: str | None) -> Iterator[tuple[PartnersUnitOfWork, PartnersSettings]]:
    settings = load_settings("partners", config)
    options = PartnersSettings.from_settings(settings)
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            yield PartnersUnitOfWork(session, _NoEvents(), sealer=endpoint_sealer(
                options.secret_encryption_key)), options
    finally:
        engine.dispose()


def _run(prog: str, argv: list[str] | None,
         arguments: Callable[[argparse.ArgumentParser], None],
         work: Callable[[argparse.Namespace, PartnersUnitOfWork, PartnersSettings], Any],
         show: Callable[[Any], str]) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    arguments(parser)
    args = parser.parse_args(argv)
    try:
        with _unit_of_work(args.config) as (uow, options):
            done = work(args, uow, options)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 1
    print(show(done))
    return 0


def _list(text: str | None) -> list[str] | None:
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def register_partner(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--client-id", required=True,
                            help="the client id identity issued (POST /partners there)")
        parser.add_argument("--name", required=True)
        parser.add_argument("--partner-id")
        parser.add_argument("--event-types", required=True, help="comma-separated names")
        parser.add_argument("--dealers", help="comma-separated dealer codes (default: all)")
        parser.add_argument("--regions", help="comma-separated regions")
        parser.add_argument("--vins", help="comma-separated VINs the partner services")
        parser.add_argument("--own-vehicles-only", action="store_true",
                            help="only its VINs and the cars of owners who consented")

    def work(args: argparse.Namespace, uow: PartnersUnitOfWork, _: PartnersSettings) -> Any:
        return use_cases.register_partner(
            uow, partner_id=args.partner_id, name=args.name, client_id=args.client_id,
            entitlements={"event_types": _list(args.event_types), "dealers": _list(args.dealers),
                          "regions": _list(args.regions), "vins": _list(args.vins) or [],
                          "all_vehicles": not args.own_vehicles_only}, now=_now())

    return _run("aftersales ops register-partner partners", argv, arguments, work, _json)


def add_endpoint(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--partner-id", required=True)
        parser.add_argument("--url", required=True)
        parser.add_argument("--event-types", help="comma-separated (default: all entitled)")
        parser.add_argument("--rate-per-second", type=float)

    def work(args: argparse.Namespace, uow: PartnersUnitOfWork,
             options: PartnersSettings) -> Any:
        return use_cases.add_endpoint(uow, options, args.partner_id, url=args.url,
                                      types=_list(args.event_types),
                                      rate_per_second=args.rate_per_second,
                                      random_bytes=os.urandom(32), now=_now())

    return _run("aftersales ops add-endpoint partners", argv, arguments, work,
                lambda e: f"endpoint {e['endpoint_id']}\nsigning secret (shown once): "
                          f"{e['secret']}")


def rotate_secret(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--endpoint-id", required=True)
        parser.add_argument("--overlap-hours", type=float)

    def work(args: argparse.Namespace, uow: PartnersUnitOfWork,
             options: PartnersSettings) -> Any:
        return use_cases.rotate_secret(uow, options, args.endpoint_id,
                                       overlap_hours=args.overlap_hours,
                                       random_bytes=os.urandom(32), now=_now())

    return _run("aftersales ops rotate-secret partners", argv, arguments, work,
                lambda e: f"new signing secret (shown once): {e['secret']}\nthe previous "
                          f"ones sign too until {e['previous_secrets_expire_at']}")


def enable_endpoint(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--endpoint-id", required=True)

    return _run("aftersales ops enable-endpoint partners", argv, arguments,
                lambda args, uow, _: use_cases.enable_endpoint(uow, args.endpoint_id,
                                                               now=_now()), _json)


def replay(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--endpoint-id", required=True)
        parser.add_argument("--event-id")
        parser.add_argument("--from", dest="start", type=_moment)
        parser.add_argument("--to", dest="end", type=_moment)
        parser.add_argument("--failed-since", type=_moment)

    def work(args: argparse.Namespace, uow: PartnersUnitOfWork, _: PartnersSettings) -> Any:
        return use_cases.replay(uow, args.endpoint_id, event_id=args.event_id,
                                start=args.start, end=args.end,
                                failed_since=args.failed_since, now=_now())

    return _run("aftersales ops replay partners", argv, arguments, work,
                lambda ids: f"{len(ids)} deliveries put back in line")


def list_partners(argv: list[str] | None = None) -> int:
    return _run("aftersales ops partners partners", argv, lambda parser: None,
                lambda args, uow, _: use_cases.partners(uow),
                lambda found: "\n".join(_json(p) for p in found) or "no partner")


def _now() -> datetime:
    return datetime.now(UTC)
