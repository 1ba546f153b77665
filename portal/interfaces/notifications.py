"""Emails about requests, each in its recipient's language. A failure to send is logged and never undoes or blocks
a decision."""

from collections import defaultdict
from collections.abc import Callable

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from portal.approvals.selectors import deciders_for
from portal.core.mail import send_notification
from portal.identity.services import in_language_of, language_of

from .models import InterfaceRequest


def _link(request_id: int) -> str:
    return settings.CONFIG.portal_base_url.rstrip("/") + reverse("request_detail", args=[request_id])


def notify_approvers(*, request_id: int, once_key: str = "") -> None:
    """Tell the people who can decide the request's current step that it waits for them (one mail per language)."""

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    by_language: dict[str, list[str]] = defaultdict(list)
    for user in deciders_for(request):
        by_language[language_of(user.pk)].append(user.email)
    for language, recipients in by_language.items():
        with translation.override(language):
            step = (
                _(" (step %(n)d of %(of)d)") % {"n": request.current_step + 1, "of": len(request.approval_steps)}
                if len(request.approval_steps) > 1
                else ""
            )
            subject = _("Approval needed%(step)s: interface for %(server)s (request %(pk)s)") % {
                "step": step,
                "server": request.server_name,
                "pk": request.pk,
            }
            body = _("%(user)s asks to %(what)s.\nJustification: %(justification)s\n\nReview it: %(link)s\n") % {
                "user": request.requester.get_username(),
                "what": _what(request),
                "justification": request.justification,
                "link": _link(request.pk),
            }
            send_notification(subject, body, recipients, request_id=request.pk, once_key=once_key)


def _what(request: InterfaceRequest) -> str:
    return request.operation.describe(request)


def _tell_requester(
    request_id: int, compose: Callable[[InterfaceRequest], tuple[str, str]], once_key: str = ""
) -> None:
    """Mail the requester in their language; `compose` gives the subject's end and what follows "Your request …"."""
    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    with in_language_of(request.requester_id):
        subject, text = compose(request)
        send_notification(
            _("Request %(pk)s%(subject)s") % {"pk": request.pk, "subject": subject},
            _("Your request to %(what)s %(text)s\n\n%(link)s\n")
            % {"what": _what(request), "text": text, "link": _link(request.pk)},
            [request.requester.email],
            request_id=request.pk,
            once_key=once_key,
        )


def _comment(request) -> str:
    return _("\nComment: %(comment)s") % {"comment": request.decision_comment} if request.decision_comment else ""


def notify_requester(*, request_id: int, about: str, once_key: str = "") -> None:
    """Tell the requester what became of their request: `about` is approved, auto, rejected, expired or result."""
    _tell_requester(request_id, _REQUESTER_MAILS[about], once_key)


def _result(request: InterfaceRequest) -> tuple[str, str]:
    text = _("ended: %(status)s.\n%(reason)s") % {
        "status": request.get_status_display(),
        "reason": request.status_reason,
    }
    return ": " + str(request.get_status_display()).lower(), text


_REQUESTER_MAILS: dict[str, Callable[[InterfaceRequest], tuple[str, str]]] = {
    "approved": lambda r: (_(" approved"), _("was approved.") + _comment(r)),
    "auto": lambda r: (
        _(" approved"),
        _("was approved automatically by the policy %(policy)s; the portal carries it out now.")
        % {"policy": r.policy_name},
    ),
    "rejected": lambda r: (_(" rejected"), _("was rejected.") + _comment(r)),
    "expired": lambda r: (
        _(" expired"),
        _("expired: nobody decided it in time. Submit it again if it is still needed."),
    ),
    "result": _result,
}
