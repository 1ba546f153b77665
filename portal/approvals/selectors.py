from portal.interfaces.models import InterfaceRequest, Status


def pending_for(*, user):
    """Pending requests this user may decide: in a group they belong to, and not their own."""
    groups = list(user.groups.values_list("name", flat=True))
    return (
        InterfaceRequest.objects.filter(status=Status.PENDING_APPROVAL, approval_group__in=groups)
        .exclude(requester=user)
        .select_related("requester")
        .order_by("created_at")
    )


def pending_count_for(*, user) -> int:
    return pending_for(user=user).count()


def decision_context(item, user, **extra) -> dict:
    """What an approver sees of one request: its parameters, the exact call, its age, and whether they may decide."""
    from django.utils import timezone

    from portal.interfaces.services import request_preview

    from .services import may_decide

    return {
        "item": item,
        "preview": request_preview(request=item),
        "age": timezone.now() - item.created_at,
        "blocked": may_decide(user=user, request=item),
        **extra,
    }
