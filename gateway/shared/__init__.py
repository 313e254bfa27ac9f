"""State shared between gateway instances through Redis: cooldowns and quota counters.

One instance needs none of this. Several instances behind a load balancer set
`GATEWAY_REDIS_URL` to the same Redis, so a route one of them saw fail rests for all, and a
free tier's limits count every instance's calls. When Redis cannot be reached, each instance
goes on with its own counters and cooldowns (and says so in the log and `/stats`); requests
never fail because of it.

LiteLLM's Router can keep its cooldowns and usage in Redis too, but the gateway does not use
the Router's cooldowns (see gateway/routing/cooldowns.py) and LiteLLM has no per-day quotas,
so this is the gateway's own.
"""
