"""ARI mode: a thin aiohttp ARI client and the Stasis application that screens outbound calls."""

from screener.ari.app import StasisApp
from screener.ari.call import Call
from screener.ari.client import AriClient, AriError, AriNotFound, Backoff, new_id
from screener.ari.legs import Outcome
from screener.ari.options import AppOptions
from screener.ari.runner import run_ari

__all__ = ["AppOptions", "AriClient", "AriError", "AriNotFound", "Backoff", "Call", "Outcome",
           "StasisApp", "new_id", "run_ari"]
