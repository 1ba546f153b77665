from django.http import Http404


class NotFound(Http404):
    """Not there, or not for this user: the two answer alike, with this message (a refusal is audited first).

    Only this class's message is shown on the 404 page; any other Http404's text may be Django's own detail.
    """
