"""Local servers speaking each provider's protocol, for the tests (no mocks): an SMS gateway,
WeChat's token and template-message endpoints, an app push service and an SMTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from chassis.runner import free_port
from notify.channels import verify_signature


class _JsonServer:
    """A threaded HTTP server; subclasses answer `route(method, path, query, headers, body)`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = owner.route(self.command, url.path, parse_qs(url.query),
                                             self.headers, body)
                payload = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
              body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self) -> _JsonServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmsGatewayServer(_JsonServer):
    """POST /v1/sms/messages, checked like a real gateway: API key and signature."""

    def __init__(self, api_key: str = "key-1", api_secret: str = "gateway-secret",
                 fail_first: int = 0, fail_status: int = 503) -> None:
        super().__init__()
        self.api_key, self.api_secret = api_key, api_secret
        self.fail_first, self.fail_status = fail_first, fail_status

    def route(self, method, path, query, headers, body):  # type: ignore[no-untyped-def]
        if method != "POST" or path != "/v1/sms/messages":
            return 404, {"error": "not found"}
        if headers.get("X-Api-Key") != self.api_key:
            return 401, {"error": "unknown api key"}
        if not verify_signature(self.api_secret, headers.get("X-Timestamp"),
                                headers.get("X-Signature"), body):
            return 401, {"error": "bad signature"}
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_status, {"error": "carrier busy"}
            message = json.loads(body)
            self.received.append(message)
            return 202, {"message_id": f"SM{len(self.received):06d}", "status": "ACCEPTED"}


class WechatServer(_JsonServer):
    """GET /cgi-bin/token and POST /cgi-bin/message/template/send, with WeChat's errcodes."""

    def __init__(self, appid: str = "wx123", secret: str = "wx-secret") -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.tokens_issued = 0
        self.valid_token = ""

    def expire_token(self) -> None:
        self.valid_token = "expired-on-the-server"

    def route(self, method, path, query, headers, body):  # type: ignore[no-untyped-def]
        if path == "/cgi-bin/token":
            if query.get("appid") != [self.appid] or query.get("secret") != [self.secret]:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            with self.lock:
                self.tokens_issued += 1
                self.valid_token = f"ACCESS{self.tokens_issued}"
            return 200, {"access_token": self.valid_token, "expires_in": 7200}
        if path == "/cgi-bin/message/template/send" and method == "POST":
            if query.get("access_token") != [self.valid_token]:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            message = json.loads(body)
            if not message.get("touser") or not message.get("template_id"):
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            with self.lock:
                self.received.append(message)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(self.received)}
        return 404, {"errcode": -1, "errmsg": "not found"}


class PushServer(_JsonServer):
    def __init__(self, token: str = "push-token") -> None:
        super().__init__()
        self.token = token

    def route(self, method, path, query, headers, body):  # type: ignore[no-untyped-def]
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        with self.lock:
            self.received.append(json.loads(body))
        return 200, {"id": f"push-{len(self.received)}"}


_SMTP_SCRIPT = """
import sys, time
from pathlib import Path
from aiosmtpd.controller import Controller

out = Path(sys.argv[2])

class Keep:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with out.open("ab") as f:
            f.write(envelope.content + b"\\n\\x00\\n")
        return "250 Message accepted for delivery"

controller = Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


class SmtpServer:
    """aiosmtpd in its own process (its asyncio loop and the tests' green threads do not mix)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.mailbox = directory / "mailbox"
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SmtpServer:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SMTP_SCRIPT, str(self.port), str(self.mailbox)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def messages(self) -> list[bytes]:
        if not self.mailbox.exists():
            return []
        return [m.strip() for m in self.mailbox.read_bytes().split(b"\n\x00\n") if m.strip()]

    def __exit__(self, *exc: Any) -> None:
        assert self.process is not None
        self.process.communicate("", timeout=10)
        deadline = time.monotonic() + 5
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
