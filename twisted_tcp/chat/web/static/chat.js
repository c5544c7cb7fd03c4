// The chat page: one WebSocket, one line of the chat's line protocol per message
// each way (docs/chat-protocol.md, docs/chat-web.md). Every string from the server
// is inserted as text (textContent), never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const say = $("say");
  const nickInput = $("nick");
  const statusLine = $("status");
  const more = $("more");

  const MAX_LINES = 2000; // older lines are removed from the page
  const MAX_DELAY = 30; // seconds between reconnection attempts, at most
  const NICK_COLOURS = 8;

  const state = {
    socket: null,
    nick: "",
    room: "",
    // Kept per tab, so that two tabs are two members and a reload keeps the nick.
    wantedNick: sessionStorage.getItem("chat-nick") || "",
    wantedRoom: "",
    people: new Set(),
    pending: [], // replies to our own /who and /rooms, in order, not shown
    reply: null, // the multi-line reply being read: {kind, left, hidden, items}
    attempts: 0,
    connectedOnce: false,
    rejoining: false, // back in the room we were in before a reconnection
    // The last topic notice, whatever its room: on connecting it comes before the
    // page knows which room it is in.
    topic: { room: "", text: "" },
  };

  // Lines.

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function toBottom() {
    log.scrollTop = log.scrollHeight;
    more.hidden = true;
  }

  function span(className, text) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function nickClass(nick) {
    let hash = 0;
    for (const char of nick.toLowerCase()) {
      hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    }
    return `nick nick-${hash % NICK_COLOURS}`;
  }

  // [stamp] <nick> text; [stamp] * nick action; [stamp] *nick* text; [stamp] -> *nick* text
  const MESSAGE = /^\[([^\]]*)\] (?:<([^>]*)>|\* (\S+)|\*(\S+)\*|-> \*(\S+)\*) (.*)$/s;

  function render(text, local) {
    const item = document.createElement("li");
    const message = MESSAGE.exec(text);
    if (local) {
      item.className = "local";
      item.textContent = text;
    } else if (message) {
      const [, stamp, said, acted, from, to, body] = message;
      const nick = said ?? acted ?? from ?? to;
      const time = span("stamp", stamp.split(" ").pop());
      time.title = stamp;
      item.className = said ? "message" : acted ? "action" : "private";
      if (nick === state.nick) item.classList.add("mine");
      const who = span(nickClass(nick), to ? `→ ${nick}` : acted ? `* ${nick}` : nick);
      item.append(time, " ", who, " ", span("text", body));
    } else {
      item.className = text.startsWith("error: ") ? "error" : "notice";
      item.textContent = text;
    }
    return item;
  }

  function show(text, local = false) {
    const follow = atBottom();
    log.append(render(text, local));
    while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
    if (follow) toBottom();
    else more.hidden = false;
  }

  // The sidebar: people in the room, the rooms.

  function showPeople() {
    const list = $("people");
    list.replaceChildren(
      ...[...state.people]
        .sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }))
        .map((nick) => {
          const item = document.createElement("li");
          item.append(span(nickClass(nick), nick));
          if (nick === state.nick) item.classList.add("me");
          return item;
        }),
    );
    $("people-title").textContent = `People (${state.people.size})`;
  }

  function showRooms(rooms) {
    $("rooms").replaceChildren(
      ...rooms.map(({ name, count, topic }) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.append(span("room", name), " ", span("count", `${count}`));
        if (topic) button.title = topic;
        if (name.toLowerCase() === state.room.toLowerCase()) {
          button.classList.add("current");
          button.setAttribute("aria-current", "true");
        }
        button.addEventListener("click", () => join(name));
        item.append(button);
        return item;
      }),
    );
  }

  function showWhere() {
    $("room-name").textContent = state.room || "chat";
    const { room, text } = state.topic;
    $("topic").textContent = room.toLowerCase() === state.room.toLowerCase() ? text : "";
    document.title = state.room ? `${state.room} — chat` : "chat";
    if (document.activeElement !== nickInput) nickInput.value = state.nick;
    showStatus();
  }

  function showStatus(text) {
    statusLine.textContent =
      text ?? (state.nick ? `${state.nick}${state.room ? ` in ${state.room}` : ""}` : "");
    statusLine.className = state.socket ? "online" : "offline";
  }

  // What the server says.

  const REPLY_HEADERS = [
    ["who", /^\* (\d+) (?:connected|in (#\S+)):$/],
    ["rooms", /^\* (\d+) rooms:$/],
  ];

  function receive(line) {
    if (state.reply) {
      readReplyLine(line);
      return;
    }
    for (const [kind, pattern] of REPLY_HEADERS) {
      const header = pattern.exec(line);
      if (header) {
        startReply(kind, Number(header[1]), header[2], line);
        return;
      }
    }
    if (line.startsWith("error: unknown command /") && state.pending.length) {
      // A server without the command we asked for (an older one without rooms).
      const kind = line.slice("error: unknown command /".length).split(" ")[0];
      if (kind === state.pending[0]) {
        state.pending.shift();
        return;
      }
    }
    notice(line);
    show(line);
  }

  function startReply(kind, count, room, line) {
    const hidden = state.pending[0] === kind;
    if (hidden) state.pending.shift();
    else show(line);
    if (kind === "who" && room && room !== state.room) {
      state.room = room;
      showWhere();
    }
    state.reply = { kind, left: count, hidden, items: [] };
    if (count === 0) finishReply();
  }

  function readReplyLine(line) {
    const reply = state.reply;
    if (!reply.hidden) show(line);
    const item = /^\* {3}(\S+) \((.*?)\)(?:: (.*))?$/.exec(line);
    if (item) reply.items.push({ name: item[1], count: item[2], topic: item[3] ?? "" });
    reply.left -= 1;
    if (reply.left <= 0) finishReply();
  }

  function finishReply() {
    const { kind, items } = state.reply;
    state.reply = null;
    if (kind === "who") {
      state.people = new Set(items.map((item) => item.name));
      showPeople();
      if (state.wantedRoom && state.wantedRoom.toLowerCase() !== state.room.toLowerCase()) {
        state.rejoining = send(`/join ${state.wantedRoom}`);
      }
    } else {
      showRooms(items);
    }
  }

  function notice(line) {
    let match;
    if ((match = /^\* Welcome, ([^!\s]+)!/.exec(line))) {
      state.nick = match[1];
    } else if ((match = /^\* (\S+) is now known as (\S+)$/.exec(line))) {
      const [, old, nick] = match;
      if (old === state.nick) {
        state.nick = state.wantedNick = nick;
        sessionStorage.setItem("chat-nick", nick);
      }
      if (state.people.delete(old)) state.people.add(nick);
      showPeople();
    } else if ((match = /^\* you are now in (#\S+);/.exec(line))) {
      state.room = state.wantedRoom = match[1];
      state.people = new Set([state.nick]);
      log.replaceChildren(); // the room's history follows
      if (state.rejoining) show("* reconnected", true);
      state.rejoining = false;
      state.topic = { room: state.room, text: "" };
      query("who");
      query("rooms");
    } else if ((match = /^\* (\S+) joined (#\S+)$/.exec(line))) {
      if (match[2] === state.room) state.people.add(match[1]);
      showPeople();
    } else if ((match = /^\* (\S+) (?:left(?: #\S+)?|dropped) \(/.exec(line))) {
      state.people.delete(match[1]);
      showPeople();
    } else if ((match = /^\* (?:topic of|\S+ set the topic of) (#\S+): (.*)$/.exec(line))) {
      state.topic = { room: match[1], text: match[2] };
    } else if ((match = /^\* (#\S+) has no topic$/.exec(line))) {
      state.topic = { room: match[1], text: "" };
    }
    showWhere();
  }

  // Talking to the server.

  function send(line) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(line);
    return true;
  }

  function query(kind) {
    if (send(`/${kind}`)) state.pending.push(kind);
  }

  function join(name) {
    const room = name.startsWith("#") ? name : `#${name}`;
    if (room.toLowerCase() !== state.room.toLowerCase()) send(`/join ${room}`);
    document.body.classList.remove("panel-open");
  }

  function socketUrl() {
    const url = new URL("ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url;
  }

  function connect() {
    const socket = new WebSocket(socketUrl());
    socket.addEventListener("open", () => {
      state.socket = socket;
      state.pending = [];
      state.reply = null;
      state.attempts = 0;
      if (state.connectedOnce) show("* reconnected", true);
      state.connectedOnce = true;
      // The nick first, as the line client's --nick does: the room then sees the
      // member arrive under it, not as guest-N renamed.
      if (state.wantedNick) send(`/nick ${state.wantedNick}`);
      query("who");
      query("rooms");
      showStatus();
    });
    socket.addEventListener("message", (event) => receive(String(event.data)));
    socket.addEventListener("close", () => {
      const wasOpen = state.socket === socket;
      state.socket = null;
      if (wasOpen) show("* disconnected from the server; reconnecting…", true);
      retry();
    });
  }

  function retry() {
    // Exponential backoff with jitter, so a restarted server is not hit by every
    // page at once.
    const base = Math.min(MAX_DELAY, 0.5 * 2 ** state.attempts);
    const delay = base * (0.5 + Math.random() / 2);
    state.attempts += 1;
    let left = Math.ceil(delay);
    const tick = () => {
      showStatus(`disconnected — reconnecting in ${left} s`);
      left -= 1;
    };
    tick();
    const countdown = setInterval(tick, 1000);
    setTimeout(() => {
      clearInterval(countdown);
      showStatus("reconnecting…");
      connect();
    }, delay * 1000);
  }

  // What the user does.

  $("say-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = say.value;
    if (!text.trim()) return;
    if (send(text)) {
      say.value = "";
      toBottom();
    } else {
      showStatus("not connected — your line is kept until you can send it");
    }
  });

  $("nick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = nickInput.value.trim();
    if (nick && nick !== state.nick) {
      state.wantedNick = nick;
      send(`/nick ${nick}`);
    }
    nickInput.blur();
  });

  nickInput.addEventListener("blur", () => {
    nickInput.value = state.nick;
  });

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("join").value.trim();
    if (name) join(name);
    $("join").value = "";
  });

  $("panel-toggle").addEventListener("click", () => {
    const open = document.body.classList.toggle("panel-open");
    $("panel-toggle").setAttribute("aria-expanded", String(open));
    if (open) query("rooms");
  });

  $("rooms-refresh").addEventListener("click", () => query("rooms"));

  more.addEventListener("click", toBottom);
  log.addEventListener("scroll", () => {
    if (atBottom()) more.hidden = true;
  });

  connect();
})();
