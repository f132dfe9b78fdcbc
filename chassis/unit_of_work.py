"""The unit of work: one transaction per entrypoint call, which use cases work in.

A use case takes a unit of work (`uow`), reads and writes through the stores it carries and
announces what happened with `uow.emit(...)`; a privileged action is recorded with
`uow.audit(...)` (`chassis.audit`), in the same transaction. It never commits. The framework
commits after the use case returns and rolls back when it raised:

* HTTP and RPC entrypoints commit before the answer leaves (a caller told "done" can rely on
  it; a failed commit becomes the answer instead),
* every other entrypoint (timers) when its worker ends,
* event handlers commit with their inbox rows in the consumer (`chassis.consumer`).

A service declares its own unit of work, a subclass of `UnitOfWork` naming its stores, and
provides it with `uow = UnitOfWorkProvider(BookingUnitOfWork)`. Service-layer tests hand the
same use cases a fake unit of work (`FakeUnitOfWork` plus in-memory stores): no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from nameko.extensions import DependencyProvider
from sqlalchemy.orm import Session

from chassis.audit import AUDIT_LOG, Audits, AuditTrail, FakeAuditTrail, NoAuditLog
from chassis.db import find_database
from chassis.identity import Identity
from chassis.outbox import EventEmitter, Outbox
from contracts import EventContract, new_event


class Emits(Protocol):
    def emit(self, contract: EventContract, data: dict[str, Any], *, subject: str,
             correlation_id: str, dealer_code: str | None = None) -> dict[str, Any]: ...


class UnitOfWork:
    """One transaction: the session the stores share, and the events written into it.

    Subclasses add their stores in `__init__` (`self.appointments = AppointmentBook(session)`).
    """

    # Set by the provider (or the fake) once built, so subclasses' constructors stay as they are.
    audit_trail: Audits = NoAuditLog()

    def __init__(self, session: Session, events: Emits) -> None:
        self.session = session
        self._events = events

    def emit(self, contract: EventContract, data: dict[str, Any], *, subject: str,
             correlation_id: str, dealer_code: str | None = None) -> dict[str, Any]:
        """Validate the event against its contract and store it in this transaction; it is
        published after the commit. Raises contracts.ContractViolation (nothing stored)."""
        return self._events.emit(contract, data, subject=subject,
                                 correlation_id=correlation_id, dealer_code=dealer_code)

    def audit(self, action: str, *, actor: Identity, subject: str,
              detail: dict[str, Any]) -> None:
        """Record a privileged action by `actor` on `subject` (a repair order, a part) in
        this transaction: the row commits or rolls back with the action."""
        self.audit_trail.record(action, actor=actor, subject=subject, detail=detail)


class FakeEvents:
    """Events a fake unit of work collects, validated against their contracts like the real
    outbox (a use case cannot emit what the contract refuses, even in a unit test)."""

    def __init__(self, source: str | None = None, dealer_code: str = "D001") -> None:
        self.source = source  # None: the producer's own source (`dealer/D001/booking`, `hq/crm`)
        self.dealer_code = dealer_code
        self.emitted: list[dict[str, Any]] = []
        self._sequences: dict[str, int] = {}

    def emit(self, contract: EventContract, data: dict[str, Any], *, subject: str,
             correlation_id: str, dealer_code: str | None = None) -> dict[str, Any]:
        sequence = self._sequences[subject] = self._sequences.get(subject, 0) + 1
        source = self.source or (f"dealer/{self.dealer_code}/{contract.producer}"
                                 if contract.at_dealer_site else f"hq/{contract.producer}")
        envelope = new_event(contract, data, source=source, subject=subject,
                             dealer_code=dealer_code or self.dealer_code,
                             correlation_id=correlation_id, sequence=sequence)
        self.emitted.append(envelope)
        return envelope

    def types(self) -> list[str]:
        return [e["type"] for e in self.emitted]


class FakeUnitOfWork(UnitOfWork):
    """A unit of work with no database: subclasses set in-memory stores. `emitted` holds the
    events, `audited` the audit rows, `session` is None (a use case that reaches for it is not
    using its stores)."""

    def __init__(self, source: str | None = None, dealer_code: str = "D001") -> None:
        self.events = FakeEvents(source, dealer_code)
        super().__init__(None, self.events)  # type: ignore[arg-type]
        self.audit_trail = self.audits = FakeAuditTrail()

    @property
    def emitted(self) -> list[dict[str, Any]]:
        return self.events.emitted

    @property
    def audited(self) -> list[dict[str, Any]]:
        return self.audits.entries


class UnitOfWorkProvider(DependencyProvider):
    """`uow = UnitOfWorkProvider(BookingUnitOfWork)`: each worker gets the service's unit of
    work over the worker's session (the one `Database` hands out) and its outbox.

    `resources(settings)` builds, once per process, what every unit of work shares (a cache,
    a key vault); they are passed to the unit of work's constructor as keyword arguments.
    """

    def __init__(self, unit_of_work: type[UnitOfWork],
                 resources: Callable[[Any], dict[str, Any]] | None = None) -> None:
        self.unit_of_work = unit_of_work
        self.resources_of = resources

    def setup(self) -> None:
        self.database = find_database(self.container)
        found = [d for d in self.container.dependencies if isinstance(d, Outbox)]
        self.outbox = found[0] if found else None
        self.settings = self.container.config["AFTERSALES"]
        self.resources = self.resources_of(self.settings) if self.resources_of else {}
        self.audit_log = self.database.metadata.tables.get(AUDIT_LOG)

    def get_dependency(self, worker_ctx: Any) -> UnitOfWork:
        session = self.database.session_for(worker_ctx)
        events: Emits = (self.outbox.get_dependency(worker_ctx) if self.outbox is not None
                         else _NoOutbox())
        uow = self.unit_of_work(session, events, **self.resources)
        if self.audit_log is not None:
            uow.audit_trail = AuditTrail(session, self.audit_log, service=self.settings.service,
                                         client_address=_client_address(worker_ctx))
        return uow


def _client_address(worker_ctx: Any) -> str | None:
    """The caller's address on an HTTP call (nameko hands the entrypoint its request first);
    an RPC, a timer or an event has no client of its own."""
    request = worker_ctx.args[0] if worker_ctx.args else None
    address = getattr(request, "remote_addr", None)
    return address if isinstance(address, str) else None


class _NoOutbox:
    def emit(self, contract: EventContract, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise TypeError(f"{contract.type}: the service declares no Outbox to emit through")


__all__ = ["EventEmitter", "FakeEvents", "FakeUnitOfWork", "UnitOfWork", "UnitOfWorkProvider"]
