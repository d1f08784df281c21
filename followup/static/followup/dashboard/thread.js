/* The patient page's message thread: follows it live and helps write a reply.
 * - Listens on /ws/alerts/?since=<seq> for "message.created" events of this patient.
 *   An event carries ids only; the new messages are read through the messages API
 *   (?since_id=, audited like every read of a message), then drawn at the thread's end.
 *   Events missed while the socket was down come with ?since= on reconnecting.
 * - A quick reply's button puts its text in the reply box (a text ending in "…" is
 *   completed by the nurse before sending).
 * No inline script: the page's Content-Security-Policy allows none. */
(function () {
  "use strict";
  var form = document.getElementById("reply");
  var configNode = document.getElementById("reply-feed");
  if (!form || !configNode) return;
  var config = JSON.parse(configNode.textContent);
  var lastSeq = config.since;
  var lastId = config.last_id;
  var attempts = 0;
  var fetching = false;
  var again = false;

  // --- quick replies ------------------------------------------------------------------

  var box = form.querySelector("textarea[name=body]");
  Array.prototype.forEach.call(form.querySelectorAll(".quick-reply"), function (button) {
    button.addEventListener("click", function () {
      box.value = button.dataset.text;
      box.focus();
      var gap = box.value.indexOf("…");
      if (gap >= 0) box.setSelectionRange(gap, gap + 1);
    });
  });

  // --- the thread, live ---------------------------------------------------------------

  function threadList() {
    var list = document.querySelector("#messages ol.thread");
    if (list) return list;
    list = document.createElement("ol");
    list.className = "thread";
    var empty = document.querySelector("#messages .thread-empty");
    if (empty) empty.remove();
    form.parentNode.insertBefore(list, form);
    return list;
  }

  function draw(message) {
    if (document.getElementById("message-" + message.id)) return;
    var item = document.createElement("li");
    item.className = "message " + message.direction;
    item.id = "message-" + message.id;
    item.dataset.direction = message.direction;
    var label = document.createElement("span");
    label.className = "direction";
    // Only staff replies raise the event today; an inbound one borrows the label drawn by the server.
    var inboundLabel = document.querySelector("#messages .message.inbound .direction");
    label.textContent =
      message.direction === "inbound" ? (inboundLabel ? inboundLabel.textContent : "") : form.dataset.labelOutbound;
    var when = document.createElement("time");
    when.setAttribute("datetime", message.created_at);
    // As the server draws it: short date and time in the patient's zone, the page's language.
    when.textContent = new Date(message.created_at).toLocaleString(document.documentElement.lang || undefined, {
      timeZone: config.timezone,
      dateStyle: "short",
      timeStyle: "short",
    });
    var body = document.createElement("div");
    body.className = "body";
    body.textContent = message.body;
    item.appendChild(label);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(when);
    if (message.direction !== "inbound") {
      var state = document.createElement("span");
      state.className = "hint";
      state.textContent = " " + message.status;
      item.appendChild(state);
    }
    item.appendChild(body);
    threadList().appendChild(item);
    lastId = Math.max(lastId, message.id);
  }

  function fetchNew() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(config.messages_url + "?since_id=" + encodeURIComponent(lastId), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) {
        if (page) (Array.isArray(page) ? page : page.results || []).forEach(draw);
      })
      .finally(function () {
        fetching = false;
        if (again) { again = false; fetchNew(); }
      });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + config.path + "?since=" + encodeURIComponent(lastSeq));
    socket.onopen = function () { attempts = 0; };
    socket.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (error) { return; }
      if (frame.seq === null || frame.seq <= lastSeq) return;
      lastSeq = frame.seq;
      if (frame.type === "message.created" && frame.data.patient === config.patient) fetchNew();
    };
    socket.onclose = function () {
      attempts += 1;
      setTimeout(connect, Math.min(15000, 1000 * Math.pow(2, attempts - 1)));
    };
  }

  connect();
})();
