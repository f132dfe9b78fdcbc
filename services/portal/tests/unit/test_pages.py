"""What every page carries: the words of both languages, the visitor's language, the
Content-Security-Policy, where a sign-in may send the visitor on, and forms from elsewhere."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portal.pages import LANGUAGES, catalogue, content_security_policy, language_of, money
from portal.web import refused_from_another_origin, safe_next


def request(path: str = "/", headers: dict | None = None, cookies: str = "",
            method: str = "GET") -> Request:
    builder = EnvironBuilder(path=path, method=method,
                             headers={**(headers or {}), **({"Cookie": cookies} if cookies
                                                            else {})})
    return Request(builder.get_environ())


def test_every_word_is_in_both_languages_and_none_is_empty():
    words = catalogue()
    assert set(words) == set(LANGUAGES)
    assert set(words["zh-CN"]) == set(words["en"])
    assert all(text.strip() for lang in LANGUAGES for text in words[lang].values())


@pytest.mark.parametrize(("path", "cookies", "expected"), [
    ("/", "", "zh-CN"), ("/?lang=en", "", "en"), ("/", "lang=en", "en"),
    ("/?lang=zh-CN", "lang=en", "zh-CN"), ("/?lang=fr", "", "zh-CN"), ("/", "lang=xx", "zh-CN"),
])
def test_zh_cn_unless_the_visitor_chose_english(path, cookies, expected):
    assert language_of(request(path, cookies=cookies)) == expected


def test_the_policy_allows_the_portal_itself_and_only_the_payment_provider_for_forms():
    policy = content_security_policy("https://pay.example.cn")
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "form-action 'self' https://pay.example.cn" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "form-action 'self';" in content_security_policy("")


@pytest.mark.parametrize(("given", "expected"), [
    ("/book", "/book"), ("/repair-orders/RO-1?x=1", "/repair-orders/RO-1?x=1"),
    (None, "/"), ("", "/"), ("https://evil.example/", "/"), ("//evil.example/", "/"),
    ("/\\evil.example", "/"), ("book", "/"),
])
def test_after_signing_in_the_visitor_goes_only_to_a_page_of_the_portal(given, expected):
    assert safe_next(given) == expected


@pytest.mark.parametrize(("origin", "refused"), [
    (None, False), ("https://d001.example.cn", False), ("https://evil.example", True),
    ("null", True), ("http://d001.example.cn", True),
])
def test_a_form_posted_from_another_origin_is_refused(origin, refused):
    headers = {"Origin": origin} if origin else {}
    assert refused_from_another_origin(request("/book", headers, method="POST"),
                                       "https://d001.example.cn") is refused


def test_money_is_shown_in_yuan_with_two_decimals():
    assert money("1234.5") == "¥1,234.50" and money("n/a") == "n/a"
