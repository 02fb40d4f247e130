"""Domain errors: raised by rules and services, shown by the web layer as clear messages."""


class DomainError(Exception):
    """A business rule refused the request. The message is safe to show to the user."""

    status_code = 400


class ValidationFailed(DomainError):
    """Input does not meet a rule; `field` names the form field it belongs to, when there is one."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IllegalTransition(DomainError):
    """A state machine was asked to move along an edge it does not have."""

    status_code = 409


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409
