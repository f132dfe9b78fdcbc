"""Who the customer is at a dealer site, derived the same way wherever a phone number arrives
(booking, reception's walk-ins): repeat visits by one phone meet one customer id, without the
number itself being kept where it is not needed."""

from __future__ import annotations

import uuid


def customer_id_for(phone: str) -> str:
    """The stable customer id of a phone number (a UUID 5 of its `tel:` URI)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tel:{phone}"))
