"""Outbound call screening middleware for Asterisk."""

__version__ = "0.1.0"
