"""An issuer's keys over HTTP: fetched from its JWKS, kept when the issuer cannot be reached,
looked up again for a key id not seen yet (a rotation), and no more often than allowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from chassis.auth import IssuerKeys, SigningKey, TokenVerifier, issue_token, jwks_of
from chassis.errors import Unauthorized
from chassis.identity import SITE_SCOPE, TrustedIssuer

ISSUER = "https://id.d001.example"


class JwksServer:
    """A stand-in issuer publishing whatever keys the test gives it, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.fetches = 0
        self.down = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                owner.fetches += 1
                if owner.down:
                    self.send_error(503)
                    return
                body = json.dumps(jwks_of(owner.keys)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.stop()


def verifier_of(server: JwksServer, **timing: float) -> TokenVerifier:
    verifier = TokenVerifier([TrustedIssuer(ISSUER, SITE_SCOPE, "D001", jwks_url=server.url)])
    verifier.issuers[ISSUER] = IssuerKeys(verifier.issuers[ISSUER].trusted, **timing)
    return verifier


def advisor_token(key: SigningKey, subject: str = "SA-017") -> str:
    return issue_token(key, issuer=ISSUER, subject=subject, role="advisor", dealer_code="D001")


def test_keys_fetched_once_verify_tokens_with_the_issuer_unreachable(issuer):
    key = SigningKey.generate()
    issuer.keys = [key]
    verifier = verifier_of(issuer, refresh_seconds=0.0, refetch_seconds=0.0)
    assert verifier.verify(advisor_token(key, "SA-1")).subject == "SA-1"
    issuer.down = True  # the WAN is cut, or the identity service restarts
    assert verifier.verify(advisor_token(key, "SA-2")).subject == "SA-2"
    issuer.stop()
    assert verifier.verify(advisor_token(key, "SA-3")).subject == "SA-3"


def test_a_rotated_key_is_fetched_and_the_previous_one_still_verifies(issuer):
    old, new = SigningKey.generate(), SigningKey.generate()
    issuer.keys = [old]
    verifier = verifier_of(issuer, refetch_seconds=0.0)
    verifier.verify(advisor_token(old, "SA-1"))
    issuer.keys = [new, old]  # rotation: the new key signs, the old one is still published
    assert verifier.verify(advisor_token(new, "SA-2")).subject == "SA-2"
    assert verifier.verify(advisor_token(old, "SA-3")).subject == "SA-3"


def test_a_retired_key_no_longer_verifies_once_the_issuer_dropped_it(issuer):
    old, new = SigningKey.generate(), SigningKey.generate()
    issuer.keys = [new, old]
    verifier = verifier_of(issuer, refresh_seconds=0.0, refetch_seconds=0.0)
    verifier.verify(advisor_token(old, "SA-1"))
    issuer.keys = [new]
    with pytest.raises(Unauthorized, match="does not publish"):
        verifier.verify(advisor_token(old, "SA-2"))


def test_made_up_key_ids_do_not_flood_the_issuer_with_requests(issuer):
    issuer.keys = [SigningKey.generate()]
    verifier = verifier_of(issuer, refetch_seconds=60.0)
    for _ in range(20):
        with pytest.raises(Unauthorized):
            verifier.verify(advisor_token(SigningKey.generate()))
    assert issuer.fetches == 1
