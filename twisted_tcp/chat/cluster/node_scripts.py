"""
The Lua scripts of a node's life in the cluster: its heartbeat, the declaration of
nodes whose heartbeat is gone, its retirement when it stops, and the re-assertion of
its members when it comes back (see C{docs/cluster.md}, "What each failure does").
"""

from __future__ import annotations

from typing import Final

from twisted_tcp.chat.cluster.scripts import COMMON

#: A heartbeat, then a look for lost nodes: those whose heartbeat expired.
#: ARGV: prefix, node, heartbeat lifetime (ms).
#: Returns whether this node's own heartbeat was still there (0: it was lost or
#: Redis lost its data, and the node must re-assert its members), then the ids of
#: the nodes whose heartbeat is gone (see L{LOST}).
HEARTBEAT: Final = (
    COMMON
    + r"""
local node, ttl = ARGV[2], ARGV[3]
local alive = redis.call('SET', k('node', node), '1', 'PX', ttl, 'XX') and 1 or 0
local reply = {alive}
for _, other in ipairs(redis.call('SMEMBERS', k('nodes'))) do
  if other ~= node and redis.call('EXISTS', k('node', other)) == 0 then
    table.insert(reply, other)
  end
end
return reply
"""
)

#: Nodes declared lost: each one whose heartbeat is still gone is retired (its
#: members announced as lost in their rooms, their nicks freed) and remembered as
#: lost. ARGV: prefix, default room, log keep, seconds a lost node is remembered as
#: lost, the reason its members leave for, then the nodes' ids.
#: Returns the ids of the nodes retired.
LOST: Final = (
    COMMON
    + r"""
local default, keep, memory, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local retired = {}
for i = 6, #ARGV do
  local other = ARGV[i]
  if redis.call('SISMEMBER', k('nodes'), other) == 1
      and redis.call('EXISTS', k('node', other)) == 0 then
    retire(other, reason, default, keep)
    redis.call('SET', k('node', other, 'lost'), '1', 'EX', memory)
    table.insert(retired, other)
  end
end
return retired
"""
)

#: A node stops: its members leave their rooms, and it leaves the cluster.
#: ARGV: prefix, node, reason, default room, log keep.
RETIRE: Final = (
    COMMON
    + r"""
retire(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
redis.call('DEL', k('node', ARGV[2]))
return 1
"""
)

#: A node (re)joins the cluster, after starting or after Redis was away: its
#: heartbeat, and every one of its members as it knows them (the truth: Redis may have
#: lost its data, or declared the node lost, or missed a leave during the outage).
#: A member whose nick another node's member took meanwhile gets a new C{guest-N}.
#: A member the others saw leave (the node was declared lost) or renamed so comes
#: back with a 'b' event: its nick, its former nick, whether the node was lost.
#: ARGV: prefix, node, heartbeat lifetime (ms), default room, default room's name,
#: log keep, then per member: nick, room, room name, since; then '', then per room:
#: room, topic.
#: Returns whether the node had been declared lost (1 or 0), then the renamed
#: members: former nick, new nick, and so on.
REASSERT: Final = (
    COMMON
    + r"""
local node, ttl, default, keep = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
redis.call('SET', k('node', node), '1', 'PX', ttl)
redis.call('SADD', k('nodes'), node)
redis.call('HSETNX', k('rooms'), default, ARGV[5])
local was_lost = redis.call('DEL', k('node', node, 'lost')) == 1
local here, renamed = {}, {}
local i = 7
while ARGV[i] ~= '' do
  local was, room, name, since = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local nick = was
  local owner = redis.call('GET', k('nick', string.lower(was)))
  if owner and field(owner, 1) ~= node then
    nick = new_guest(node)
    if not nick then return redis.error_reply('no free guest nick') end
    table.insert(renamed, was)
    table.insert(renamed, nick)
  else
    redis.call('SET', k('nick', string.lower(was)), node .. '\t' .. was)
  end
  local nick_key = string.lower(nick)
  here[nick_key] = true
  local recorded = redis.call('HGET', k('node', node, 'members'), nick_key)
  if recorded and recorded ~= room then
    leave_room(recorded, nick_key, nick, '', '', default, keep)
  end
  redis.call('HSET', k('node', node, 'members'), nick_key, room)
  redis.call('HSETNX', k('rooms'), room, name)
  local new = redis.call('HSET', k('room', room, 'members'), nick_key,
    nick .. '\t' .. node .. '\t' .. since)
  if (new == 1 and was_lost) or nick ~= was then
    event(room, keep, F.kind, K.back, F.nick, nick, F.former, was,
      F.was_lost, was_lost and '1' or '', F.origin, node,
      F.population, redis.call('HLEN', k('room', room, 'members')))
  end
end
i = i + 1
while i <= #ARGV do
  redis.call('SET', k('room', ARGV[i], 'topic'), ARGV[i + 1], 'NX')
  i = i + 2
end
-- Members Redis still lists here that this node no longer has.
local listed = redis.call('HGETALL', k('node', node, 'members'))
for j = 1, #listed, 2 do
  local nick_key, room = listed[j], listed[j + 1]
  if not here[nick_key] then
    local record = redis.call('HGET', k('room', room, 'members'), nick_key)
    if record and field(record, 2) == node then
      leave_room(room, nick_key, field(record, 1), K.departure, 'connection lost',
        default, keep)
    end
    redis.call('HDEL', k('node', node, 'members'), nick_key)
    if owned(nick_key, node) then redis.call('DEL', k('nick', nick_key)) end
  end
end
table.insert(renamed, 1, was_lost and 1 or 0)
return renamed
"""
)
