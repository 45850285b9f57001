"""The CacheManager and its parts: keys, TTL policy, negative-cache registry, circuit breaker."""
