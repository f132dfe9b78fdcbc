"""Kept for callers outside crm that sign survey links (the simulator's traffic): the rule
lives in `crm.domain.surveys`."""

from crm.domain.surveys import link_token, survey_of_token

__all__ = ["link_token", "survey_of_token"]
