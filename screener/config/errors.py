"""The error a bad config raises: it names the file, the key and the problem."""

from __future__ import annotations


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` reads ``FILE: KEY: PROBLEM``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")
