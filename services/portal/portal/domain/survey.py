"""What headquarters' survey and unsubscribe pages show and send. Plain Python.

The survey's questions are crm's (its `GET /surveys/<token>` names them: the NPS score's
scale, the comment's length); the page asks exactly those, so an answer the form accepts is
one crm accepts. The checks here only let the page point at the field to fix before asking
crm, which checks again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What crm asks today, in case its answer names no questions (an older crm).
DEFAULT_MIN, DEFAULT_MAX, DEFAULT_LOW, DEFAULT_COMMENT_MAX = 0, 10, 6, 1000
# The answer came through the owner's browser.
CHANNEL = "WEB"


@dataclass(frozen=True)
class Questions:
    """The score's scale (low_score and under: a detractor, whom the dealer calls back) and the
    longest comment crm keeps."""

    score_min: int = DEFAULT_MIN
    score_max: int = DEFAULT_MAX
    low_score: int = DEFAULT_LOW
    comment_max: int = DEFAULT_COMMENT_MAX

    @property
    def scores(self) -> list[int]:
        return list(range(self.score_min, self.score_max + 1))

    def score_of(self, raw: str) -> int | None:
        """The score a form field says, if it is one of the scale's (ASCII digits only:
        int() would take other scripts' digits too)."""
        text = raw.strip()
        if not (text.isascii() and text.isdigit()):
            return None
        score = int(text)
        return score if self.score_min <= score <= self.score_max else None

    def band(self, score: int) -> str:
        """How a score reads on the NPS scale: low (detractor), middle (passive), high."""
        if score <= self.low_score:
            return "low"
        return "high" if score >= self.score_max - 1 else "middle"


def questions_of(survey: Mapping[str, Any]) -> Questions:
    """The questions in crm's answer, the defaults for what it does not name."""
    asked = survey.get("questions") or {}
    score, comment = asked.get("score") or {}, asked.get("comment") or {}
    return Questions(score_min=_int(score.get("min"), DEFAULT_MIN),
                     score_max=_int(score.get("max"), DEFAULT_MAX),
                     low_score=_int(score.get("low_score"), DEFAULT_LOW),
                     comment_max=_int(comment.get("max_length"), DEFAULT_COMMENT_MAX))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Answer:
    """crm's body for the answer when the form was good, else the fields to fix (each an
    i18n key)."""

    body: dict[str, Any] | None
    problems: dict[str, str]


def read_answer(values: Mapping[str, str], questions: Questions) -> Answer:
    """The posted form (score as text, comment) as crm's answer body."""
    problems: dict[str, str] = {}
    raw = (values.get("score") or "").strip()
    score = questions.score_of(raw)
    if not raw:
        problems["score"] = "survey.score_missing"
    elif score is None:
        problems["score"] = "survey.score_invalid"
    comment = (values.get("comment") or "").strip()
    if len(comment) > questions.comment_max:
        problems["comment"] = "survey.comment_too_long"
    if problems or score is None:
        return Answer(None, problems)
    body: dict[str, Any] = {"score": score, "channel": CHANNEL}
    if comment:  # crm takes no empty comment: none given is no comment
        body["comment"] = comment
    return Answer(body, {})


def closed_reason(status: int, answered: bool = False) -> str:
    """The i18n key of why a survey link no longer takes an answer: crm said it was answered
    (409, or its read says so), or it does not know the link (404: forged, mistyped)."""
    if answered or status == 409:
        return "survey.closed_answered"
    if status == 404:
        return "survey.closed_invalid"
    return "survey.closed_other"
