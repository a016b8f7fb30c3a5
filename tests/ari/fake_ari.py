"""The fake Asterisk ARI of the ARI tests: ``screener.lab.fake_ari`` (the fault drills use it too)."""

from screener.lab.fake_ari import PASSWORD, USER, FakeAri, FakeChannel, Req

__all__ = ["PASSWORD", "USER", "FakeAri", "FakeChannel", "Req"]
