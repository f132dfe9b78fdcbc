"""Follow-up (回访): when the survey is due, the signed link that answers it, and when an
answer opens a complaint. Plain Python."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from crm.domain.times import aware

DEFAULT_DELAY_HOURS = 24          # 24 hours after delivery; 72 (3 days) is the other practice
LOW_SCORE = 6                     # 0-6 are detractors on the NPS scale: someone calls back
COMPLAINT_DUE_DAYS = 2            # the owner answers a complaint within two days
SIGNATURE_CHARS = 32
# What the survey asks: how likely the owner is to recommend the dealer (NPS, 0-10), and an
# optional comment in their own words.
SCORE_MIN, SCORE_MAX = 0, 10
COMMENT_MAX_CHARS = 1000
QUESTIONS = {"score": {"kind": "NPS", "min": SCORE_MIN, "max": SCORE_MAX, "required": True,
                       "low_score": LOW_SCORE},
             "comment": {"kind": "TEXT", "max_length": COMMENT_MAX_CHARS, "required": False}}


def survey_id_for(dealer_code: str, repair_order_id: str) -> str:
    """One survey per repair order; the id is derived so a redelivered delivery finds it."""
    return "SVY-" + uuid.uuid5(uuid.NAMESPACE_URL,
                               f"crm:survey:{dealer_code}:{repair_order_id}").hex[:24]


def due_at(delivered_at: datetime, delay_hours: int = DEFAULT_DELAY_HOURS) -> datetime:
    return delivered_at + timedelta(hours=delay_hours)


def _signature(secret: str, survey_id: str) -> str:
    digest = hmac.new(secret.encode(), f"survey:{survey_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:SIGNATURE_CHARS]


def link_token(secret: str, survey_id: str) -> str:
    """The capability in the survey link: the survey id and its signature."""
    return f"{survey_id}~{_signature(secret, survey_id)}"


def survey_of_token(secret: str, token: str) -> str | None:
    """The survey a token opens, or None when it was not signed by us."""
    survey_id, sep, signature = token.rpartition("~")
    if not sep or not survey_id:
        return None
    if not hmac.compare_digest(signature, _signature(secret, survey_id)):
        return None
    return survey_id


@dataclass(frozen=True)
class ComplaintPlan:
    complaint_id: str
    owner: str
    due_on: date


def complaint_for(survey_id: str, dealer_code: str, score: int, answered_on: date
                  ) -> ComplaintPlan | None:
    """A low score opens a complaint, owned by the dealer's service manager until reassigned."""
    if score > LOW_SCORE:
        return None
    return ComplaintPlan(complaint_id="CMP-" + survey_id.removeprefix("SVY-"),
                         owner=f"service-manager@{dealer_code}",
                         due_on=answered_on + timedelta(days=COMPLAINT_DUE_DAYS))


def requested_data(survey: Any, secret: str, requested_at: datetime) -> dict[str, Any]:
    """SurveyRequested's data for a due survey (as stored, times in UTC): the link's token
    goes to notify, which sends it."""
    data = {"survey_id": survey.id, "repair_order_id": survey.repair_order_id,
            "customer_id": survey.customer_id, "dealer_code": survey.dealer_code,
            "delivered_at": aware(survey.delivered_at).isoformat(),
            "link_token": link_token(secret, survey.id),
            "requested_at": requested_at.isoformat()}
    if survey.vin:
        data["vin"] = survey.vin
    return data


def answered_data(survey: Any, answer: dict[str, Any], answered_at: datetime
                  ) -> dict[str, Any]:
    """SurveyAnswered's data: the score, the channel it came through, the comment if any."""
    data = {"survey_id": survey.id, "repair_order_id": survey.repair_order_id,
            "customer_id": survey.customer_id, "score": answer["score"],
            "channel": answer["channel"], "answered_at": answered_at.isoformat()}
    if answer.get("comment"):
        data["comment"] = answer["comment"]
    return data
