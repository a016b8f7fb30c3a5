"""Redis URLs of every topology parsed into one frozen value; bad ones refused with the URL named, secrets hidden."""

from __future__ import annotations

import dataclasses

import pytest

from screener.store.topology import Endpoint, RedisUrlError, Topology, parse_redis_url, redact

SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://", "redis+cluster://",
           "rediss+cluster://")


def test_one_server_by_tcp_with_user_password_and_db() -> None:
    url = parse_redis_url("redis://app:s3cret@10.0.0.5:6380/2")
    assert (url.topology, url.tls, url.endpoints, url.db) == (Topology.SERVER, False, (Endpoint("10.0.0.5", 6380),), 2)
    assert (url.username, url.password) == ("app", "s3cret")
    assert parse_redis_url("redis://localhost").endpoints == (Endpoint("localhost", 6379),)
    assert parse_redis_url("redis://localhost/").db == 0
    assert parse_redis_url("redis://h?db=4").db == 4


def test_one_server_over_tls_takes_the_tls_options() -> None:
    url = parse_redis_url("rediss://h:6390/0?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=optional&ssl_check_hostname=no")
    assert url.tls and url.topology is Topology.SERVER
    assert dict(url.tls_options) == {"ssl_ca_certs": "/etc/ca.pem", "ssl_cert_reqs": "optional",
                                     "ssl_check_hostname": False}


def test_unix_socket_with_db_and_password_option() -> None:
    url = parse_redis_url("unix:///var/lib/screener/redis.sock?db=3&password=pw")
    assert (url.path, url.db, url.password, url.endpoints) == ("/var/lib/screener/redis.sock", 3, "pw", ())
    assert parse_redis_url("unix://:pw@/run/r.sock").password == "pw"


def test_sentinel_hosts_service_db_and_both_passwords() -> None:
    url = parse_redis_url("redis+sentinel://app:m%40ster%3Apw@s1,s2:26380,[::1]:26381/mymaster/3"
                          "?sentinel_password=s%23pw&sentinel_username=watcher")
    assert url.topology is Topology.SENTINEL and not url.tls
    assert url.endpoints == (Endpoint("s1", 26379), Endpoint("s2", 26380), Endpoint("::1", 26381))
    assert (url.service, url.db) == ("mymaster", 3)
    assert (url.username, url.password) == ("app", "m@ster:pw")
    assert (url.sentinel_username, url.sentinel_password) == ("watcher", "s#pw")
    assert parse_redis_url("redis+sentinel://s1/mymaster").db == 0
    assert parse_redis_url("rediss+sentinel://s1:26379/m?ssl_ca_certs=/ca.pem").tls


def test_cluster_seed_nodes() -> None:
    url = parse_redis_url("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3")
    assert url.topology is Topology.CLUSTER and url.password == "pw" and url.db == 0
    assert url.endpoints == (Endpoint("10.0.0.1", 7000), Endpoint("10.0.0.2", 7001), Endpoint("10.0.0.3", 6379))
    assert parse_redis_url("REDISS+CLUSTER://a:7000/0").tls


def test_the_value_is_frozen_and_its_repr_shows_no_secret() -> None:
    url = parse_redis_url("redis+sentinel://:topsecret@s1/m?sentinel_password=alsosecret")
    with pytest.raises(dataclasses.FrozenInstanceError):
        url.db = 1  # type: ignore[misc]
    assert "topsecret" not in repr(url) and "alsosecret" not in repr(url)
    assert url.redacted == "redis+sentinel://:***@s1/m?sentinel_password=***"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sentinel://s1:26379/mymaster", "unknown scheme 'sentinel://'"),
        ("http://h:6379", "unknown scheme 'http://'"),
        ("localhost:6379", "no scheme://"),
        ("redis://", "a host is missing"),
        ("redis://h:0", "bad port"),
        ("redis://h:70000/0", "bad port"),
        ("redis://h:63a9", "bad port"),
        ("redis://h/x", "the database must be a number"),
        ("redis://a:1,b:2", "one host only"),
        ("redis://h?socket_timeout=1", "unknown option 'socket_timeout'"),
        ("redis://h?ssl_ca_certs=/ca.pem", "TLS options need a rediss scheme"),
        ("rediss://h?ssl_cert_reqs=maybe", "ssl_cert_reqs is one of"),
        ("redis://h?db=1&db=2", "given twice"),
        ("redis://:a@h?password=b", "the password is given twice"),
        ("redis://h?db", "not name=value pairs"),
        ("redis://:pw#x@h", "'#' must be percent-encoded"),
        ("unix://relative.sock", "absolute socket path"),
        ("redis+sentinel://s1:26379,s2:26379", "names the master's service"),
        ("redis+sentinel://s1:26379/m/one", "the database must be a number"),
        ("redis+sentinel://s1,,s2/m", "a host is missing"),
        ("redis+sentinel://s1/m?sentinel=1", "unknown option 'sentinel'"),
        ("redis+cluster://a:7000,b:7001/3", "database 0 only"),
        ("redis+cluster://a:7000?sentinel_password=x", "unknown option 'sentinel_password'"),
        ("redis+cluster://a b:7000", "bad host"),
    ],
)
def test_bad_urls_are_refused_naming_the_url_and_the_schemes(text: str, problem: str) -> None:
    with pytest.raises(RedisUrlError) as caught:
        parse_redis_url(text)
    message = str(caught.value)
    assert problem in message
    assert repr(redact(text)) in message
    assert all(scheme in message for scheme in SCHEMES)


def test_an_error_never_prints_a_password() -> None:
    for text in ("sentinel://:hunter2@s1:26379/m", "redis+sentinel://u:hunter2@s1:99999/m",
                 "redis+sentinel://s1/m?sentinel_password=hunter2&bogus=1", "redis://:hunt/er2@h/x",
                 "redis+cluster://:hunter2@a:7000/5", "bogus:hunter2@h"):
        with pytest.raises(RedisUrlError) as caught:
            parse_redis_url(text)
        assert "hunter2" not in str(caught.value) and "***" in str(caught.value), text


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("redis://:secret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://user:secret@host/1", "redis://user:***@host/1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("unix:///run/redis.sock?db=0&password=pw", "unix:///run/redis.sock?db=0&password=***"),
        ("redis+sentinel://u:p%40ss@s1:1,s2:2/m/0?sentinel_password=x&db=1",
         "redis+sentinel://u:***@s1:1,s2:2/m/0?sentinel_password=***&db=1"),
        ("redis+cluster://user@a:1", "redis+cluster://user@a:1"),
        ("redis://:p@ss@h:1", "redis://:***@h:1"),
        ("rediss://h:1/0?ssl_keyfile=/etc/k.pem&ssl_certfile=/etc/c.pem",
         "rediss://h:1/0?ssl_keyfile=/etc/k.pem&ssl_certfile=/etc/c.pem"),
        # an ARI URL: basic auth in it, a token or key as a query option
        ("http://screener:ari-pw@127.0.0.1:8088", "http://screener:***@127.0.0.1:8088"),
        ("https://pbx:8089/ari?api_key=screener:ari-pw&x=1", "https://pbx:8089/ari?api_key=***&x=1"),
        ("http://pbx:8088?access_token=abc&Auth=def", "http://pbx:8088?access_token=***&Auth=***"),
    ],
)
def test_redact(text: str, redacted: str) -> None:
    assert redact(text) == redacted
