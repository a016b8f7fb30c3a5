"""What a store that cannot answer raises: a decision blocks on it (screening_unavailable), a write waits in
the spool. (A Redis Cluster with no reachable node raises RedisClusterException, which is no RedisError.)"""

from __future__ import annotations

from redis.exceptions import RedisClusterException, RedisError

STORE_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError, ConnectionError)
