"""API errors as JSON ``{error, detail}`` with the right status (the service's ``InvalidInput`` is a 400,
``NotFound`` a 404), and the JSON body helpers that name the bad field (a malformed body is a 400 that says
which field)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from screener.service.errors import InvalidInput, NotFound

log = logging.getLogger("screener.admin")


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str = "", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        super().__init__(f"{status} {error}: {detail}")

    def response(self) -> web.Response:
        return web.json_response({"error": self.error, "detail": self.detail}, status=self.status,
                                 headers=self.headers)


def bad_request(field: str, problem: str) -> ApiError:
    return ApiError(400, "bad_request", f"{field}: {problem}")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    try:
        text = await request.text()
    except UnicodeDecodeError:
        raise bad_request("body", "not UTF-8 text") from None
    if not text.strip():
        raise bad_request("body", "empty: expected a JSON object")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request("body", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("body", f"expected a JSON object, got {type(body).__name__}")
    return body


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(name, "missing (required)")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(name, f"expected a non-empty string, got {json.dumps(value)}")
    return value.strip()


def check_fields(body: dict[str, Any], known: tuple[str, ...]) -> None:
    for name in body:
        if name not in known:
            raise bad_request(name, f"unknown field (known: {', '.join(known)})")


_STATUS_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


@web.middleware
async def errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return exc.response()
    except InvalidInput as exc:  # the service's own check of a value (a number, a campaign): it names it
        return ApiError(400, "bad_request", str(exc)).response()
    except NotFound as exc:
        return ApiError(404, "not_found", str(exc)).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _STATUS_ERRORS.get(exc.status, "http_error")
        return ApiError(exc.status, error, exc.reason, {k: v for k, v in exc.headers.items()
                                                        if k.lower() == "allow"}).response()
    except Exception:
        log.exception("admin API: %s %s failed", request.method, request.path)
        return ApiError(500, "internal_error", "the request failed; see the screener's log").response()
