"""The demo's people sign in, as people do: nobody mints a token.

Staff sign in with a password at their own stack's identity service — a site's staff at the
site's, headquarters' people at headquarters'. The first manager of each site and the first
operator of headquarters are made at the console (`aftersales ops create-user identity`), as
the README tells an operator; everyone else is added by them over HTTP. Owners sign in with
the one-time code texted to their phone: the demo's notify writes its texts to a file, and
the owner reads the code from there, as they would from their messages.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from chassis.auth import DEALER_STAFF, Role
from contracts.customer import customer_id_for
from crm.domain.surveys import link_token

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# Refresh a little before the access token runs out (it lives minutes).
REFRESH_MARGIN_SECONDS = 30.0

# `console(stack, staff_id, role, password)`: an operator's create-user at that stack's console.
Console = Callable[[str, str, Role, str], None]


class SignInFailed(RuntimeError):
    """A simulated person could not sign in: the demo stops and says who and why."""


@dataclass
class _Signed:
    access_token: str
    refresh_token: str | None
    expires_at: float


class SignedInPeople:
    """People of the demo, signed in at `identities` (dealer code, or "HQ" → identity URL)."""

    def __init__(self, identities: dict[str, str], console: Console, sms_sink: Path,
                 survey_link_secret: str, session: requests.Session | None = None) -> None:
        self._identities = identities
        self._console = console
        self._sms = sms_sink
        self._survey_secret = survey_link_secret
        self._http = session or requests.Session()
        self._passwords: dict[tuple[str, str], str] = {}
        self._signed: dict[tuple[str, str], _Signed] = {}
        self._phones: dict[str, str] = {}  # customer id → the phone it is the id of

    # -- the People protocol ------------------------------------------------------------------

    def introduce_owner(self, phone: str) -> None:
        self._phones[customer_id_for(phone)] = phone

    def headers(self, role: Role, subject: str, dealer_code: str | None) -> dict[str, str]:
        stack = dealer_code if role in DEALER_STAFF else "HQ"
        if role is Role.OWNER:
            signed = self._current(stack, subject, lambda: self._owner_sign_in(subject))
        else:
            signed = self._current(stack, subject, lambda: self._staff_sign_in(stack, subject,
                                                                               role))
        return {"Authorization": f"Bearer {signed.access_token}"}

    def survey_link_token(self, survey_id: str) -> str:
        # The owner's survey link, as crm signs it in the message headquarters sent.
        return link_token(self._survey_secret, survey_id)

    def password_of(self, stack: str, staff_id: str, role: Role) -> str:
        """The password of a member of the demo's staff at `stack` (enrolled on first use), for
        signing in through a page."""
        if (stack, staff_id) not in self._passwords:
            self._enrol(stack, staff_id, role)
        return self._passwords[stack, staff_id]

    # -- signing in --------------------------------------------------------------------------

    def _current(self, stack: str, subject: str, sign_in: Callable[[], _Signed]) -> _Signed:
        key = (stack, subject)
        signed = self._signed.get(key)
        if signed is not None and signed.expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return signed
        if signed is not None and signed.refresh_token:
            renewed = self._post(stack, "/refresh", {"refresh_token": signed.refresh_token})
            if renewed.status_code == 200:
                self._signed[key] = _tokens(renewed.json())
                return self._signed[key]
        self._signed[key] = sign_in()
        return self._signed[key]

    def _staff_sign_in(self, stack: str, staff_id: str, role: Role) -> _Signed:
        if (stack, staff_id) not in self._passwords:
            self._enrol(stack, staff_id, role)
        answer = self._post(stack, "/sign-in", {"username": staff_id,
                                                "password": self._passwords[stack, staff_id]})
        if answer.status_code != 200:
            raise SignInFailed(f"{staff_id} at {stack}: {answer.status_code} {answer.text}")
        return _tokens(answer.json())

    def _enrol(self, stack: str, staff_id: str, role: Role) -> None:
        """The account of a person the demo has not met yet: the stack's first manager (or
        operator) at the console, everyone else by that first manager over HTTP."""
        password = secrets.token_urlsafe(18)
        first = "MGR-1" if stack != "HQ" else "ops-sim"
        first_role = Role.DEALER_MANAGER if stack != "HQ" else Role.OPERATOR
        if (stack, first) not in self._passwords:
            first_password = password if staff_id == first else secrets.token_urlsafe(18)
            self._console(stack, first, first_role, first_password)
            self._passwords[stack, first] = first_password
        if staff_id != first:
            manager = self.headers(first_role, first, None if stack == "HQ" else stack)
            body: dict[str, Any] = {"username": staff_id, "staff_id": staff_id,
                                    "password": password, "role": role.value}
            if role in DEALER_STAFF and stack == "HQ":
                raise SignInFailed(f"{staff_id}: dealer staff sign in at their own site")
            answer = self._http.post(f"{self._identities[stack]}/users", json=body,
                                     headers=manager, timeout=30)
            if answer.status_code != 201:
                raise SignInFailed(f"adding {staff_id} at {stack}: {answer.status_code} "
                                   f"{answer.text}")
            self._passwords[stack, staff_id] = password

    def _owner_sign_in(self, customer_id: str) -> _Signed:
        phone = self._phones.get(customer_id)
        if phone is None:
            raise SignInFailed(f"owner {customer_id}: the demo does not know their phone")
        already = _lines(self._sms)
        sent = self._post("HQ", "/owner/codes", {"phone": phone})
        for _ in range(3):  # the text could not go out (503): the owner taps "send again"
            if sent.status_code != 503:
                break
            time.sleep(1.0)
            sent = self._post("HQ", "/owner/codes", {"phone": phone})
        if sent.status_code != 202:
            raise SignInFailed(f"a code for {customer_id}: {sent.status_code} {sent.text}")
        code = self._read_code(phone, after=already)
        answer = self._post("HQ", "/owner/sign-in", {"phone": phone, "code": code})
        if answer.status_code != 200:
            raise SignInFailed(f"owner {customer_id}: {answer.status_code} {answer.text}")
        return _tokens(answer.json())

    def _read_code(self, phone: str, *, after: int, timeout: float = 15.0) -> str:
        """The code in the newest text to `phone`, as the owner reads it off their phone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in reversed(self._sms.read_text(encoding="utf-8").splitlines()[after:]
                                 if self._sms.exists() else []):
                message = json.loads(line)
                found = CODE.search(message.get("body") or "")
                if message.get("to") == phone and found:
                    return found.group(1)
            time.sleep(0.05)
        raise SignInFailed(f"no sign-in code reached {phone} within {timeout:.0f}s")

    def _post(self, stack: str, path: str, body: dict[str, Any]) -> requests.Response:
        return self._http.post(f"{self._identities[stack]}{path}", json=body, timeout=30)


def _tokens(answer: dict[str, Any]) -> _Signed:
    return _Signed(answer["access_token"], answer.get("refresh_token"),
                   time.time() + float(answer["expires_in"]))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
