"""RPC between services of one site, for an answer needed now (a part's price for a quote).

nameko's proxy waits for a reply for ever when the other service is down; here a call that
gets no answer in time raises ServiceUnavailable (HTTP 503 with a clear message). RPC never
crosses the WAN: sites and headquarters meet only through events.
"""

from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import Rpc, RpcProxy

from chassis.db import finish_transaction
from chassis.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)


class PlatformRpc(Rpc):
    """nameko's RPC entrypoint, committing the call's unit of work before the reply leaves
    (chassis.unit_of_work); a failed commit is the reply instead."""

    def handle_result(self, message, worker_ctx, result, exc_info):  # type: ignore[no-untyped-def]
        exc_info = finish_transaction(self.container, worker_ctx, exc_info)
        return super().handle_result(message, worker_ctx, None if exc_info else result,
                                     exc_info)


rpc = PlatformRpc.decorator


class _TimedService:
    def __init__(self, proxy: Any, service: str, timeout: float) -> None:
        self._proxy, self._service, self._timeout = proxy, service, timeout

    def __getattr__(self, method: str) -> Any:
        remote = getattr(self._proxy, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                with eventlet.Timeout(self._timeout):
                    return remote(*args, **kwargs)
            except eventlet.Timeout:
                raise ServiceUnavailable(
                    f"{self._service} did not answer {method} within {self._timeout:g}s",
                    service=self._service) from None
            except UnknownService:
                raise ServiceUnavailable(f"{self._service} is not running",
                                         service=self._service) from None
            except RemoteError as exc:
                kind = _PASSED_THROUGH.get(exc.exc_type)
                if kind is None:
                    raise
                error = kind.__new__(kind)  # the message is all that crossed the wire
                DomainError.__init__(error, exc.value)
                raise error from None

        return call


# A domain error raised by the remote service keeps its meaning (and HTTP status) here.
_PASSED_THROUGH: dict[str, type[DomainError]] = {
    kind.__name__: kind for kind in (NotFound, Conflict, InvalidInput, Forbidden)}


def passes_through(kind: type[DomainError]) -> type[DomainError]:
    """Register another domain error to be re-raised as itself on the calling side."""
    _PASSED_THROUGH[kind.__name__] = kind
    return kind


class SiteRpc(RpcProxy):
    """`parts = SiteRpc("parts", timeout=2)`; then `self.parts.price_of(part_number)`."""

    def __init__(self, target_service: str, timeout: float = 2.0, **options: Any) -> None:
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx: Any) -> Any:
        return _TimedService(super().get_dependency(worker_ctx), self.target_service,
                             self.timeout)
