"""
The chat cluster of C{twist tcp-chat --redis URL}: several chat processes acting as
one chat through Redis (see C{docs/cluster.md}).

    - L{service}: L{RedisChat}, a node's chat service, made of the parts below;
    - L{schema}: the keys, and the fields and kinds of the rooms' logs, named;
    - L{scripts}, L{node_scripts}: the Lua scripts that change several keys at once;
    - L{outbox}: what the node's members post, batched per room and reactor turn;
    - L{admission}: a member's way into a room, at its join event in the log;
    - L{membership}: a member's departure and rename;
    - L{availability}: Redis refusing, away and back, and the node's re-assertion;
    - L{presence}: the node's heartbeat, and the declaration of lost nodes;
    - L{events}: what each entry of a room's log shows the node's members;
    - L{queries}: what C{/who} and C{/rooms} ask of Redis;
    - L{link}, L{reader}, L{address}: a connection to Redis that stays up, the
      reader of the rooms' logs, and the C{--redis} URL.

The modules here import the Redis client, which needs the reactor installed: import
them only once it is (the tap does so when it builds the service).
"""
