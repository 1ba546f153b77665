from django.tasks import task


@task()
def verify_audit_chain() -> str:
    from .services import audit_verify_database

    return audit_verify_database().message
