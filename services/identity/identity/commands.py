"""identity's operator commands, run where the stack's database is reachable:

    aftersales --config site-D001.yaml ops create-user identity --username wang.li \\
        --role dealer_manager [--display-name 王力]      # the password from stdin or a prompt
    aftersales --config hq.yaml ops rotate-keys identity
    aftersales --config hq.yaml ops retire-keys identity [--all-previous]

Whoever can run these holds the database, so they act as the console (`console` in the audit
log) and create any account the stack keeps: how the first manager of a site, and the first
operator of headquarters, come to be. Run `aftersales db upgrade identity` first.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from chassis.config import ConfigError, load_settings
from chassis.db import create_engine
from chassis.errors import DomainError
from chassis.identity import Role
from identity import use_cases
from identity.domain import PASSWORD_ROLES
from identity.settings import IdentitySettings
from identity.store import IdentityUnitOfWork, identity_resources

T = TypeVar("T")


class _NoEvents:
    """identity announces nothing on the event bus."""

    def emit(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise TypeError("identity emits no events")


@contextmanager
def _unit_of_work(config: str | None) -> Iterator[tuple[IdentityUnitOfWork, IdentitySettings]]:
    """One transaction on the stack's identity database, committed when the block ends."""
    settings = load_settings("identity", config)
    options = IdentitySettings.from_settings(settings)
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            yield IdentityUnitOfWork(session, _NoEvents(), **identity_resources(settings)), \
                options
    finally:
        engine.dispose()


def _run(prog: str, argv: list[str] | None, arguments: Callable[[argparse.ArgumentParser], None],
         work: Callable[[argparse.Namespace, IdentityUnitOfWork, IdentitySettings], T],
         show: Callable[[T], str],
         before: Callable[[argparse.Namespace], None] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    arguments(parser)
    args = parser.parse_args(argv)
    if before is not None:  # what needs a person (a password) before a transaction is open
        before(args)
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


def rotate_keys(argv: list[str] | None = None) -> int:
    """The next signing key becomes current; the replaced one is published until its tokens
    have expired (the longest access token lifetime), then retired by the service's timer."""
    return _run("aftersales ops rotate-keys identity", argv, lambda parser: None,
                lambda args, uow, options: use_cases.rotate_keys(uow, options, now=_now()),
                lambda kids: f"signing with key {kids[0]}" + (
                    f"; key {kids[1]} is published until its tokens expire" if kids[1] else ""))


def retire_keys(argv: list[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--all-previous", action="store_true",
                            help="retire every previous key now, expired tokens or not "
                                 "(after a key was exposed)")

    return _run("aftersales ops retire-keys identity", argv, arguments,
                lambda args, uow, options: use_cases.retire_keys(
                    uow, options, now=_now(), every_previous=args.all_previous),
                lambda kids: f"retired {', '.join(kids)}" if kids else "no key to retire")


def create_user(argv: list[str] | None = None, *, read_password: Callable[[], str] | None = None
                ) -> int:
    """A staff account of this stack, whatever the stack may keep (the first manager)."""
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=sorted(PASSWORD_ROLES))
        parser.add_argument("--dealer", help="dealer staff's dealer (a site's own by default)")
        parser.add_argument("--display-name")
        parser.add_argument("--staff-id", help="the id the other services know the person by "
                                               "(the tokens' subject); a new UUID by default")

    def ask(args: argparse.Namespace) -> None:
        args.password = (read_password or _password)()

    def work(args: argparse.Namespace, uow: IdentityUnitOfWork,
             options: IdentitySettings) -> Any:
        return use_cases.create_account(uow, by=None, username=args.username,
                                        password=args.password, role=Role(args.role),
                                        dealer_code=args.dealer, staff_id=args.staff_id,
                                        display_name=args.display_name, now=_now())

    return _run("aftersales ops create-user identity", argv, arguments, work,
                lambda account: f"created {account.username} ({account.role}"
                                f"{', ' + account.dealer_code if account.dealer_code else ''}) "
                                f"id {account.id}", before=ask)


def _password() -> str:
    """From a prompt (asked twice) at a terminal, else the first line of stdin (a script)."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the passwords differ; nothing was created")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _now() -> datetime:
    return datetime.now(UTC)
