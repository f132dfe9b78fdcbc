"""What workorder's entrypoints share besides the chassis: the clock, a photo's answer, the
answer of a page opened by the owner's signed link, and the owner's approval as given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from chassis.http import json_response

# A page opened by the owner's signed link: the link is a credential, so no cache keeps the
# page and no other site learns its address.
PRIVATE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def now() -> datetime:
    return datetime.now(UTC)


def photo(body: bytes, content_type: str, sha256: str) -> Response:
    return Response(body, content_type=content_type,
                    headers={"Cache-Control": "private, max-age=86400",
                             "X-Content-Type-Options": "nosniff", "ETag": f'"{sha256}"'})


def private(payload: Any) -> Response:
    return json_response(payload, headers=PRIVATE)


def approval(payload: dict[str, Any], request: Request) -> dict[str, Any]:
    """The owner's decisions and signature (ApprovalSchema) as the approval use cases take
    them, with the address they signed from."""
    return {"decisions": payload["decisions"], "approved_via": payload.get("approved_via"),
            "signature": payload["signature"], "signed_from": request.remote_addr}
