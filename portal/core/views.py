from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .errors import NotFound
from .problems import problem


@login_required
def home(request):
    return redirect("server_list")


def handler404(request, exception=None):
    # Only the portal's own NotFound text is shown: for an unmatched URL, Django's is the resolver's detail
    # (patterns, module paths).
    message = str(exception) if isinstance(exception, NotFound) else _("That page does not exist.")
    if request.path.startswith("/api/"):
        return problem(404, "No such API address; see /api/v1/docs for the operations.")
    return render(request, "core/problem.html", {"message": message, "title": _("Not found")}, status=404)
