"""Exceptions of the hub.

HubError
├── ParseError            a raw item cannot be understood (it goes to quarantine)
├── ConfigError           the configuration is invalid (clear message, no traceback)
├── UnknownConnector      no plugin by that name ("did you mean ...?")
└── ConnectorError        talking to an external system failed
    ├── AuthError         401/403, bad credentials: a configuration problem, never retried
    ├── TransientError    429, 5xx, timeouts, dropped connections: retried with backoff
    │   └── RateLimited   429 with the provider's wait (Retry-After / reset header)
    ├── PaginationLoop    the provider returned a page token it had already given
    ├── SignatureInvalid  a webhook delivery whose signature does not verify
    └── CheckFailed       `check` could not reach or authenticate (reason + hint)
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ParseError(HubError):
    """A raw item (or captured file) cannot be parsed; the message says why, for an operator."""


class ConfigError(HubError):
    """The configuration is invalid."""


class UnknownConnector(HubError):
    """No connector plugin is registered under that name."""


class ConnectorError(HubError):
    """Talking to an external system failed."""


class AuthError(ConnectorError):
    """Credentials refused (401/403): fix the configuration; retrying will not help."""


class TransientError(ConnectorError):
    """A failure worth retrying later (429, 5xx, timeout, connection reset)."""


class RateLimited(TransientError):
    """The provider asked us to wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PaginationLoop(ConnectorError):
    """A page token came back twice: following it would loop forever."""


class SignatureInvalid(ConnectorError):
    """A webhook delivery whose signature does not verify (or is missing)."""


class CheckFailed(ConnectorError):
    """`check` failed; ``hint`` says what an operator can do about it."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason if not hint else f"{reason} ({hint})")
        self.reason = reason
        self.hint = hint
