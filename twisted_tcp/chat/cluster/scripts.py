"""
The Lua scripts that change several of the cluster's keys at once: those of
members and rooms here, those of nodes (heartbeats, loss, re-assertion) in
L{node_scripts}.

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

from twisted_tcp.chat.cluster.schema import LUA_NAMES

#: Entries kept in a room's log (C{XADD ... MAXLEN ~}): how far a node that was cut
#: off can fall behind in one room and still catch up without loss.
LOG_KEEP: Final = 10_000
#: Private messages kept in a node's inbox.
INBOX_KEEP: Final = 1_000
#: Seconds a lost node is remembered as lost, so that if it comes back its members
#: are announced again.
LOST_MEMORY: Final = 3600


#: Functions every script starts with. Room member values are
#: "NICK<TAB>NODE<TAB>SINCE"; nick owners are "NODE<TAB>NICK".
COMMON: Final = (
    LUA_NAMES
    + r"""
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
    event(room, keep, F.kind, kind, F.nick, nick, F.text, text, F.population,
      population, F.origin, origin)
  elseif kind ~= '' then
    event(room, keep, F.kind, kind, F.nick, nick, F.text, text, F.population,
      population)
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
      leave_room(room, nick_key, field(record, 1), K.departure, reason, default, keep,
        node)
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
)

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
    leave_room(current, nick_key, nick, K.departure, reason, default, keep)
  end
  redis.call('HSET', k('room', room, 'members'), nick_key,
    nick .. '\t' .. node .. '\t' .. since)
  redis.call('HSET', k('node', node, 'members'), nick_key, room)
  local population = redis.call('HLEN', k('room', room, 'members'))
  local id = event(room, keep, F.kind, kind, F.nick, nick, F.origin, node,
    F.token, token, F.population, population)
  local reply = {id, name, population,
    redis.call('GET', k('room', room, 'topic')) or ''}
  history = tonumber(history)
  if history > 0 then
    local past = redis.call('XREVRANGE', k('room', room, 'history'), '+', '-',
      'COUNT', history)
    for i = #past, 1, -1 do
      local fields = past[i][2]
      for j = 1, #fields, 2 do
        if fields[j] == F.text then table.insert(reply, fields[j + 1]) end
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
    COMMON
    + _ENTER
    + r"""
local node = ARGV[2]
local nick = new_guest(node)
if not nick then return redis.error_reply('no free guest nick') end
local reply = enter(node, nick, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9], '', K.entered, '')
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
    COMMON
    + _ENTER
    + r"""
return enter(ARGV[2], ARGV[10], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9], ARGV[11], K.arrival, ARGV[12])
"""
)

#: A member's connection ended (or it was dropped): out of its room and the nick
#: freed. ARGV: prefix, node, nick, room, event kind ('d' departure, 'n' notice, ''
#: none), reason or notice, default room, log keep.
LEAVE: Final = (
    COMMON
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
    COMMON
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
  event(room, ARGV[8], F.kind, K.notice, F.text, notice,
    F.population, redis.call('HLEN', k('room', room, 'members')))
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
    COMMON
    + r"""
local room, history, keep, node = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local lines = {}
local function post_lines()
  if #lines > 0 then
    event(room, keep, F.kind, K.messages, F.text, table.concat(lines, '\n'))
    lines = {}
  end
end
for i = 6, #ARGV, 2 do
  local kind, text = ARGV[i], ARGV[i + 1]
  if kind == K.arrival then
    post_lines()
    event(room, keep, F.kind, K.arrival, F.nick, text, F.origin, node,
      F.population, redis.call('HLEN', k('room', room, 'members')))
  else
    table.insert(lines, text)
    if history > 0 then
      pcall(redis.call, 'XADD', k('room', room, 'history'), 'MAXLEN', '~', history,
        '*', F.text, text)
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
    COMMON
    + r"""
local room = ARGV[2]
local fields = {}
for i = 4, #ARGV, 2 do
  table.insert(fields, ARGV[i])
  table.insert(fields, ARGV[i + 1])
  if ARGV[i] == F.topic then
    redis.call('SET', k('room', room, 'topic'), ARGV[i + 1])
  end
end
table.insert(fields, F.population)
table.insert(fields, redis.call('HLEN', k('room', room, 'members')))
return event(room, ARGV[3], unpack(fields))
"""
)

#: C{/msg}: a line for the node that holds a nick.
#: ARGV: prefix, nick, line, inbox keep. Returns the nick as its holder wrote it, or
#: false if nobody holds it.
PRIVATE: Final = (
    COMMON
    + r"""
local owner = redis.call('GET', k('nick', string.lower(ARGV[2])))
if not owner then return false end
redis.call('XADD', k('node', field(owner, 1), 'inbox'), 'MAXLEN', '~', ARGV[4], '*',
  F.nick, string.lower(ARGV[2]), F.text, ARGV[3])
return field(owner, 2)
"""
)

#: C{/rooms}, a page at a time: C{HSCAN} of the rooms from a cursor.
#: ARGV: prefix, cursor (0 to start), rooms asked for (a hint, as for C{HSCAN}).
#: Returns the next cursor (0: done), how many rooms there are, then each room's
#: key, name and population.
ROOMS: Final = (
    COMMON
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
