"""Signing keys rotate under the operator's command while booking keeps verifying: a token
signed with the previous key still verifies during the rotation, the next key was published
before it signed anything, and once the previous key is retired its tokens verify nowhere."""

from __future__ import annotations

import jwt
import pytest
import requests

from booking.service import BookingService
from chassis.auth import TokenVerifier
from chassis.errors import Unauthorized
from chassis.registry import SITE
from chassis.testing import make_settings, service_database, test_trust
from identity.commands import create_user, retire_keys, rotate_keys
from services.identity.tests.integration.identity_stack import (
    PASSWORD,
    RunningIdentity,
    bearer,
    own_trust,
)


def kid_of(tokens: dict) -> str:
    return jwt.get_unverified_header(tokens["access_token"])["kid"]


def published(identity: RunningIdentity) -> list[str]:
    return [k["kid"] for k in identity.call("GET", "/.well-known/jwks.json").json()["keys"]]


@pytest.fixture
def config(site_identity: RunningIdentity, tmp_path):
    path = site_identity.config_file(tmp_path)
    assert create_user(["--config", str(path), "--username", "li.na", "--role", "advisor"],
                       read_password=lambda: PASSWORD) == 0
    return str(path)


def test_a_rotation_keeps_every_token_verifying_until_retirement(site_identity, config,
                                                                 database, amqp_uri, services):
    trusted = own_trust(site_identity.url, at_headquarters=False, dealer_code="D001")
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri,
                             trust=(trusted, *test_trust(SITE, "D001")))
    services(BookingService, settings)
    booking = f"http://127.0.0.1:{settings.http_port}"

    def accepted(tokens: dict) -> bool:
        return requests.get(f"{booking}/calendar", headers=bearer(tokens),
                            timeout=10).status_code == 200

    before = site_identity.tokens("li.na")
    first_kid = kid_of(before)
    assert accepted(before)  # booking has fetched the keys: the current and the next
    current, upcoming = published(site_identity)
    assert current == first_kid

    assert rotate_keys(["--config", config]) == 0
    after = site_identity.tokens("li.na")
    assert kid_of(after) == upcoming  # the key booking already holds: no refetch needed
    assert accepted(after) and accepted(before)  # the previous key still verifies
    assert published(site_identity)[0] == upcoming and first_kid in published(site_identity)

    assert retire_keys(["--config", config, "--all-previous"]) == 0
    assert first_kid not in published(site_identity)
    fresh = TokenVerifier([trusted])  # a service that reads the keys now
    with pytest.raises(Unauthorized, match="does not publish"):
        fresh.verify(before["access_token"])
    assert fresh.verify(after["access_token"]).role == "advisor"
    retired = site_identity.rows("SELECT private_key_sealed, retired_at FROM signing_keys "
                                 "WHERE kid = :kid", kid=first_kid)
    assert retired[0][0] is None and retired[0][1] is not None  # its private half is gone
    kinds = [r[0] for r in site_identity.rows("SELECT action FROM audit_log ORDER BY id")]
    assert {"KEY_CREATED", "KEY_ROTATED", "KEY_RETIRED"} <= set(kinds)


def test_outside_development_the_command_needs_the_stacks_key_encryption_key(site_identity,
                                                                           config, tmp_path):
    site_identity.tokens("li.na")  # the first key exists, sealed with the stack's key
    text = open(config, encoding="utf-8").read().replace(
        "environment: development", "environment: production")
    production = tmp_path / "production.yaml"
    production.write_text(text, encoding="utf-8")
    assert rotate_keys(["--config", str(production)]) == 2  # no key_encryption_key given
