"""An SMTP server on loopback for the mail tests: STARTTLS required, then
AUTH (LOGIN or PLAIN) with one user, messages written to a maildir, and
the client's port of each message's connection to MAILDIR.peers (one line
a message: as many distinct ports as connections that carried mail).

Usage: smtp_sink.py PORT MAILDIR CERT KEY USER PASSWORD [starttls|tls]
With "tls", TLS from the first byte; STARTTLS by default.
Prints "ready" once listening; stops when its standard input closes.
"""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
mode = (sys.argv[7:8] or ["starttls"])[0]
if mode not in ("starttls", "tls"):
    sys.exit(f"smtp_sink.py: mode {mode!r}, not starttls or tls")
implicit = mode == "tls"
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok)


class Recorded(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        with open(maildir + ".peers", "a") as peers:
            peers.write(f"{session.peer[1]}\n")
        return await super().handle_DATA(server, session, envelope)


# aiosmtpd counts only STARTTLS as TLS for AUTH: with TLS from the first
# byte, every session is TLS already.
if implicit:
    tls = {"ssl_context": context, "auth_require_tls": False}
else:
    tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
controller = Controller(
    Recorded(maildir),
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticate,
    **tls,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
