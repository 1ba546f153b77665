import pytest


@pytest.fixture
def admin_client(client, django_user_model):
    """A superuser signed in to the admin (shadows pytest-django's, whose password is not the tests' own)."""
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "test-pass-2026")
    client.force_login(admin)
    return client
