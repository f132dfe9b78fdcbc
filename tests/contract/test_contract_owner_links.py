"""The owner's links in events (QuoteIssued.quote_url, InspectionUploaded.report_url): https,
or plain http on the machine's own loopback (a demo or test machine's portal), and nothing
else; a widening the released schemas accept, by the package and the JSON Schema alike."""

from __future__ import annotations

import copy

import pytest

from contracts import ContractViolation, events, validate_event
from contracts.compat import breaking_changes
from contracts.vocabulary import HTTPS_URL, LOOPBACK_HTTP_URL, is_owner_link

LINKS = [(events.QuoteIssued, "quote_url"), (events.InspectionUploaded, "report_url")]
IDS = [contract.name for contract, _ in LINKS]

ACCEPTED = [
    "https://owners.d001.example.cn/quote-links/abc.def.ghi",
    "http://127.0.0.1:8109/quote-links/abc.def.ghi",
    "http://127.0.0.1/inspections/INS-RO-1-1",
    "http://localhost:8000/quote-links/abc",
]
REFUSED = [
    "http://owners.d001.example.cn/quote-links/abc",   # plain http to another host
    "http://127.0.0.1.evil.example/quote-links/abc",   # loopback only as the whole host
    "http://localhost.evil.example/x",
    "http://127.0.0.1@evil.example/x",                 # userinfo naming loopback
    "http://127.0.0.1:80@evil.example/x",
    "http://127.0.0.1:8000",                           # no path: not a page's link
    "http://10.0.0.7:8000/quote-links/abc",
    "ftp://127.0.0.1/x",
    "https://owners.example.cn/a b",                   # a space
    "https://owners.example.cn/" + "x" * 490,          # over 512 characters
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_and_loopback_http_are_owner_links(url):
    assert is_owner_link(url)


@pytest.mark.parametrize("url", REFUSED)
def test_anything_else_is_not(url):
    assert not is_owner_link(url)


@pytest.mark.parametrize(("contract", "name"), LINKS, ids=IDS)
@pytest.mark.parametrize("url", ACCEPTED)
def test_events_carry_such_links(contract, name, url, example_of, validator_of):
    envelope = example_of(contract)
    envelope["data"][name] = url
    validate_event(envelope)
    assert list(validator_of(contract).iter_errors(envelope)) == []


@pytest.mark.parametrize(("contract", "name"), LINKS, ids=IDS)
@pytest.mark.parametrize("url", REFUSED)
def test_events_refuse_other_links(contract, name, url, example_of, validator_of):
    envelope = example_of(contract)
    envelope["data"][name] = url
    with pytest.raises(ContractViolation) as refused:
        validate_event(envelope)
    assert f"data.{name}" in refused.value.errors
    assert list(validator_of(contract).iter_errors(envelope)) != []


# -- contracts.compat: a pattern widened into alternatives -------------------------------------

OLD = {"type": "object", "properties": {
    "url": {"type": "string", "maxLength": 512, "format": "uri", "pattern": HTTPS_URL}}}


def widened(*patterns: str) -> dict:
    new = copy.deepcopy(OLD)
    del new["properties"]["url"]["pattern"]
    new["properties"]["url"]["anyOf"] = [{"pattern": p} for p in patterns]
    return new


def test_a_pattern_replaced_by_alternatives_that_keep_it_is_compatible():
    assert breaking_changes(OLD, widened(HTTPS_URL, LOOPBACK_HTTP_URL)) == []


def test_alternatives_without_the_old_pattern_break():
    assert breaking_changes(OLD, widened(r"^https://[a-z.]+/[!-~]*$", LOOPBACK_HTTP_URL)) == [
        "url: anyOf alternatives no longer accept every value accepted before"]


def test_a_pattern_kept_beside_the_alternatives_is_compared_as_before():
    new = widened(HTTPS_URL, LOOPBACK_HTTP_URL)
    new["properties"]["url"]["pattern"] = r"^https?://[!-~]+$"
    assert breaking_changes(OLD, new) != []
