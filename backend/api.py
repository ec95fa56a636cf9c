"""The JSON API convention: declared request schemas, one error shape, one OpenAPI document.

    @bp.post("/api/things")
    @require("resident")
    @api.body(NewThing, summary="新建", response=ThingOut)
    def create(data: NewThing): ...

`body` validates the JSON request with pydantic and passes the model to the view; a
malformed or invalid body becomes `422 validation_failed` (or `400 malformed_json`)
with Chinese text. `document(app)` builds OpenAPI 3.1 from the same schemas.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import json
import re
import typing

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from backend.errors import AppError, ValidationFailed

__all__ = ["Schema", "body", "query", "document", "describe", "JsonProvider", "MAX_JSON_DEPTH",
           "check_json_depth"]

# Deeper than any request schema nests (the deepest is 3); Python's parser recurses per
# level, so 100,000 brackets would end in RecursionError (a 500) without this limit.
MAX_JSON_DEPTH = 32
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit`, by counting brackets outside strings,
    without recursion and before any parsing (400 json_too_deep)."""
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise AppError(f"提交的内容嵌套超过{limit}层", code="json_too_deep")
        elif token in "]}":
            depth -= 1


def _no_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them by default.
    raise ValueError(f"{name} is not JSON")


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON with a depth limit and without NaN/Infinity, for every `get_json`."""

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs):
        text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else s
        check_json_depth(text)
        kwargs.setdefault("parse_constant", _no_constant)
        return json.loads(s, **kwargs)

_SPECS: dict[str, dict[str, Any]] = {}  # view qualified name -> spec parts

# Chinese for the pydantic error types people meet.
_MESSAGES = {
    "missing": "必填",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "应为整数",
    "float_parsing": "应为数字",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式不正确",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "greater_than": "数值太小",
    "less_than": "数值太大",
    "literal_error": "不是允许的取值",
    "enum": "不是允许的取值",
    "extra_forbidden": "不允许的字段",
    "bool_parsing": "应为是或否",
    "list_type": "应为列表",
    "model_type": "应为对象",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "value_error": "取值无效",
    "finite_number": "应为有限的数字",
    "too_short": "项目太少",
    "too_long": "项目太多",
}


class Schema(BaseModel):
    """Base of every request/response schema: unknown fields are refused."""

    # defer_build: validators are built on first use, not at import (Lambda cold start).
    # allow_inf_nan=False: "inf" or "nan" in a number field is refused (422), never stored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_numbers(cls, value):
        # Every number a client sends is finite (allow_inf_nan) and within ±MAX_NUMBER, also
        # fields without their own bounds: a 400-digit integer would fail at DynamoDB (38).
        _check_number(value)
        return value


# Above any count, amount or timestamp (ms) the app takes; below 2**53 (exact in JS).
MAX_NUMBER = 10**15


def _check_number(value) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            raise ValueError("数值超出范围")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_number(item)


def _field_errors(err: ValidationError) -> list[dict]:
    out = []
    for e in err.errors(include_url=False):
        field = ".".join(str(p) for p in e["loc"]) or "body"
        msg = _MESSAGES.get(e["type"], "取值无效")
        if e["type"] == "value_error" and e.get("ctx", {}).get("error"):
            msg = str(e["ctx"]["error"])
        out.append({"field": field, "type": e["type"], "message": msg})
    return out


def parse(schema: type[Schema], data: Any) -> Schema:
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        details = _field_errors(err)
        first = details[0]
        raise ValidationFailed(f"{first['field']}：{first['message']}", details=details) from None


def _spec(view: Callable) -> dict[str, Any]:
    return _SPECS.setdefault(f"{view.__module__}.{view.__qualname__}", {})


def describe(*, summary: str, response: type[Schema] | None = None,
             tags: list[str] | None = None) -> Callable:
    """Document a view that takes no body (GET, DELETE)."""

    def decorate(view: Callable) -> Callable:
        spec = _spec(view)
        spec.update(summary=summary, response=response, tags=tags)
        return view

    return decorate


def body(schema: type[Schema], *, summary: str, response: type[Schema] | None = None,
         tags: list[str] | None = None) -> Callable:
    """Validate the JSON body against `schema` and pass it as the view's first argument."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not request.is_json:
                raise AppError("请以 JSON 格式提交", code="unsupported_media_type")
            data = request.get_json(silent=True)
            if data is None:
                raise AppError("请求内容不是有效的 JSON", code="malformed_json")
            return view(parse(schema, data), *args, **kwargs)

        _spec(wrapper).update(summary=summary, body=schema, response=response, tags=tags)
        return wrapper

    return decorate


def query(schema: type[Schema]) -> Schema:
    """Validate the query string against `schema`."""
    return parse(schema, request.args.to_dict())


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}}}}},
}


def _views_specs(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            view = app.view_functions[rule.endpoint]
            yield _SPECS.get(f"{view.__module__}.{view.__qualname__}", {})


def _component_refs(app: Flask, components: dict) -> dict:
    """Every schema the views name, generated together so that two classes of one name in
    different modules (county's ChildOut, vaccination's ChildOut) get distinct components."""
    from pydantic.json_schema import models_json_schema
    models = set()
    for spec in _views_specs(app):
        for key in ("body", "response"):
            schema = spec.get(key)
            if typing.get_origin(schema) is list:
                schema = typing.get_args(schema)[0]
            if schema is not None:
                models.add(schema)
    ordered = sorted(models, key=lambda m: (m.__name__, m.__module__))
    mapping, defs = models_json_schema([(m, "validation") for m in ordered],
                                       ref_template="#/components/schemas/{model}")
    components.update(defs.get("$defs", {}))
    return {m: mapping[(m, "validation")] for m in ordered}


def document(app: Flask) -> dict[str, Any]:
    """OpenAPI 3.1 for every `/api/` rule, from the schemas the views declare."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    refs = _component_refs(app, components)

    def ref(schema) -> dict:
        if typing.get_origin(schema) is list:  # a view answering a JSON array
            return {"type": "array", "items": ref(typing.get_args(schema)[0])}
        return refs[schema]

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        spec = _SPECS.get(f"{view.__module__}.{view.__qualname__}", {})
        path = rule.rule
        params = []
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", f"{{{arg}}}")
            for conv in ("string", "int", "path"):
                path = path.replace(f"<{conv}:{arg}>", f"{{{arg}}}")
            params.append({"name": arg, "in": "path", "required": True,
                           "schema": {"type": "string"}})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": spec.get("summary", rule.endpoint),
                "responses": {
                    "default": {"description": "错误",
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}}}},
                },
            }
            ok: dict[str, Any] = {"description": "成功"}
            if spec.get("response"):
                ok["content"] = {"application/json": {"schema": ref(spec["response"])}}
            # 2XX: a view may answer 200, 201 (created) or 202 (accepted) with this schema
            op["responses"]["2XX"] = ok
            if spec.get("tags"):
                op["tags"] = spec["tags"]
            if params:
                op["parameters"] = params
            if spec.get("body") and method not in {"GET", "DELETE"}:
                op["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": ref(spec["body"])}}}
            if method not in {"GET"}:
                op.setdefault("parameters", []).append(
                    {"name": "X-CSRF-Token", "in": "header", "required": True,
                     "schema": {"type": "string"}})
            roles = getattr(view, "required_roles", None)
            if roles is not None:
                op["security"] = [{"session": []}]
                op["x-roles"] = list(roles)
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "CountyCare 县域基层健康服务 API", "version": app.config.get("RELEASE", "dev")},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "__Host-cc_session"}}},
    }
