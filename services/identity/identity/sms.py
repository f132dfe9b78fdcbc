"""Owners' one-time codes go out by SMS through notify, over RPC inside headquarters' stack.

notify's `send_one_time_code` sends at once through its SMS adapter: no queue, no quiet hours
(an owner is waiting at the sign-in page), nothing on the event bus and nothing in its
delivery log; the code crosses only the RPC request on headquarters' own broker. When notify
does not answer in time or the gateway refuses, the owner is told to try again (503) and
identity keeps no code for that phone.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import RemoteError

from chassis.errors import ServiceUnavailable
from chassis.rpc import SiteRpc
from identity.settings import IdentitySettings

UNAVAILABLE = ("the text message could not be sent right now; try again in a moment "
               "(短信发送失败，请稍后再试)")


class NotifySms:
    """`send_one_time_code(phone, code, minutes)` over notify's RPC; raises ServiceUnavailable."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def send_one_time_code(self, phone: str, code: str, minutes: int) -> None:
        try:
            answer = self._proxy.send_one_time_code(phone=phone, code=code, minutes=minutes)
        except (RemoteError, ServiceUnavailable) as exc:
            raise ServiceUnavailable(UNAVAILABLE, service="notify",
                                     reason=type(exc).__name__) from None
        if not isinstance(answer, dict) or not answer.get("sent"):
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise ServiceUnavailable(UNAVAILABLE, service="notify", reason=reason or "not sent")


class OneTimeCodeSender(SiteRpc):
    """`sms = OneTimeCodeSender()`: notify's SMS at headquarters, failures translated; how long
    it waits for notify is the `notify_timeout_seconds` setting."""

    def __init__(self) -> None:
        super().__init__("notify")

    def setup(self) -> None:
        super().setup()
        settings = self.container.config["AFTERSALES"]
        self.timeout = IdentitySettings.from_settings(settings).notify_timeout_seconds

    def get_dependency(self, worker_ctx: Any) -> NotifySms:
        return NotifySms(super().get_dependency(worker_ctx))
