"""What the survey page asks and sends: crm's questions, the form read as crm's answer body,
and why a link takes no answer."""

from __future__ import annotations

import pytest

from portal.domain.survey import Questions, closed_reason, questions_of, read_answer
from portal.pages import catalogue

CRM = {"questions": {"score": {"kind": "NPS", "min": 0, "max": 10, "required": True,
                               "low_score": 6},
                     "comment": {"kind": "TEXT", "max_length": 1000, "required": False}}}


def test_the_questions_are_crms_and_default_to_what_it_asks_today():
    asked = questions_of(CRM)
    assert asked == Questions(0, 10, 6, 1000)
    assert asked.scores == list(range(11))
    assert questions_of({}) == asked
    shorter = questions_of({"questions": {"score": {"min": 1, "max": 5, "low_score": 2},
                                          "comment": {"max_length": 200}}})
    assert (shorter.scores, shorter.comment_max) == ([1, 2, 3, 4, 5], 200)
    # A value of the wrong type is not trusted (True is an int to Python).
    assert questions_of({"questions": {"score": {"max": True, "min": "0"}}}) == asked


@pytest.mark.parametrize(("score", "band"), [(0, "low"), (6, "low"), (7, "middle"),
                                             (8, "middle"), (9, "high"), (10, "high")])
def test_scores_read_as_on_the_nps_scale(score, band):
    assert questions_of(CRM).band(score) == band


def test_a_good_form_is_crms_answer_body_and_an_empty_comment_is_none():
    asked = questions_of(CRM)
    assert read_answer({"score": "9", "comment": "  很好 "}, asked).body == {
        "score": 9, "channel": "WEB", "comment": "很好"}
    assert read_answer({"score": "0", "comment": "   "}, asked).body == {
        "score": 0, "channel": "WEB"}


@pytest.mark.parametrize(("values", "problems"), [
    ({}, {"score": "survey.score_missing"}),
    ({"score": ""}, {"score": "survey.score_missing"}),
    ({"score": "11"}, {"score": "survey.score_invalid"}),
    ({"score": "-1"}, {"score": "survey.score_invalid"}),
    ({"score": "7.5"}, {"score": "survey.score_invalid"}),
    ({"score": "٣"}, {"score": "survey.score_invalid"}),  # a digit, but not 0-9
    ({"score": "8", "comment": "x" * 1001}, {"comment": "survey.comment_too_long"}),
    ({"comment": "x" * 1001}, {"score": "survey.score_missing",
                               "comment": "survey.comment_too_long"}),
])
def test_a_bad_form_names_each_field_to_fix_and_sends_nothing(values, problems):
    answer = read_answer(values, questions_of(CRM))
    assert (answer.body, answer.problems) == (None, problems)
    assert all(key in catalogue()["zh-CN"] for key in problems.values())


@pytest.mark.parametrize(("status", "answered", "reason"), [
    (404, False, "survey.closed_invalid"), (409, False, "survey.closed_answered"),
    (200, True, "survey.closed_answered"), (503, False, "survey.closed_other"),
])
def test_why_a_link_takes_no_answer(status, answered, reason):
    assert closed_reason(status, answered) == reason
    assert f"{reason}_body" in catalogue()["en"]
