from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render


@login_required
def home(request):
    return redirect("server_list")


def handler404(request, exception=None):
    message = str(exception) if exception and str(exception) else "That page does not exist."
    return render(request, "core/problem.html", {"message": message, "title": "Not found"}, status=404)
