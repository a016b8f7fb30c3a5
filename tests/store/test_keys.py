"""Key names: what a decision computes in one go equals the one-key functions the rest of the store uses; the
audit trail's number hash is the documented HMAC-SHA256 (an auditor's own tools can compute it)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from screener.service.audit_fields import number_hash
from screener.store import keys


@pytest.mark.parametrize("e164", ["+12015550123", "+8613800138000", "+442071838750", "+35220123", "+1234"])
def test_number_keys_are_the_one_key_functions_at_once(e164: str) -> None:
    assert keys.number_keys(e164) == (keys.attempts_key(e164), keys.consent_key(e164), keys.refusal_key(e164),
                                      keys.block_id(e164), keys.tag_suffix(e164), keys.block_suffix(e164))


def test_the_number_hash_is_hmac_sha256_of_the_number_keyed_with_the_salt() -> None:
    for salt, e164 in (("test-salt", "+12125550142"), ("other", "+12125550142"), ("test-salt", "+8613800138000")):
        expected = hmac.new(salt.encode(), e164.encode(), hashlib.sha256).hexdigest()[:24]
        assert number_hash(e164, salt) == expected
