"""A private Dovecot IMAP server for ``hub demo``: loopback only, plain text, one mailbox.

Debian's ``dovecot-imapd`` runs in the foreground with a config written to the demo's
folder (passwd-file user, maildir, no TLS: the demo talks to it on 127.0.0.1 only).
The system's own Dovecot config is never used. :class:`MailServerUnavailable` when
Dovecot is not installed or does not start; the demo then goes on without e-mail.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["DemoMailServer", "MailServerUnavailable"]

SBIN = "/usr/local/sbin:/usr/sbin:/sbin"
NOBODY = 65534


class MailServerUnavailable(RuntimeError):
    """Dovecot is missing or would not start (the reason is the message)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoMailServer:
    """One Dovecot with the mailbox ``user`` (INBOX) on ``127.0.0.1:port``."""

    def __init__(self, root: Path | None = None, user: str = "support") -> None:
        # Dovecot's unprivileged processes must reach every folder on the way to its config and mail,
        # so by default it lives in a fresh folder directly under the temporary folder (removed by stop)
        self.owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="hub-demo-mail-")) if root is None else root
        self.user = user
        self.password = "demo-" + secrets.token_hex(8)
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self, uid: int, gid: int) -> str:
        d = self.root
        unprivileged = ""
        if os.geteuid() != 0:  # run every Dovecot process as ourselves
            me, group = getpass.getuser(), grp.getgrgid(os.getegid()).gr_name
            unprivileged = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\ndefault_internal_group = {group}\n"
            )
        return f"""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = hub-demo-{self.port}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
first_valid_uid = 1
{unprivileged}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

    def start(self, timeout: float = 20.0) -> None:
        binary = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:{SBIN}")
        if binary is None:
            self.stop()
            msg = "Dovecot is not installed (Debian: apt-get install dovecot-imapd)"
            raise MailServerUnavailable(msg)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        uid, gid = (NOBODY, NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
        os.chown(self.root / "mail", uid, gid)
        (self.root / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        (self.root / "users").chmod(0o644)
        self.port = _free_port()
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config(uid, gid))
        out = (self.root / "dovecot.out").open("ab")
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.root / "dovecot.log"
                tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
                self.stop()
                msg = f"Dovecot exited at start: {tail.strip() or 'no log'}"
                raise MailServerUnavailable(msg)
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=1) as s,
            ):
                if s.recv(64).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        self.stop()
        msg = f"Dovecot did not answer on {self.host}:{self.port} within {timeout:.0f} s"
        raise MailServerUnavailable(msg)

    def append(self, message: bytes) -> None:
        """Deliver ``message`` to the INBOX (as an MTA would)."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            client.append("INBOX", message)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # throw-away instance: no graceful shutdown needed
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)
