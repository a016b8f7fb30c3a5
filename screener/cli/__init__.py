"""The ``screener`` command line."""
