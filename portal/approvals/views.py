from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def queue(request):
    return render(request, "approvals/queue.html", {"pending": selectors.pending_for(user=request.user)})
