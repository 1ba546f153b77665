"""Domain errors with messages a requester can act on; views turn them into form errors or messages."""

from __future__ import annotations


class DomainError(Exception):
    pass


class NotAllowed(DomainError):
    """The user may not do this. The refusal has already been audited."""


class InvalidState(DomainError):
    """The request is not in a state that allows this."""


class AttachRejected(DomainError):
    """The attach cannot be made as asked. `errors` maps a form field (or `__all__`) to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        return " ".join(message for messages in self.errors.values() for message in messages)


class ScpUnavailable(DomainError):
    """SCP could not be asked; nothing was sent."""
