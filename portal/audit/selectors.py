from .models import AuditEvent


def timeline_for_request(*, request_id: int):
    return AuditEvent.objects.filter(interface_request_id=request_id).order_by("seq")
