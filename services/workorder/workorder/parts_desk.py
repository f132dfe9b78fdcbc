"""The parts desk as the quote sees it: a part's price over the site's RPC to parts.

`PartsDesk("parts", timeout=2)` is a `SiteRpc` whose proxy answers `price_of(part_number)`
with parts' answer, or None for a part parts does not know, and turns every other failure
into ServiceUnavailable (503) with what the advisor can do. The use cases take it as
`workorder.use_cases.ports.PartsPrices`, so tests pass a fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.exceptions import RemoteError

from chassis.errors import NotFound, ServiceUnavailable
from chassis.rpc import SiteRpc

# What parts (or an older parts) raises for a part it does not know.
UNKNOWN_PART = frozenset({"NotFound", "KeyError", "LookupError", "InvalidInput", "UnknownPart"})


class PartsPricesProxy:
    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def price_of(self, part_number: str) -> Mapping[str, Any] | None:
        try:
            return self._proxy.price_of(part_number)
        except NotFound:
            return None
        except RemoteError as exc:
            if exc.exc_type in UNKNOWN_PART:
                return None
            raise ServiceUnavailable(
                f"parts could not price {part_number}: {exc.exc_type}; "
                "try again, or ask the parts desk (配件部)", service="parts") from None
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(
                f"parts prices are unavailable right now ({exc.message}); nothing was "
                "added to the quote — try again in a moment (配件系统暂不可用)",
                service="parts") from None


class PartsDesk(SiteRpc):
    """`parts = PartsDesk("parts", timeout=2)`: parts' prices, failures already translated."""

    def get_dependency(self, worker_ctx: Any) -> PartsPricesProxy:
        return PartsPricesProxy(super().get_dependency(worker_ctx))
