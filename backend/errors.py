"""The exception hierarchy, and the one place that turns it into responses.

    AppError                       400 bad_request
    ├── ValidationFailed           422 validation_failed   (schema or rule violated)
    ├── NotAuthenticated           401 not_authenticated   (no or expired session)
    ├── Forbidden                  403 forbidden           (role or ownership)
    │   └── CsrfFailed             403 csrf_failed
    ├── NotFound                   404 not_found
    │   └── NotFoundOrNotPermitted 404 not_found_or_not_permitted (a person's record: the
    │                              same answer whether it does not exist or is not yours)
    ├── Conflict                   409 conflict            (state changed under you)
    ├── RateLimited                429 rate_limited        (Retry-After set)
    └── ServiceBusy                503 service_busy        (DynamoDB throttled; Retry-After)

Every subclass carries a stable machine `code` and a Chinese `message` for people.
API paths (`/api/...` or JSON requests) get `{"error": {"code", "message"}}`; pages
get the Chinese error page with the same status.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

__all__ = [
    "AppError", "ValidationFailed", "NotAuthenticated", "Forbidden", "CsrfFailed",
    "NotFound", "NotFoundOrNotPermitted", "Conflict", "RateLimited", "ServiceBusy", "register_error_handlers", "is_unavailable",
]

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: list | None = None, retry_after: int | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message
        if code:
            self.code = code
        self.details = details
        self.retry_after = retry_after


class ValidationFailed(AppError):
    status, code, message = 422, "validation_failed", "提交的内容不符合要求"


class NotAuthenticated(AppError):
    status, code, message = 401, "not_authenticated", "请先登录"


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "您没有权限进行此操作"


class CsrfFailed(Forbidden):
    code, message = "csrf_failed", "页面已过期，请刷新后重试"


class NotFound(AppError):
    status, code, message = 404, "not_found", "找不到您要的内容"


class NotFoundOrNotPermitted(NotFound):
    """Raised by the shared loaders of a person's records, for an unknown id and for one the
    user has no relation to alike: probing ids learns neither names nor contract states."""
    code, message = "not_found_or_not_permitted", "找不到该居民，或您无权查看"


class Conflict(AppError):
    status, code, message = 409, "conflict", "数据已被更改，请刷新后重试"


class RateLimited(AppError):
    status, code, message = 429, "rate_limited", "操作太频繁，请稍后再试"


class ServiceBusy(AppError):
    status, code, message = 503, "service_busy", "系统繁忙，请稍后再试"


# Chinese text for the HTTP errors Werkzeug raises itself.
_HTTP_MESSAGES = {
    400: ("bad_request", "请求有误"),
    404: ("not_found", "找不到您要的页面"),
    405: ("method_not_allowed", "不支持此操作方式"),
    413: ("too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "请以 JSON 格式提交"),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, *, details=None, retry_after=None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        resp = make_response(jsonify(body), status)
    else:
        resp = make_response(
            render_template("error.html", status=status, code=code, message=message), status)
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def is_unavailable(err: BaseException) -> bool:
    """A timeout or refused connection to DynamoDB: temporary, so 503 and retry, never 500."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError
    seen = 0
    while err is not None and seen < 5:
        if isinstance(err, (BotoConnectionError, HTTPClientError)):
            return True
        err = getattr(err, "cause", None) or err.__cause__ or err.__context__
        seen += 1
    return False


def register_error_handlers(app: Flask) -> None:
    from pynamodb.exceptions import PynamoDBException

    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        from flask import g
        g.error_code = err.code  # read by the refusal audit (backend.security)
        return error_response(err.status, err.code, err.message, details=err.details,
                              retry_after=err.retry_after)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code, message = _HTTP_MESSAGES.get(err.code or 500, ("http_error", "请求无法处理"))
        return error_response(err.code or 500, code, message)

    @app.errorhandler(PynamoDBException)
    def _dynamo_error(err: PynamoDBException):
        # Throttling and capacity errors are temporary: tell the client to retry.
        try:
            cause = getattr(err, "cause_response_code", None) or ""
        except AttributeError:  # the cause carries no response (a network error)
            cause = ""
        if is_unavailable(err):
            log.warning("dynamodb unreachable: %s", err)
            return error_response(503, "service_busy", ServiceBusy.message, retry_after=1)
        if cause in {"ProvisionedThroughputExceededException", "ThrottlingException",
                     "RequestLimitExceeded", "TransactionConflictException",
                     "InternalServerError"}:
            log.warning("dynamodb busy: %s", cause)
            return error_response(503, "service_busy", ServiceBusy.message, retry_after=1)
        log.exception("dynamodb error: %s", cause)
        return error_response(500, "internal_error", "系统出错了，我们会尽快处理")

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error")
        return error_response(500, "internal_error", "系统出错了，我们会尽快处理")
