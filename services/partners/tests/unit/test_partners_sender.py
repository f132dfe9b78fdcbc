"""The sender refuses, after DNS resolution, a name that resolves to an address that is not
public, before any connection is made (this tier refuses sockets: none is opened)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from partners.domain import Job
from partners.sender import deliver, signature_header
from partners.settings import PartnersSettings

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _job(url: str) -> Job:
    return Job(1, 1, "e-1", "p-1", url, "msg-1", b'{"id":"msg-1"}', (SECRET,),
               datetime.now(UTC))


@pytest.mark.parametrize("resolved", [["10.0.0.8"], ["127.0.0.1"], ["169.254.169.254"],
                                      ["8.8.8.8", "192.168.1.1"], ["::ffff:10.1.1.1"],
                                      ["fd00:ec2::254"], []])
def test_a_name_resolving_to_a_non_public_address_is_refused_before_connecting(resolved):
    result = deliver(_job("https://hooks.partner.example.com/in"), PartnersSettings(),
                     resolver=lambda host, port: resolved)
    assert result.status_code is None and result.error.startswith("refused:")


def test_an_http_url_is_refused_at_send_time_too():
    result = deliver(_job("http://hooks.partner.example.com/in"), PartnersSettings(),
                     resolver=lambda host, port: ["8.8.8.8"])
    assert result.error == "must be an https:// URL"


def test_several_secrets_sign_side_by_side():
    from standardwebhooks.webhooks import Webhook

    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3"
    header = signature_header([SECRET, other], "msg-1", 1767225600, b"{}")
    assert len(header.split(" ")) == 2
    for secret, signature in zip((SECRET, other), header.split(" "), strict=True):
        expected = Webhook(secret).sign("msg-1", datetime.fromtimestamp(1767225600, UTC), b"{}")
        assert signature == expected
