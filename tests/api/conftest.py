import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

API = "/api/v1"


@pytest.fixture
def needs_approval(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})


@pytest.fixture
def token_for(db):
    """A live token for `user` with `scopes`; returns (secret, ApiToken)."""
    from portal.api.tokens import token_create

    def make(user, *scopes, days: float = 7):
        new = token_create(
            user=user, name="test", scopes=list(scopes or ["read"]), expires_at=timezone.now() + dt.timedelta(days=days)
        )
        return new.secret, new.token

    return make


class ApiClient:
    """Django's test client speaking to the API with a bearer token."""

    def __init__(self, secret: str, on_commit=None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.on_commit = on_commit  # runs what a commit starts (the execution after an approval), as a server would

    def get(self, path, **params):
        return self.client.get(f"{API}{path}", params, headers=self.headers)

    def post(self, path, body=None, headers=None):
        if self.on_commit is None:
            return self._post(path, body, headers)
        with self.on_commit(execute=True):
            return self._post(path, body, headers)

    def _post(self, path, body, headers):
        return self.client.post(
            f"{API}{path}", body or {}, content_type="application/json", headers={**self.headers, **(headers or {})}
        )


@pytest.fixture
def api_as(token_for, django_capture_on_commit_callbacks):
    def make(user, *scopes) -> ApiClient:
        secret, _ = token_for(user, *scopes)
        return ApiClient(secret, django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def attach_body(world):
    def make(**overrides):
        body = {
            "mode": "subnet",
            "subnet_id": world.subnets["prod-db"].id,
            "fixed_ips": [],
            "justification": "Second NIC for the backup network",
        }
        body.update(overrides)
        return body

    return make
