"""Local stand-ins (127.0.0.1) for Alibaba Cloud SMS and Tencent Cloud SMS `SendSms`.

Each speaks its provider's HTTP API as the real SDK uses it, checks the request signature
the way the provider does (Alibaba ACS3-HMAC-SHA256, Tencent TC3-HMAC-SHA256) with the
shared secret, records what was asked (phone, signature name, template, parameters), and
answers as scripted: "ok", or a refusal ("throttled", "invalid_number",
"template_not_approved", "out_of_credit"), or "http500", or "timeout" (answers late).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["FakeAlibabaSms", "FakeTencentSms"]

ALIBABA_CODES = {"throttled": "isv.BUSINESS_LIMIT_CONTROL",
                 "invalid_number": "isv.MOBILE_NUMBER_ILLEGAL",
                 "template_not_approved": "isv.SMS_TEMPLATE_ILLEGAL",
                 "out_of_credit": "isv.AMOUNT_NOT_ENOUGH"}
TENCENT_CODES = {"throttled": "LimitExceeded.PhoneNumberThirtySecondLimit",
                 "invalid_number": "InvalidParameterValue.IncorrectPhoneNumber",
                 "template_not_approved": "FailedOperation.TemplateIncorrectOrUnapproved",
                 "out_of_credit": "FailedOperation.InsufficientBalanceInSmsPackage"}


class _Fake:
    """A threaded HTTP server with a script of outcomes and a log of requests."""

    def __init__(self, key_id: str, key_secret: str, *, late_seconds: float = 2.0) -> None:
        self.key_id, self.key_secret = key_id, key_secret
        self.late_seconds = late_seconds
        self.script: deque[str] = deque()        # outcomes for the next requests, in order
        self.by_phone: dict[str, str] = {}       # outcome for a number (after the script)
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "_Fake":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = fake.handle(self, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", fake.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a scripted timeout)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def outcome_for(self, phone: str) -> str:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return self.by_phone.get(phone, "ok")

    def record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)

    def accepted(self) -> list[dict]:
        """Requests with a valid signature that were answered "ok"."""
        return [r for r in self.requests if r["signature_ok"] and r["outcome"] == "ok"]


class FakeAlibabaSms(_Fake):
    content_type = "application/json;charset=utf-8"

    def _signature_ok(self, handler, body: bytes) -> bool:
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return False
        parts = dict(p.split("=", 1) for p in auth[len("ACS3-HMAC-SHA256 "):].split(","))
        if parts.get("Credential") != self.key_id:
            return False
        signed = parts.get("SignedHeaders", "").split(";")
        if not {"host", "x-acs-action", "x-acs-date", "x-acs-content-sha256"} <= set(signed):
            return False
        payload_hash = hashlib.sha256(body).hexdigest()
        if handler.headers.get("x-acs-content-sha256") != payload_hash:
            return False
        sent_at = datetime.strptime(handler.headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        if abs(time.time() - sent_at.replace(tzinfo=timezone.utc).timestamp()) > 900:
            return False
        url = urlsplit(handler.path)
        query = sorted(parse_qsl(url.query, keep_blank_values=True))
        canonical_query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in query)
        headers = "".join(f"{h}:{(handler.headers.get(h) or '').strip()}\n" for h in signed)
        canonical = "\n".join([handler.command, url.path or "/", canonical_query, headers,
                               ";".join(signed), payload_hash])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(self.key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    def handle(self, handler, body: bytes):
        query = dict(parse_qsl(urlsplit(handler.path).query, keep_blank_values=True))
        ok = self._signature_ok(handler, body)
        phone = query.get("PhoneNumbers", "")
        entry = {"action": handler.headers.get("x-acs-action"), "phone": phone,
                 "sign_name": query.get("SignName"), "template": query.get("TemplateCode"),
                 "params": json.loads(query.get("TemplateParam") or "{}"),
                 "out_id": query.get("OutId"), "signature_ok": ok}
        request_id = str(uuid.uuid4()).upper()
        if not ok:
            entry["outcome"] = "bad_signature"
            self.record(entry)
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched",
                         "RequestId": request_id}
        outcome = entry["outcome"] = self.outcome_for(phone)
        self.record(entry)
        if outcome == "timeout":
            time.sleep(self.late_seconds)
            return 200, {"Code": "OK", "Message": "OK", "BizId": "late", "RequestId": request_id}
        if outcome == "http500":
            return 500, {"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure of the server.",
                         "RequestId": request_id}
        if outcome in ALIBABA_CODES:
            return 200, {"Code": ALIBABA_CODES[outcome], "Message": outcome, "RequestId": request_id}
        biz_id = f"{int(time.time())}^{uuid.uuid4().int % 10**12}"
        entry["message_id"] = biz_id
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}


class FakeTencentSms(_Fake):
    content_type = "application/json"

    def _signature_ok(self, handler, body: bytes) -> bool:
        auth = handler.headers.get("Authorization", "")
        prefix = "TC3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return False
        parts = dict(p.strip().split("=", 1) for p in auth[len(prefix):].split(","))
        try:
            key_id, date, service, terminator = parts["Credential"].split("/")
        except (KeyError, ValueError):
            return False
        timestamp = handler.headers.get("X-TC-Timestamp", "0")
        if key_id != self.key_id or service != "sms" or terminator != "tc3_request" \
                or parts.get("SignedHeaders") != "content-type;host" \
                or abs(time.time() - int(timestamp)) > 300 \
                or datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d") != date:
            return False
        canonical = "\n".join([
            handler.command, "/", "",
            f"content-type:{handler.headers.get('Content-Type')}\nhost:{handler.headers.get('Host')}\n",
            "content-type;host", hashlib.sha256(body).hexdigest()])
        to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/sms/tc3_request",
                             hashlib.sha256(canonical.encode()).hexdigest()])

        def _hmac(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        key = _hmac(_hmac(_hmac(("TC3" + self.key_secret).encode(), date), "sms"), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    def handle(self, handler, body: bytes):
        ok = self._signature_ok(handler, body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        numbers = request.get("PhoneNumberSet") or [""]
        phone = numbers[0][3:] if numbers[0].startswith("+86") else numbers[0]
        entry = {"action": handler.headers.get("X-TC-Action"), "phone": phone,
                 "sign_name": request.get("SignName"), "template": request.get("TemplateId"),
                 "params": request.get("TemplateParamSet"), "app_id": request.get("SmsSdkAppId"),
                 "out_id": request.get("SessionContext"), "signature_ok": ok}
        request_id = str(uuid.uuid4())
        if not ok:
            entry["outcome"] = "bad_signature"
            self.record(entry)
            return 200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                                                "Message": "The provided credentials could not be validated."},
                                      "RequestId": request_id}}
        outcome = entry["outcome"] = self.outcome_for(phone)
        self.record(entry)
        if outcome == "timeout":
            time.sleep(self.late_seconds)
        if outcome == "http500":
            return 502, {"error": "bad gateway"}
        code = TENCENT_CODES.get(outcome, "Ok")
        serial = f"2433:{uuid.uuid4().int % 10**20}"
        if code == "Ok":
            entry["message_id"] = serial
        return 200, {"Response": {"SendStatusSet": [{
            "SerialNo": serial if code == "Ok" else "", "PhoneNumber": numbers[0], "Fee": 1,
            "SessionContext": request.get("SessionContext", ""), "Code": code,
            "Message": "send success" if code == "Ok" else outcome, "IsoCode": "CN"}],
            "RequestId": request_id}}
