"""The Content-Security-Policy: no inline script or style, no eval; htmx is told so by base.html's meta tag."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.middleware.csp import ContentSecurityPolicyMiddleware
from django.utils.csp import CSP


def csp_policy(config) -> dict[str, list[str]]:
    form_targets = [CSP.SELF]
    if config.oidc_issuer is not None:  # signing out redirects the form's POST on to the IdP's end-session page
        issuer = urlsplit(str(config.oidc_issuer))
        form_targets.append(f"{issuer.scheme}://{issuer.netloc}")
    return {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF, CSP.NONCE],
        "img-src": [CSP.SELF, "data:"],
        "connect-src": [CSP.SELF],
        "object-src": [CSP.NONE],
        "base-uri": [CSP.SELF],
        "form-action": form_targets,
        "frame-ancestors": [CSP.NONE],
    }


class PortalContentSecurityPolicyMiddleware(ContentSecurityPolicyMiddleware):
    """Django's CSP middleware, with the policy built from the configuration as it stands (the IdP's origin)."""

    def process_response(self, request, response):
        if not hasattr(response, "_csp_config"):
            response._csp_config = csp_policy(settings.CONFIG)
        return super().process_response(request, response)
