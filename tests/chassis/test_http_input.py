"""What every HTTP entrypoint refuses before a service sees it."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from chassis.errors import InvalidInput, MalformedRequest
from chassis.http import load_json, load_query


class Note(Schema):
    text = fields.String(required=True)
    tags = fields.List(fields.String())


def request(body: str = "", query: str = "") -> Request:
    return Request(EnvironBuilder(method="POST", data=body, query_string=query,
                                  content_type="application/json").get_environ())


@pytest.mark.parametrize("body, field", [
    ('{"text": "brake\\u0000pads"}', "text"),
    ('{"text": "ok", "tags": ["a", "b\\u0000"]}', "tags.1"),
])
def test_the_nul_character_is_refused_naming_the_field(body, field):
    # PostgreSQL cannot store it in text; found by fuzzing as a 500.
    with pytest.raises(InvalidInput) as refused:
        load_json(request(body), Note())
    assert refused.value.detail["fields"] == {field: ["must not contain the NUL character"]}


def test_the_nul_character_is_refused_in_the_query_string():
    with pytest.raises(InvalidInput):
        load_query(request(query="text=a%00b"), Note())


@pytest.mark.parametrize("body", ["", "[]", "not json", '"text"'])
def test_a_body_that_is_not_a_json_object_is_malformed(body):
    with pytest.raises(MalformedRequest):
        load_json(request(body), Note())


def test_an_optional_body_may_be_empty():
    assert load_json(request(""), Schema(), optional=True) == {}

