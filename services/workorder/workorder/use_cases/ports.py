"""What the use cases need from outside the database, as small protocols: the real adapters
are `workorder.parts_desk`, `workorder.media` and `workorder.links`; tests pass fakes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from workorder.domain.grants import QuoteGrant
from workorder.domain.inspection import ReportGrant


class PartsPrices(Protocol):
    """parts, over the site's RPC: a part's price, or None for a part it does not know;
    ServiceUnavailable (503) when it cannot answer."""

    def price_of(self, part_number: str) -> Mapping[str, Any] | None: ...


class MediaFiles(Protocol):
    """Photos and signature images, kept by their SHA-256."""

    def put(self, sha256: str, body: bytes) -> bool: ...

    def read(self, sha256: str) -> bytes | None: ...


class OwnerLinks(Protocol):
    """The owner's links: signed, expiring grants for one purpose each (an inspection report
    to see, a quote round to decide). Reading one that is not valid for its purpose raises."""

    def sign_report(self, *, repair_order_id: str, inspection_id: str, ttl_seconds: int,
                    now: float) -> str: ...

    def read_report(self, token: str) -> ReportGrant: ...

    def sign_quote(self, *, repair_order_id: str, quote_id: str, round_: int,
                   customer_id: str, ttl_seconds: int, now: float) -> str: ...

    def read_quote(self, token: str, *, now: float) -> QuoteGrant: ...
