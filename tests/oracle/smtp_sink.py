"""A local SMTP server for the notify tests: aiosmtpd on 127.0.0.1 with STARTTLS required
before anything else and AUTH (PLAIN/LOGIN) required after it. Each accepted message is written
to OUT_DIR as NNNN.eml (written then renamed, so a reader never sees half a message). Prints
`ready` once it listens, then serves until killed.

    smtp_sink.py PORT CERT KEY USER PASSWORD OUT_DIR
"""
import asyncio
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]
port = int(port)
counter = 0
lock = threading.Lock()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        global counter
        with lock:
            counter += 1
            n = counter
        tmp = os.path.join(out, f".{n:04d}.tmp")
        with open(tmp, "wb") as f:
            header = f"X-Sink-Tls: {'yes' if session.ssl else 'no'}\r\nX-Sink-Auth: {session.authenticated}\r\n"
            header += f"X-Sink-Rcpt: {','.join(envelope.rcpt_tos)}\r\n"
            f.write(header.encode() + envelope.original_content)
        os.rename(tmp, os.path.join(out, f"{n:04d}.eml"))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Sink(),
    hostname="127.0.0.1",
    port=port,
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
try:
    threading.Event().wait()
finally:
    controller.stop()
