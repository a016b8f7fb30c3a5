"""The admin HTTP front end: health, Prometheus metrics, the JSON API under /api/v1/ with bearer tokens and
roles, and the supervisor web page. It knows only the service layer (never ``screener.store``)."""

from screener.admin.server import AdminServer, admin_context, admin_server

__all__ = ["AdminServer", "admin_context", "admin_server"]
