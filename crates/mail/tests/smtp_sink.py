"""An SMTP server on loopback for the mail tests: STARTTLS required, then
AUTH (LOGIN or PLAIN) with one user, messages written to a maildir.

Usage: smtp_sink.py PORT MAILDIR CERT KEY USER PASSWORD
Prints "ready" once listening; stops when its standard input closes.
"""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok)


controller = Controller(
    Mailbox(maildir),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=context,
    require_starttls=True,
    authenticator=authenticate,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
