"""A real OpenID Connect provider for tests: panva/node-oidc-provider run by Node.js.

`oidc_provider` (a session fixture) installs the provider's npm packages when they are missing
(`npm ci` in tests/support/oidc_provider), starts `node server.js` on a free loopback port and
yields a `RunningOidcProvider`: its issuer, the one confidential client registered there, the
accounts that can sign in, and `login()`, which plays the person at the provider's sign-in and
consent pages with `requests` and returns the code and state the provider sends back. Nothing
listens at the redirect URI: `login()` stops at the redirect to it.

Use it from a conftest.py: `from tests.support.oidc_fixture import oidc_provider  # noqa: F401`.
Tests are skipped when `node` or `npm` is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
NPM_CI_TIMEOUT = 300.0
START_TIMEOUT = 30.0

CLIENT_ID = "hq-portal"
CLIENT_SECRET = "hq-portal-secret: with characters that need form-encoding &+%"
# Nothing listens here: the tests read the code off the provider's redirect.
REDIRECT_URI = "http://127.0.0.1:8004/oidc/callback"

# Who can sign in (account id -> claims). The role and dealer claims are granted with the
# `aftersales` scope; name and email with `profile` and `email`.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "advisor-d001": {"name": "李娜", "email": "li.na@d001.example", "email_verified": True,
                     "aftersales_role": "advisor", "aftersales_dealer": "D001"},
    "analyst-hq": {"name": "Oskar Berg", "email": "oskar.berg@hq.example",
                   "email_verified": True, "aftersales_role": "oem_analyst"},
    "no-role": {"name": "Visitor", "email": "visitor@hq.example"},
}


class OidcLoginError(AssertionError):
    """The provider did not send the browser back with a code."""


@dataclass
class RunningOidcProvider:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    accounts: dict[str, dict[str, Any]]
    log: Path  # the provider's stderr, for a failing test to read
    process: subprocess.Popen[bytes] = field(repr=False)

    def login(self, authorization_url: str, account_id: str) -> tuple[str, str]:
        """Sign `account_id` in at `authorization_url`, consent, return (code, state)."""
        params = self.callback(authorization_url, account_id)
        if "code" not in params:
            raise OidcLoginError(f"the provider sent no code back: {params}")
        return params["code"], params.get("state", "")

    def callback(self, authorization_url: str, account_id: str) -> dict[str, str]:
        """As `login`, but every parameter of the redirect to redirect_uri (iss, or error)."""
        browser = requests.Session()  # its own cookies: one person, one browser
        response = browser.get(authorization_url, allow_redirects=False, timeout=10)
        for _ in range(20):  # auth -> login -> auth -> consent -> auth -> callback, with slack
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(self.redirect_uri):
                    query = parse_qs(urlsplit(location).query)
                    return {key: values[0] for key, values in query.items()}
                response = browser.get(location, allow_redirects=False, timeout=10)
                continue
            if response.status_code != 200:
                raise OidcLoginError(f"{response.url} answered HTTP {response.status_code}: "
                                     f"{response.text[:500]}")
            form = _form(response.text)
            fields = dict(form.fields)
            if fields.get("prompt") == "login":
                # devInteractions: the login is the account id; any password will do.
                fields |= {"login": account_id, "password": "not checked"}
            elif fields.get("prompt") != "consent":
                raise OidcLoginError(f"{response.url} shows no sign-in or consent form: "
                                     f"{response.text[:500]}")
            response = browser.post(urljoin(response.url, form.action), data=fields,
                                    allow_redirects=False, timeout=10)
        raise OidcLoginError(f"no redirect to {self.redirect_uri} after 20 steps")


@contextlib.contextmanager
def running_oidc_provider(directory: Path, *, accounts: dict[str, dict[str, Any]] | None = None,
                          client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                          redirect_uri: str = REDIRECT_URI) -> Iterator[RunningOidcProvider]:
    """Install if needed, start the provider, yield it, stop it. Skips without Node.js."""
    install()
    accounts = ACCOUNTS if accounts is None else accounts
    directory.mkdir(parents=True, exist_ok=True)
    accounts_file = directory / "accounts.json"
    accounts_file.write_text(json.dumps(accounts), encoding="utf-8")
    stdout, log = directory / "stdout.log", directory / "stderr.log"
    with stdout.open("wb") as out, log.open("wb") as err:
        # Files, not pipes: nothing has to drain them, and the log stays for a failing test.
        # stdin stays open: --watch-stdin ends the provider if this process dies unkilled.
        process = subprocess.Popen(
            ["node", "server.js", "--port", "0", "--client-id", client_id,
             "--client-secret", client_secret, "--redirect-uri", redirect_uri,
             "--accounts", str(accounts_file), "--watch-stdin"],
            cwd=PROVIDER_DIR, stdin=subprocess.PIPE, stdout=out, stderr=err)
    try:
        issuer = _wait_for_ready(process, stdout, log)
        yield RunningOidcProvider(issuer=issuer, client_id=client_id,
                                  client_secret=client_secret, redirect_uri=redirect_uri,
                                  accounts=accounts, log=log, process=process)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOidcProvider]:
    """The provider with the default client and `ACCOUNTS`, for the whole test session."""
    with running_oidc_provider(tmp_path_factory.mktemp("oidc-provider")) as provider:
        yield provider


def install() -> None:
    """`npm ci` when node_modules is missing or holds another oidc-provider than the lock."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"the OpenID provider tests need Node.js: `{tool}` is not on PATH")
    # Another test run in the same tree may be installing too: one at a time.
    with (PROVIDER_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_matches_lock():
            return
        started = time.monotonic()
        try:
            result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR,
                                    capture_output=True, text=True, timeout=NPM_CI_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`npm ci` in {PROVIDER_DIR} took over {NPM_CI_TIMEOUT:.0f} s")
        if result.returncode != 0:
            pytest.fail(f"`npm ci` in {PROVIDER_DIR} failed ({result.returncode}):\n"
                        f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        print(f"oidc_fixture: npm ci took {time.monotonic() - started:.1f} s")


def _installed_matches_lock() -> bool:
    installed = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not installed.exists():
        return False
    lock = json.loads((PROVIDER_DIR / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"]["node_modules/oidc-provider"]["version"]
    return json.loads(installed.read_text(encoding="utf-8")).get("version") == wanted


def _wait_for_ready(process: subprocess.Popen[bytes], stdout: Path, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in stdout.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("READY "):
                return line.removeprefix("READY ").strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"the OpenID provider did not start (exit {process.returncode}):\n"
                       f"{log.read_text(encoding='utf-8', errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdin is not None:
        process.stdin.close()


@dataclass
class _Form:
    action: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    """The first <form> of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.form: _Form | None = None
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.form is None:
            self.form, self._inside = _Form(action=values.get("action", "")), True
        elif tag == "input" and self._inside and self.form is not None and "name" in values:
            self.form.fields.append((values["name"], values.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def _form(page: str) -> _Form:
    parser = _FormParser()
    parser.feed(page)
    if parser.form is None:
        raise OidcLoginError(f"the page has no form: {page[:500]}")
    return parser.form
