"""The lab: a real Asterisk 22 in a cached Debian sid chroot, and sipp, on loopback (tests, demo, bench)."""

from screener.lab.sandbox import AsteriskSandbox, SandboxError, build_root, root_path

__all__ = ["AsteriskSandbox", "SandboxError", "build_root", "root_path"]
