"""A private Dovecot IMAP server on loopback, for tests and benchmarks.

Debian's ``dovecot-imapd`` (``/usr/sbin/dovecot``) runs in the foreground with a
config written to a fresh temporary folder: passwd-file users, maildirs owned by
``nobody`` (65534), a self-signed certificate for STARTTLS and implicit TLS, and
``xoauth2`` (Dovecot checks the bearer token against the passdb like a password).
Ports are free ones picked from 10100-10999. The system's Dovecot config is not used.

Pitfalls handled here (see ../shared/SERVICES.md section 2): every folder on the
way to the config and the mail must be traversable (``chmod 755``); the port
accepts TCP before the server is ready, so :meth:`DovecotServer.start` waits for
the ``* OK`` greeting; a restart waits until the old processes are gone. Dovecot
delays every login from an IP after a failed one (the auth penalty): tests of a
wrong password use their own instance. On SIGTERM Dovecot lets connected sessions
go on for about 10 s before it says ``BYE``, so :meth:`DovecotServer.stop` takes
that long while a client is connected (``kill=True`` is instant).

Outside pytest::

    with running_dovecot() as server:
        server.append("alice", "INBOX", [message_bytes])

In pytest, :func:`dovecot_for_tests` fails the test (never skips) when Dovecot is
not installed.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

__all__ = [
    "NOT_INSTALLED",
    "DovecotNotInstalled",
    "DovecotServer",
    "dovecot_for_tests",
    "free_port",
    "running_dovecot",
]

NOT_INSTALLED = "dovecot-imapd is not installed: run the tests with bash tests/run.sh"
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"  # where Debian puts dovecot, even when PATH lacks it
MAIL_UID = 65534  # nobody:nogroup, the static userdb's uid and gid

#: user -> password (also accepted as an XOAUTH2 bearer token)
DEFAULT_USERS = {"alice": "alice-Secret-pw1", "bob": "bob-Secret-pw2", "carol": "carol-oauth-Token-3"}


class DovecotNotInstalled(RuntimeError):
    """``dovecot`` (Debian package dovecot-imapd) or ``openssl`` is missing."""


def _program(name: str, missing: str) -> str:
    found = shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SBIN}")
    if found is None:
        raise DovecotNotInstalled(missing)
    return found


def free_port(low: int = 10100, high: int = 10999, exclude: Iterable[int] = ()) -> int:
    """A loopback TCP port in ``[low, high]`` that nothing listens on right now."""
    skip = set(exclude)
    candidates = [p for p in range(low, high + 1) if p not in skip]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    msg = f"no free port in {low}-{high}"
    raise RuntimeError(msg)


def _write_cert(tls: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (tls / "key.pem").chmod(0o600)


@dataclass
class DovecotServer:
    """One private Dovecot instance: its folder, ports, users and process."""

    root: Path
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    host: str = "127.0.0.1"
    port: int = 0
    tls_port: int = 0
    #: more settings appended to the config (e.g. ``imap_capability = ...``)
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None
    binary: str = "dovecot"

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def ca_file(self) -> str:
        """The self-signed certificate, to trust as a CA (``ca_file``)."""
        return str(self.root / "tls" / "cert.pem")

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    # --- set-up -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Write the config, users and certificate; pick the ports."""
        self.binary = _program("dovecot", NOT_INSTALLED)
        _program("openssl", "openssl is not installed: run the tests with bash tests/run.sh")
        for sub in ("tls", "state", "mail", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        os.chown(self.root / "mail", MAIL_UID, MAIL_UID)
        if not (self.root / "tls" / "cert.pem").exists():
            _write_cert(self.root / "tls")
        lines = [f"{user}:{{PLAIN}}{pw}::::::" for user, pw in self.users.items()]
        (self.root / "users").write_text("\n".join(lines) + "\n")
        (self.root / "users").chmod(0o644)
        self.port = self.port or free_port()
        self.tls_port = self.tls_port or free_port(exclude={self.port})
        self.conf.write_text(self._config())

    def _config(self) -> str:
        d = self.root
        return f"""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = hub-test-dovecot-{self.port}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/tls/cert.pem
ssl_key = <{d}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
first_valid_uid = 1
protocol imap {{
  mail_max_userip_connections = 200
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
{self.extra_config}
"""

    # --- process --------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Start Dovecot in the foreground and wait for its ``* OK`` greeting."""
        if not self.conf.exists():
            self.prepare()
        out = (self.root / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() waits for every child
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"dovecot exited with status {self.process.returncode}:\n{self.log_tail()}"
                raise RuntimeError(msg)
            if self._greets():
                return
            time.sleep(0.05)
        self.stop()
        msg = f"dovecot did not greet on {self.host}:{self.port} within {timeout} s:\n{self.log_tail()}"
        raise RuntimeError(msg)

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self, timeout: float = 15.0, *, kill: bool = False) -> None:
        """Stop Dovecot and wait until the master and all its children are gone.

        ``kill``: SIGKILL the whole process group at once (for throw-away instances);
        otherwise SIGTERM the master and let it shut down (about a second).
        """
        proc, self.process = self.process, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the master leads its own process group
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        elif proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop (at once) and remove the instance's folder."""
        self.stop(kill=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("dovecot.log", "stdout.log"):
            path = self.root / name
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    # --- mail -------------------------------------------------------------------------------------

    def client(self, user: str = "alice", *, timeout: float = 30.0) -> IMAPClient:
        """A logged-in plain-text IMAP client (the caller logs out)."""
        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        c.login(user, self.users[user])
        return c

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def append(self, user: str, folder: str, messages: Iterable[bytes]) -> list[int]:
        """APPEND ``messages`` to ``folder`` (created if missing); their UIDs."""
        uids: list[int] = []
        with _session(self.client(user)) as c:
            if folder != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            for message in messages:
                reply = c.append(folder, message)
                uids.append(int(reply.split(b"]")[0].split()[-1]))  # [APPENDUID <uidvalidity> <uid>]
        return uids

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm`` against this instance; its stdout."""
        done = subprocess.run(
            [_program("doveadm", NOT_INSTALLED), "-c", str(self.conf), *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


@contextlib.contextmanager
def _session(client: IMAPClient) -> Iterator[IMAPClient]:
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in process group ``pgid`` (Linux ``/proc``)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


@contextlib.contextmanager
def running_dovecot(users: dict[str, str] | None = None, extra_config: str = "") -> Iterator[DovecotServer]:
    """A started private Dovecot in a fresh ``/tmp`` folder, stopped and removed afterwards.

    Raises:
        DovecotNotInstalled: when ``dovecot`` is missing.
    """
    root = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    server = DovecotServer(root, users=dict(users or DEFAULT_USERS), extra_config=extra_config)
    try:
        for attempt in range(3):  # a port taken between the check and the bind: pick others
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in server.log_tail():
                    raise
                server.port = server.tls_port = 0
                server.prepare()
        yield server
    finally:
        server.cleanup()


@contextlib.contextmanager
def dovecot_for_tests(users: dict[str, str] | None = None, extra_config: str = "") -> Iterator[DovecotServer]:
    """:func:`running_dovecot`, failing the test (never skipping) when Dovecot is not installed."""
    import pytest

    try:
        with running_dovecot(users, extra_config) as server:
            yield server
    except DovecotNotInstalled:
        pytest.fail(NOT_INSTALLED)
