"""Secrets out of the config text stored with each version, whatever way the file writes them."""

from __future__ import annotations

import tomllib

import pytest

from screener.config.redact import MASK, redact, redacted_text

SECRET = "s3cr3t-Value"


@pytest.mark.parametrize("text", [
    f'[screener]\naudit_salt = "{SECRET}"\n',
    f'[screener]\naudit_salt = """{SECRET}"""\n',
    f"[screener]\naudit_salt = '''{SECRET}'''\n",
    f'screener.audit_salt = "{SECRET}"\n',
    f'[screener]\n"audit_salt" = "{SECRET}"\n',
    f'ari = {{ url = "http://pbx:8088", password = "{SECRET}" }}\n',
    f'[ari]\nPassword = "{SECRET}"  # a comment\n',
    f'[[sinks]]\nname = "a"\napi_token = "{SECRET}"\n',
    f'[screener]\nredis_url = "redis://h:6379/0?token={SECRET}"\n',
    f'[screener]\nredis_url = "redis://h:6379/0?api_key=user:{SECRET}"\n',
    f'[screener]\nredis_url = "redis://:p@{SECRET}@host:6379"\n',
    f'[screener]\nredis_url = "redis+sentinel://user:{SECRET}@h1:26379,h2:26379/mymaster?sentinel_password={SECRET}"\n',
    f'[ari]\nurl = "http://asterisk:{SECRET}@pbx:8088"\n',
    f'[lists]\nmirrors = ["redis://a:{SECRET}@h1", "redis://h2"]\n',
])
def test_no_way_of_writing_a_secret_keeps_it_in_the_stored_text(text: str) -> None:
    out = redacted_text(text.encode())
    assert SECRET not in out and "3cr3t" not in out
    assert MASK in out
    tomllib.loads(out)  # still TOML: `config show` and `audit why` load it


def test_everything_else_is_kept_byte_for_byte() -> None:
    text = ('# the main file\n[screener]\nredis_url = "redis://127.0.0.1:6379/0"  # local\n'
            'audit_salt = "x"\ntime_budget_ms = 150\n\n[campaigns.us]\nregion = "US"\n')
    assert redacted_text(text.encode()) == text.replace('audit_salt = "x"', f'audit_salt = "{MASK}"')


def test_an_empty_secret_stays_empty_and_text_that_is_not_toml_is_withheld() -> None:
    assert redacted_text(b'[screener]\naudit_salt = ""\n') == '[screener]\naudit_salt = ""\n'
    out = redacted_text(f'[screener\naudit_salt = "{SECRET}"\n'.encode())
    assert SECRET not in out and "withheld" in out


def test_redact_masks_user_info_and_secret_query_options_only() -> None:
    assert redact("redis://u:pw@h:6379/0?db=1&password=pw&ssl_keyfile=/k") == \
        f"redis://u:{MASK}@h:6379/0?db=1&password={MASK}&ssl_keyfile=/k"
    assert redact("http://pbx:8088") == "http://pbx:8088"


def test_comments_that_name_a_secret_or_hold_a_url_are_masked_and_a_hash_in_a_string_is_no_comment() -> None:
    text = (f'# redis_url = "redis://:{SECRET}@old-host"\n[screener]\n# audit_salt = "{SECRET}"\n'
            f'audit_salt = "x" # was redis://:{SECRET}@h\nname = "call #3 # not a comment"  # plain note\n'
            f'lines = [\n  "a",  # token {SECRET}\n  "b",\n]\ntext = """\n# inside a string {SECRET}\n"""\n')
    out = redacted_text(text.encode())
    assert out.count(SECRET) == 1 and f"# inside a string {SECRET}" in out  # a string's content is a value
    assert '"call #3 # not a comment"  # plain note' in out
    assert out.count(f"# {MASK}") == 4
    assert tomllib.loads(out)["screener"]["name"] == "call #3 # not a comment"
