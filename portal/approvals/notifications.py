"""Emails about requests. A failure to send is logged and never undoes or blocks a decision."""

import logging

logger = logging.getLogger(__name__)


def notify_approvers(*, request_id: int) -> None:
    pass
