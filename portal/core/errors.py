from django.http import Http404
from django.utils.translation import gettext_lazy

# What a page says when it needed SCP and SCP did not answer.
SCP_DOWN = gettext_lazy("SCP is not answering right now, so this page cannot be shown. Try again in a moment.")


class NotFound(Http404):
    """Not there, or not for this user: the two answer alike, with this message (a refusal is audited first).

    Only this class's message is shown on the 404 page; any other Http404's text may be Django's own detail.
    """
