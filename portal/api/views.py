"""The profile page's tokens section: create (the secret shown once, never stored in plain), revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.identity.views import profile

from .forms import TokenForm
from .tokens import AlreadyCreated, scopes_allowed, token_create, token_of, token_revoke


@never_cache
@login_required
@require_POST
def token_new(request):
    form = TokenForm(request.POST, allowed=scopes_allowed(request.user))
    if not form.is_valid():
        return profile(request, token_form=form, status=400)
    try:
        new = token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.expires_at(),
            creation_key=form.cleaned_data["creation_key"],
        )
    except AlreadyCreated as exc:  # the page was re-posted (a reload): no second token, and no secret again
        messages.info(request, str(exc))
        return redirect("profile")
    # Rendered in this answer only (no redirect, no message storage): the secret never rests in a session.
    return profile(request, new_token=new)


@login_required
@require_POST
def token_revoke_view(request, pk: int):
    token = token_of(user=request.user, pk=pk)
    if token_revoke(token=token, by=request.user):
        messages.success(
            request,
            _("Token %(prefix)s (%(name)s) is revoked; it no longer works.")
            % {"prefix": token.prefix, "name": token.name},
        )
    else:
        messages.info(request, _("Token %(prefix)s was already revoked.") % {"prefix": token.prefix})
    return redirect("profile")
