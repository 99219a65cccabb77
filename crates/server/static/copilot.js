// Bordin live co-pilot: draws each picture the server sends over the session's WebSocket.
// Served as a file because the Content-Security-Policy forbids inline script. Text from the
// server is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";
  var root = document.getElementById("copilot");
  if (!root) { return; }
  var mode = root.getAttribute("data-mode");
  var wsPath = root.getAttribute("data-ws");
  var statusEl = document.getElementById("status");
  var socket = null;
  var lastTurnAt = null;      // local clock when the last turn arrived
  var seenMarkers = {};

  function $(id) { return document.getElementById(id); }
  function status(text) { if (statusEl) { statusEl.textContent = text; } }
  function pct(x) { return x === null || x === undefined ? "—" : Math.round(x * 100) + "%"; }
  function clock(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) { return ""; }
    var s = Math.max(0, Math.round(seconds));
    var m = Math.floor(s / 60);
    var r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function url(path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  function drawBalance(p) {
    var share = p.clinician_talk_share;
    var bar = $("balance-clinician");
    if (bar) { bar.style.width = share === null || share === undefined ? "0%" : Math.round(share * 100) + "%"; }
    var parts = (p.speakers || []).map(function (s) {
      return s.speaker + " (" + (s.role || "role unknown") + ") " + pct(s.talk_share);
    });
    $("balance-text").textContent = "Clinician " + pct(share) + " of words. " + parts.join(" · ");
  }

  function drawSilence(p) {
    lastTurnAt = Date.now();
    var longest = p.silence && p.silence.longest;
    $("silence-longest").textContent = longest
      ? "Longest so far: " + longest.seconds.toFixed(1) + " s after " + longest.after_speaker
      : "";
  }

  function drawMarkers(p) {
    var list = $("marker-list");
    (p.new_markers || []).forEach(function (m) {
      var key = m.turn + "/" + m.subtype;
      if (seenMarkers[key]) { return; }
      seenMarkers[key] = true;
      var li = document.createElement("li");
      li.className = "marker " + m.kind;
      var head = document.createElement("p");
      var badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = m.kind;
      var name = document.createElement("strong");
      name.textContent = " " + m.subtype.replace(/_/g, " ");
      head.appendChild(badge);
      head.appendChild(name);
      var when = document.createElement("span");
      when.className = "small muted";
      when.textContent = " " + (m.start !== null && m.start !== undefined ? clock(m.start) + " · " : "") + m.speaker;
      head.appendChild(when);
      var quote = document.createElement("blockquote");
      quote.textContent = m.evidence;
      var tip = document.createElement("p");
      tip.className = "suggestion";
      tip.textContent = "Try: " + m.suggestion;
      li.appendChild(head);
      li.appendChild(quote);
      li.appendChild(tip);
      list.insertBefore(li, list.firstChild);
    });
    var empty = $("markers-empty");
    if (empty && list.children.length > 0) { empty.hidden = true; }
  }

  function drawGoals(p) {
    var list = $("goal-list");
    if (!list) { return; }
    (p.goals || []).concat(p.tasks || []).forEach(function (g) {
      var li = null;
      for (var i = 0; i < list.children.length; i++) {
        if (list.children[i].getAttribute("data-goal") === g.id) { li = list.children[i]; }
      }
      if (!li) {
        li = document.createElement("li");
        li.setAttribute("data-goal", g.id);
        var mark = document.createElement("span");
        mark.className = "goal-mark";
        li.appendChild(mark);
        li.appendChild(document.createTextNode(" " + g.text));
        list.appendChild(li);
      }
      if (g.covered) {
        li.className = "covered";
        li.firstChild.textContent = "✓";
      } else {
        li.firstChild.textContent = "○";
      }
    });
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.type === "hello") {
      var words = mode === "replay" ? "Replaying." : "Connected.";
      words += msg.stores_transcript ? " The transcript will be stored (the client consented)." : " The transcript will not be stored.";
      if (!msg.semantic && msg.semantic_note) { words += " " + msg.semantic_note; }
      status(words);
    } else if (msg.type === "picture") {
      var p = msg.picture;
      drawBalance(p);
      drawSilence(p);
      drawMarkers(p);
      drawGoals(p);
      root.setAttribute("data-turns", String(p.turn.index + 1));
    } else if (msg.type === "error") {
      status("Not used: " + msg.message);
    } else if (msg.type === "end") {
      status("Replay finished: " + msg.turns + " turns.");
    }
  }

  function connect(onOpen) {
    socket = new WebSocket(url(wsPath));
    socket.addEventListener("message", onMessage);
    socket.addEventListener("open", function () { if (onOpen) { onOpen(); } });
    socket.addEventListener("close", function () {
      if (mode === "live") { status("Disconnected. Reload the page to reconnect."); }
    });
  }

  // The silence timer: time since the last turn arrived.
  window.setInterval(function () {
    var el = $("silence-timer");
    if (!el || lastTurnAt === null) { return; }
    var s = (Date.now() - lastTurnAt) / 1000;
    el.textContent = clock(s);
    el.className = s >= 10 ? "timer long" : "timer";
  }, 500);

  if (mode === "live") {
    connect(null);
    var form = $("turn-form");
    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var speaker = $("turn-speaker").value;
        var text = $("turn-text");
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ speaker: speaker, text: text.value }));
          text.value = "";
        }
      });
    }
  } else if (mode === "replay") {
    $("replay-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var file = $("replay-file").files[0];
      if (!file) { status("Choose a file."); return; }
      var speed = parseFloat($("replay-speed").value);
      file.text().then(function (text) {
        if (socket) { socket.close(); }
        seenMarkers = {};
        $("marker-list").textContent = "";
        connect(function () {
          socket.send(JSON.stringify({ text: text, format: "auto", speed: speed }));
        });
      });
    });
  }
})();
