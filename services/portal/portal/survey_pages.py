"""Headquarters' pages for owners: the follow-up survey and the unsubscribe page.

Both open from a link in a message notify sent, and the link's token is the owner's only
authority (no sign-in): crm signs the survey's, notify the unsubscribe one. The portal passes
the token on and shows what the service answered. A GET never changes anything (mail
scanners and link previews open links): the survey is answered and the unsubscribing done
only by the form the owner submits.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from chassis.http import PUBLIC, http
from portal.backends import ServiceRefused
from portal.domain.survey import Questions, closed_reason, questions_of, read_answer
from portal.pages import language_of, redirect, translate
from portal.web import PageGroup, form, page


def _token(token: str) -> str:
    """The link's token as a path segment of the service's URL (never a '/', '?' or '#' of
    its own)."""
    return quote(token, safe="")


class SurveyPages(PageGroup):

    # -- the follow-up survey (回访), crm's ---------------------------------------------------

    @http("GET", "/surveys/<string:token>", roles=PUBLIC, statuses=(404,),
          summary="The follow-up survey the owner's message links to (score, comment)")
    @page
    def survey_page(self, request: Request, token: str) -> Response:
        survey, closed = self._open_survey(request, token, answered_status=200)
        if closed is not None:
            return closed
        return self._survey_form(request, token, survey, questions_of(survey))

    @http("POST", "/surveys/<string:token>", roles=PUBLIC, statuses=(404, 409, 422),
          summary="The owner answers the survey: sent to crm, then the thank-you page")
    @page
    def answer_survey(self, request: Request, token: str) -> Response:
        values = form(request)
        survey, closed = self._open_survey(request, token, answered_status=409)
        if closed is not None:
            return closed
        questions = questions_of(survey)
        answer = read_answer(values, questions)
        if answer.body is None:
            return self._survey_form(request, token, survey, questions, status=422,
                                     values=values, problems=answer.problems)
        try:
            answered = self.portal.backends.crm.post(f"/surveys/{_token(token)}", answer.body)
        except ServiceRefused as exc:
            if exc.status in (404, 409):  # answered meanwhile (another tab), or unknown
                return self._survey_closed(request, exc.status, detail=exc.message)
            if exc.status == 422:  # crm's own check of the answer: show what it named
                return self._survey_form(request, token, survey, questions, status=422,
                                         values=values, refused=exc)
            raise
        # A low score opens a complaint at crm: the page says the dealer will call back.
        follow_up = "?call_back=1" if answered.get("complaint_id") else ""
        return redirect(f"/surveys/{_token(token)}/thanks{follow_up}")

    @http("GET", "/surveys/<string:token>/thanks", roles=PUBLIC, statuses=(404,),
          summary="Thank you for answering the survey")
    @page
    def survey_thanks(self, request: Request, token: str) -> Response:
        survey, closed = self._open_survey(request, token, answered_status=None)
        if closed is not None:
            return closed
        if not survey.get("answered_at"):  # not answered yet: the survey itself
            return redirect(f"/surveys/{_token(token)}")
        return self.render(request, "survey_thanks.html",
                           call_back=request.args.get("call_back") == "1")

    def _open_survey(self, request: Request, token: str, *, answered_status: int | None
                     ) -> tuple[dict[str, Any], Response | None]:
        """crm's survey for the link, or the page saying why it takes no answer: crm does not
        know the link (its reason shown), or (with `answered_status`) it was answered."""
        try:
            survey = self.portal.backends.crm.get(f"/surveys/{_token(token)}")
        except ServiceRefused as exc:
            if exc.status != 404:
                raise
            return {}, self._survey_closed(request, 404, detail=exc.message)
        if answered_status is not None and survey.get("answered_at"):
            return survey, self._survey_closed(request, answered_status, answered=True)
        return survey, None

    def _survey_form(self, request: Request, token: str, survey: dict[str, Any],
                     questions: Questions, *, status: int = 200,
                     values: dict[str, str] | None = None,
                     problems: dict[str, str] | None = None,
                     refused: ServiceRefused | None = None) -> Response:
        values = values or {}
        chosen = values.get("score", "")
        score = questions.score_of(chosen)
        lang = language_of(request)
        # survey.js: the low-score prompt and the comment's count (the form works without).
        config = {"lowScore": questions.low_score,
                  "count": translate(lang, "survey.comment_count", count="{count}",
                                     max=questions.comment_max)}
        return self.render(request, "survey.html", status=status, survey=survey,
                           action=f"/surveys/{_token(token)}", questions=questions,
                           chosen=chosen, comment=values.get("comment", ""),
                           low_chosen=score is not None and questions.band(score) == "low",
                           problems=problems or {},
                           refused_fields=refused.fields if refused else {}, config=config)

    def _survey_closed(self, request: Request, status: int, *, answered: bool = False,
                detail: str = "") -> Response:
        return self.render(request, "survey_closed.html", status=status,
                           reason=closed_reason(status, answered), detail=detail)

    # -- unsubscribing from marketing (退订), notify's ----------------------------------------

    @http("GET", "/unsubscribe/<string:token>", roles=PUBLIC,
          summary="Asks the owner to confirm unsubscribing (opening the link changes nothing)")
    @page
    def unsubscribe_page(self, request: Request, token: str) -> Response:
        return self.render(request, "unsubscribe.html", action=f"/unsubscribe/{_token(token)}",
                           invalid=None)

    @http("POST", "/unsubscribe/<string:token>", roles=PUBLIC, statuses=(404,),
          summary="The owner confirms: notify unsubscribes them from marketing messages")
    @page
    def unsubscribe(self, request: Request, token: str) -> Response:
        try:
            self.portal.backends.notify.post(f"/unsubscribe/{_token(token)}")
        except ServiceRefused as exc:
            if exc.status != 404:
                raise
            return self.render(request, "unsubscribe.html", status=404, action="",
                               invalid=exc.message)
        return redirect(f"/unsubscribe/{_token(token)}/done")

    @http("GET", "/unsubscribe/<string:token>/done", roles=PUBLIC,
          summary="Unsubscribed: what still comes, and how to subscribe again")
    @page
    def unsubscribed(self, request: Request, token: str) -> Response:
        return self.render(request, "unsubscribe_done.html")
