"""The live bus: the Redis contract (contract.py), the engine's publisher and command listener,
and the web side's reader. See docs/redis.md."""
