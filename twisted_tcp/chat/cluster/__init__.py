"""
The chat cluster of C{twist tcp-chat --redis URL}: several chat processes acting as
one chat through Redis (see C{docs/cluster.md}).

The modules here import the Redis client, which needs the reactor installed: import
them only once it is (the tap does so when it builds the service).
"""
