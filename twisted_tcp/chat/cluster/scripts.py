"""
The chat cluster's keys and the Lua scripts that change several of them at once.

Redis runs a script whole, with no other command in between, so a change that touches
several keys (a member joining: its nick, its room's member list, the room's log) is
never seen half done, and two nodes racing for the same thing (a nick, declaring a node
lost) cannot interleave: exactly one wins. The layout of the keys is in
C{docs/cluster.md}, "Keys".

Every script gets the key prefix (C{--cluster}) as its first argument and builds the
key names from it, as the layout says: a single Redis server, not Redis Cluster.
"""

from __future__ import annotations

from typing import Final

#: Entries kept in a room's log (C{XADD ... MAXLEN ~}): how far a node that was cut
#: off can fall behind in one room and still catch up without loss.
LOG_KEEP: Final = 10_000
#: Private messages kept in a node's inbox.
INBOX_KEEP: Final = 1_000
#: Seconds a lost node is remembered as lost, so that if it comes back its members
#: are announced again.
LOST_MEMORY: Final = 3600


class Keys:
    """The names of the cluster's keys under one prefix (see C{docs/cluster.md})."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes = f"{prefix}:nodes"
        self.rooms = f"{prefix}:rooms"

    def room_log(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:log"

    def room_members(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:members"

    def room_topic(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:topic"

    def nick(self, nick: str) -> str:
        return f"{self.prefix}:nick:{nick}"

    def node(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def inbox(self, node: str) -> str:
        return f"{self.prefix}:node:{node}:inbox"

    def room_of_log(self, key: str) -> str | None:
        """The room whose log C{key} is, or C{None} if it is no room's log."""
        head = f"{self.prefix}:room:"
        if key.startswith(head) and key.endswith(":log"):
            return key[len(head) : -len(":log")]
        return None


#: Functions every script below starts with. Room member values are
#: "NICK<TAB>NODE<TAB>SINCE"; nick owners are "NODE<TAB>NICK".
_COMMON: Final = r"""
local P = ARGV[1]
local function k(...) return P .. ':' .. table.concat({...}, ':') end
local function field(value, n)
  local i = 0
  for part in string.gmatch(value, '[^\t]+') do
    i = i + 1
    if i == n then return part end
  end
  return nil
end
local function owned(nick_key, node)
  local owner = redis.call('GET', k('nick', nick_key))
  return owner and field(owner, 1) == node
end
-- Append an event to a room's log; returns its id.
local function event(room, keep, ...)
  return redis.call('XADD', k('room', room, 'log'), 'MAXLEN', '~', keep, '*', ...)
end
-- A member leaves ROOM: an event of kind KIND ('' for none) and, if the room is now
-- empty and not the default room, the room disappears. ORIGIN, if given, is the
-- node the member was on, when that node is being retired (lost or stopping).
local function leave_room(room, nick_key, nick, kind, text, default, keep, origin)
  redis.call('HDEL', k('room', room, 'members'), nick_key)
  local population = redis.call('HLEN', k('room', room, 'members'))
  if kind ~= '' and origin then
    event(room, keep, 'k', kind, 'u', nick, 't', text, 'p', population, 'o', origin)
  elseif kind ~= '' then
    event(room, keep, 'k', kind, 'u', nick, 't', text, 'p', population)
  end
  if population == 0 and room ~= default then
    redis.call('HDEL', k('rooms'), room)
    redis.call('DEL', k('room', room, 'topic'))
  end
end
-- Forget every member of NODE (lost or stopping), telling their rooms why.
local function retire(node, reason, default, keep)
  local members = redis.call('HGETALL', k('node', node, 'members'))
  for i = 1, #members, 2 do
    local nick_key, room = members[i], members[i + 1]
    local record = redis.call('HGET', k('room', room, 'members'), nick_key)
    if record and field(record, 2) == node then
      leave_room(room, nick_key, field(record, 1), 'd', reason, default, keep, node)
    end
    if owned(nick_key, node) then redis.call('DEL', k('nick', nick_key)) end
  end
  redis.call('DEL', k('node', node, 'members'), k('node', node, 'inbox'))
  redis.call('SREM', k('nodes'), node)
end
-- A guest-N nick that nobody holds, now held by a member of NODE (nil if none is
-- found: not in practice).
local function new_guest(node)
  for _ = 1, 100000 do
    local nick = 'guest-' .. redis.call('INCR', k('guests'))
    if redis.call('SET', k('nick', nick), node .. '\t' .. nick, 'NX') then
      return nick
    end
  end
  return nil
end
"""

#: Into a room: the member is listed there, and an event in the room's log marks the
#: moment from which the member's node delivers the room to it (the event's token
#: tells that node which of its members it is). Returns that event's id, the room's
#: name, its population, its topic and its last HISTORY messages, oldest first.
_ENTER: Final = r"""
local function enter(node, nick, since, room, name, token, history, default, keep,
                     current, kind, moved)
  local nick_key = string.lower(nick)
  redis.call('HSETNX', k('rooms'), room, name)
  name = redis.call('HGET', k('rooms'), room)
  if current ~= '' then
    local reason = string.gsub(moved, '{room}', name, 1)
    leave_room(current, nick_key, nick, 'd', reason, default, keep)
  end
  redis.call('HSET', k('room', room, 'members'), nick_key,
    nick .. '\t' .. node .. '\t' .. since)
  redis.call('HSET', k('node', node, 'members'), nick_key, room)
  local population = redis.call('HLEN', k('room', room, 'members'))
  local id = event(room, keep, 'k', kind, 'u', nick, 'o', node, 'c', token,
    'p', population)
  local reply = {id, name, population,
    redis.call('GET', k('room', room, 'topic')) or ''}
  history = tonumber(history)
  if history > 0 then
    local past = redis.call('XREVRANGE', k('room', room, 'history'), '+', '-',
      'COUNT', history)
    for i = #past, 1, -1 do
      local fields = past[i][2]
      for j = 1, #fields, 2 do
        if fields[j] == 't' then table.insert(reply, fields[j + 1]) end
      end
    end
  end
  return reply
end
"""

#: A newcomer: a free C{guest-N} nick, then into a room, silently (its arrival is
#: announced later, see L{EVENT}).
#: ARGV: prefix, node, since, room, room name, token, history, default room, log keep.
#: Returns the nick, then what entering a room returns.
CONNECT: Final = (
    _COMMON
    + _ENTER
    + r"""
local node = ARGV[2]
local nick = new_guest(node)
if not nick then return redis.error_reply('no free guest nick') end
local reply = enter(node, nick, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9], '', 's', '')
table.insert(reply, 1, nick)
return reply
"""
)

#: C{/join}, C{/part}: out of the current room (with a departure event) and into
#: another (with an arrival event).
#: ARGV: prefix, node, since, room, room name, token, history, default room, log keep,
#: nick, current room, the departure's reason (L{texts.MOVED}: C{{room}} is replaced
#: by the room's name).
ENTER: Final = (
    _COMMON
    + _ENTER
    + r"""
return enter(ARGV[2], ARGV[10], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9], ARGV[11], 'a', ARGV[12])
"""
)

#: A member's connection ended (or it was dropped): out of its room and the nick
#: freed. ARGV: prefix, node, nick, room, event kind ('d' departure, 'n' notice, ''
#: none), reason or notice, default room, log keep.
LEAVE: Final = (
    _COMMON
    + r"""
local node, nick, room = ARGV[2], ARGV[3], ARGV[4]
local nick_key = string.lower(nick)
redis.call('HDEL', k('node', node, 'members'), nick_key)
local record = redis.call('HGET', k('room', room, 'members'), nick_key)
if record and field(record, 2) == node then
  leave_room(room, nick_key, nick, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
end
if owned(nick_key, node) then redis.call('DEL', k('nick', nick_key)) end
return 1
"""
)

#: C{/nick}: claim the new nick (exactly one claimant wins), free the old one.
#: ARGV: prefix, node, old nick, new nick, room, since, notice ('' for none), log keep.
#: Returns C{{1}}, or C{{0, HOLDER}} if the nick is taken.
RENAME: Final = (
    _COMMON
    + r"""
local node, old, new, room, since, notice = ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], ARGV[7]
local old_key, new_key = string.lower(old), string.lower(new)
local holder = redis.call('GET', k('nick', new_key))
if holder and not (new_key == old_key and field(holder, 1) == node) then
  return {0, field(holder, 2)}
end
redis.call('SET', k('nick', new_key), node .. '\t' .. new)
if new_key ~= old_key and owned(old_key, node) then
  redis.call('DEL', k('nick', old_key))
end
local record = redis.call('HGET', k('room', room, 'members'), old_key)
if record and field(record, 2) == node then
  redis.call('HDEL', k('room', room, 'members'), old_key)
end
redis.call('HSET', k('room', room, 'members'), new_key,
  new .. '\t' .. node .. '\t' .. since)
redis.call('HDEL', k('node', node, 'members'), old_key)
redis.call('HSET', k('node', node, 'members'), new_key, room)
if notice ~= '' then
  event(room, ARGV[8], 'k', 'n', 't', notice,
    'p', redis.call('HLEN', k('room', room, 'members')))
end
return {1}
"""
)

#: What this node's members posted to one room: messages and C{/me} actions, and
#: arrivals (with the room's population). Consecutive messages are one event of the
#: log, their lines joined by newlines (a line never holds one): the readers of
#: every node parse and dispatch one entry for them, not one per line. Each message
#: is also an entry of the room's history. ARGV: prefix, room, history kept, log
#: keep, node, then per event its kind ('m' a line, 'a' an arrival) and its text (the
#: line, or the newcomer's nick).
POST: Final = (
    _COMMON
    + r"""
local room, history, keep, node = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local lines = {}
local function post_lines()
  if #lines > 0 then
    event(room, keep, 'k', 'm', 't', table.concat(lines, '\n'))
    lines = {}
  end
end
for i = 6, #ARGV, 2 do
  local kind, text = ARGV[i], ARGV[i + 1]
  if kind == 'a' then
    post_lines()
    event(room, keep, 'k', 'a', 'u', text, 'o', node,
      'p', redis.call('HLEN', k('room', room, 'members')))
  else
    table.insert(lines, text)
    if history > 0 then
      pcall(redis.call, 'XADD', k('room', room, 'history'), 'MAXLEN', '~', history,
        '*', 't', text)
    end
  end
end
post_lines()
"""
)

#: An event for a room's members, such as a topic change.
#: ARGV: prefix, room, log keep, then field, value pairs. Sets the topic when one of
#: the fields is 'v'.
EVENT: Final = (
    _COMMON
    + r"""
local room = ARGV[2]
local fields = {}
for i = 4, #ARGV, 2 do
  table.insert(fields, ARGV[i])
  table.insert(fields, ARGV[i + 1])
  if ARGV[i] == 'v' then redis.call('SET', k('room', room, 'topic'), ARGV[i + 1]) end
end
table.insert(fields, 'p')
table.insert(fields, redis.call('HLEN', k('room', room, 'members')))
return event(room, ARGV[3], unpack(fields))
"""
)

#: C{/msg}: a line for the node that holds a nick.
#: ARGV: prefix, nick, line, inbox keep. Returns the nick as its holder wrote it, or
#: false if nobody holds it.
PRIVATE: Final = (
    _COMMON
    + r"""
local owner = redis.call('GET', k('nick', string.lower(ARGV[2])))
if not owner then return false end
redis.call('XADD', k('node', field(owner, 1), 'inbox'), 'MAXLEN', '~', ARGV[4], '*',
  'u', string.lower(ARGV[2]), 't', ARGV[3])
return field(owner, 2)
"""
)

#: C{/rooms}, a page at a time: C{HSCAN} of the rooms from a cursor.
#: ARGV: prefix, cursor (0 to start), rooms asked for (a hint, as for C{HSCAN}).
#: Returns the next cursor (0: done), how many rooms there are, then each room's
#: key, name and population.
ROOMS: Final = (
    _COMMON
    + r"""
local page = redis.call('HSCAN', k('rooms'), ARGV[2], 'COUNT', ARGV[3])
local rooms = page[2]
local reply = {page[1], redis.call('HLEN', k('rooms'))}
for i = 1, #rooms, 2 do
  local room = rooms[i]
  table.insert(reply, room)
  table.insert(reply, rooms[i + 1])
  table.insert(reply, redis.call('HLEN', k('room', room, 'members')))
end
return reply
"""
)

#: A heartbeat, then a look for lost nodes: each node whose heartbeat expired is
#: retired (its members announced as lost in their rooms, their nicks freed).
#: ARGV: prefix, node, heartbeat lifetime (ms), default room, log keep, seconds a lost
#: node is remembered as lost.
#: Returns whether this node's own heartbeat was still there (0: it was lost or
#: Redis lost its data, and the node must re-assert its members), then the ids of
#: the nodes declared lost.
HEARTBEAT: Final = (
    _COMMON
    + r"""
local node, ttl, default, keep = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local alive = redis.call('SET', k('node', node), '1', 'PX', ttl, 'XX') and 1 or 0
local reply = {alive}
for _, other in ipairs(redis.call('SMEMBERS', k('nodes'))) do
  if other ~= node and redis.call('EXISTS', k('node', other)) == 0 then
    retire(other, 'server lost', default, keep)
    redis.call('SET', k('node', other, 'lost'), '1', 'EX', ARGV[6])
    table.insert(reply, other)
  end
end
return reply
"""
)

#: A node stops: its members leave their rooms, and it leaves the cluster.
#: ARGV: prefix, node, reason, default room, log keep.
RETIRE: Final = (
    _COMMON
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
    _COMMON
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
    event(room, keep, 'k', 'b', 'u', nick, 'w', was, 'l', was_lost and '1' or '',
      'o', node, 'p', redis.call('HLEN', k('room', room, 'members')))
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
      leave_room(room, nick_key, field(record, 1), 'd', 'connection lost', default,
        keep)
    end
    redis.call('HDEL', k('node', node, 'members'), nick_key)
    if owned(nick_key, node) then redis.call('DEL', k('nick', nick_key)) end
  end
end
table.insert(renamed, 1, was_lost and 1 or 0)
return renamed
"""
)
