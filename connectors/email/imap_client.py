"""Opening an IMAP session for the e-mail connector, and naming what went wrong.

:func:`connect` opens the socket (implicit TLS, STARTTLS or plain), verifies the
certificate against ``ca_file`` or the system store, and logs in with a password
or XOAUTH2, every step bounded by ``config.timeout``. :func:`describe` turns any
failure into an operator's reason and hint (never a secret), and
:func:`classify` into the hub's error kinds: refused credentials and untrusted
certificates are configuration problems (:class:`~hub.errors.AuthError`, not
retried); dropped connections and timeouts are :class:`~hub.errors.TransientError`.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from hub.errors import AuthError, ConnectorError, TransientError
from hub.http import scrub

if TYPE_CHECKING:
    from connectors.email.imap import ImapConfig

__all__ = ["HANDLED", "Problem", "classified", "classify", "close", "connect", "describe", "server_text"]

_BYTES_REPR = re.compile(r"""^b(['"])(.*)\1$""", re.S)


def _tls_context(config: ImapConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_file)


def connect(config: ImapConfig) -> IMAPClient:
    """A logged-in client (times as aware datetimes); raises what :func:`classify` understands."""
    context = _tls_context(config) if config.security != "none" else None
    client = IMAPClient(
        config.host,
        port=config.effective_port,
        ssl=config.security == "tls",
        ssl_context=context,
        timeout=config.timeout,
    )
    try:
        if config.security == "starttls":
            client.starttls(context)
        if config.oauth2_token is not None:
            client.oauth2_login(config.username, config.oauth2_token.get_secret_value())
        else:
            assert config.password is not None  # the config model requires one of the two
            client.login(config.username, config.password.get_secret_value())
    except BaseException:
        close(client)
        raise
    client.normalise_times = False  # INTERNALDATE with its zone, not naive local time
    return client


def close(client: IMAPClient) -> None:
    """Log out, or drop the connection when the server is gone; never raises."""
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


@dataclass(frozen=True)
class Problem:
    """What went wrong: ``kind`` is ``auth``, ``config``, ``transient`` or ``protocol``."""

    kind: str
    reason: str
    hint: str = ""

    @property
    def text(self) -> str:
        return f"{self.reason} ({self.hint})" if self.hint else self.reason


def server_text(exc: BaseException) -> str:
    """The server's words from an imaplib/IMAPClient error (without the ``b'...'`` wrapping)."""
    text = str(exc)
    m = _BYTES_REPR.match(text)
    return m.group(2) if m else text


def describe(exc: BaseException, config: ImapConfig) -> Problem:
    """Reason and hint for a failure talking to the server of ``config``."""
    where = f"{config.host}:{config.effective_port}"
    if isinstance(exc, LoginError):
        said = server_text(exc)
        if "UNAVAILABLE" in said or "Temporary" in said:
            return Problem("transient", f"login to {where} temporarily failed: {said}", "try again later")
        secret = "oauth2_token (XOAUTH2)" if config.oauth2_token is not None else "password"
        return Problem(
            "auth", f"login refused for user {config.username!r}: {said}", f"check username/{secret}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Problem(
            "auth",
            f"TLS certificate of {where} is not trusted: {exc.verify_message}",
            "set ca_file to the CA that signed the server's certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return Problem(
            "config",
            f"TLS handshake with {where} failed: {exc.reason or exc}",
            "security 'tls' is implicit TLS (usually port 993); use 'starttls' on port 143",
        )
    if isinstance(exc, FileNotFoundError) and config.ca_file and exc.filename in (None, config.ca_file):
        return Problem("config", f"ca_file {config.ca_file!r} cannot be read: {exc.strerror}", "fix ca_file")
    if isinstance(exc, TimeoutError):
        return Problem(
            "transient",
            f"no answer from {where} within {config.timeout:g} s",
            "check host, port and security (a TLS port does not answer a plain connection)",
        )
    if isinstance(exc, OSError):
        return Problem(
            "transient",
            f"cannot connect to {where}: {exc.strerror or exc}",
            "check host and port, and that the IMAP server is running",
        )
    if isinstance(exc, IMAPClientAbortError):
        return Problem("transient", f"connection to {where} lost: {server_text(exc)}")
    if isinstance(exc, CapabilityError) and "STARTTLS" in str(exc):
        return Problem("config", f"{where} does not offer STARTTLS", "use security 'tls' or another port")
    if isinstance(exc, IMAPClientError):
        return Problem("protocol", f"IMAP server {where} said: {server_text(exc)}")
    return Problem("protocol", f"{type(exc).__name__} talking to {where}: {exc}")


def classify(exc: BaseException, config: ImapConfig, secrets: Iterable[str]) -> ConnectorError:
    """The hub error for a failure (message scrubbed of ``secrets``)."""
    problem = describe(exc, config)
    text = scrub(problem.text, secrets)
    if problem.kind == "auth":
        return AuthError(text)
    if problem.kind == "transient":
        return TransientError(text)
    return ConnectorError(text)


#: errors :func:`classified` converts (anything else is a bug and propagates)
HANDLED = (OSError, IMAPClientError)


@contextlib.contextmanager
def classified(config: ImapConfig, secrets: Iterable[str]) -> Iterator[None]:
    """Turn socket, TLS and IMAP errors raised inside into hub errors."""
    try:
        yield
    except HANDLED as exc:
        raise classify(exc, config, secrets) from None
