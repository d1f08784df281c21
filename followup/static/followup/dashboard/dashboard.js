/* Vigil live alert queue. No dependencies.
 *
 * - Listens on /ws/alerts/?since=<seq> (the seq the page was rendered at), so nothing
 *   committed after the render is missed; on reconnect it resumes from the last seq
 *   it received (API.md, "Real time").
 * - Draws cards from a <template> rendered by the server, filling it with
 *   textContent only: alert and patient text is data, never markup.
 * - A red alert is impossible to miss: red card, a beep (WebAudio, can be muted),
 *   the page title "(1) RED — Vigil", and a reminder beep while one stays open.
 * - Acknowledge and resolve post the card's own forms (CSRF token included) and
 *   redraw the card from the JSON answer; the event that follows changes nothing.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("feed-config").textContent);
  // Every word this script writes, in the reader's language (rendered by the server).
  var texts = JSON.parse(document.getElementById("dashboard-texts").textContent);

  // texts[key] with its %(name)s marks filled from values.
  function say(key, values) {
    return texts[key].replace(/%\((\w+)\)s/g, function (mark, name) {
      return values && name in values ? String(values[name]) : mark;
    });
  }
  var lists = {
    open: document.getElementById("open-alerts"),
    acknowledged: document.getElementById("acknowledged-alerts"),
  };
  var template = document.getElementById("card-template");
  var indicator = document.getElementById("connection");
  var soundButton = document.getElementById("sound-toggle");
  var baseTitle = document.title;
  var lastSeq = config.since;
  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var pongDeadline = null;
  var PING_EVERY_MS = 25000;
  var PONG_WITHIN_MS = 10000;
  var REMIND_EVERY_MS = 60000;

  // --- connection indicator -----------------------------------------------------------

  function setConnection(state) {
    indicator.dataset.state = state;
    indicator.querySelector('[data-slot="connection-text"]').textContent = say(state);
  }

  function wsUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + config.path + "?since=" + encodeURIComponent(lastSeq);
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (socket && socket.readyState <= 1) return;
    socket = new WebSocket(wsUrl());
    socket.onopen = function () {
      attempts = 0;
      setConnection("live");
      clearInterval(pingTimer);
      pingTimer = setInterval(ping, PING_EVERY_MS);
    };
    socket.onmessage = function (message) {
      clearTimeout(pongDeadline);
      var frame;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (frame.seq === null) return; // pong or error frame: not an event
      if (frame.seq <= lastSeq) return; // never applied twice
      lastSeq = frame.seq;
      handleEvent(frame);
    };
    socket.onclose = function () {
      clearInterval(pingTimer);
      clearTimeout(pongDeadline);
      attempts += 1;
      setConnection(navigator.onLine === false || attempts > 5 ? "offline" : "reconnecting");
      // 1, 2, 4, 8 then every 15 seconds; resumes with ?since= from the last event.
      reconnectTimer = setTimeout(connect, Math.min(15000, 1000 * Math.pow(2, attempts - 1)));
    };
  }

  function ping() {
    if (!socket || socket.readyState !== 1) return;
    socket.send(JSON.stringify({ type: "ping" }));
    // A connection that died without a close frame (laptop asleep, proxy) is noticed.
    pongDeadline = setTimeout(function () { socket.close(); }, PONG_WITHIN_MS);
  }

  window.addEventListener("online", function () { attempts = 0; connect(); });
  window.addEventListener("offline", function () { setConnection("offline"); });

  // --- sound ----------------------------------------------------------------------------

  var audio = null;
  var soundOn = window.localStorage.getItem("vigil-sound") !== "off";

  function showSound() {
    soundButton.setAttribute("aria-pressed", soundOn ? "true" : "false");
    soundButton.textContent = say(soundOn ? "sound_on" : "sound_muted");
  }

  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      [0, 0.25].forEach(function (offset) {
        var oscillator = audio.createOscillator();
        var gain = audio.createGain();
        oscillator.type = "square";
        oscillator.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, audio.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + offset + 0.18);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(audio.currentTime + offset);
        oscillator.stop(audio.currentTime + offset + 0.2);
      });
    } catch (error) {
      /* no audio device: the colour and the title still say it */
    }
  }

  soundButton.addEventListener("click", function () {
    soundOn = !soundOn;
    window.localStorage.setItem("vigil-sound", soundOn ? "on" : "off");
    showSound();
    if (soundOn) beep();
  });
  // Browsers allow audio after a gesture: the first click anywhere unlocks it.
  document.addEventListener("click", function unlock() {
    if (!audio && soundOn) {
      try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (error) { /* none */ }
    }
    document.removeEventListener("click", unlock);
  });
  showSound();
  setInterval(function () {
    if (openRedCount() > 0) beep();
  }, REMIND_EVERY_MS);

  // --- cards ----------------------------------------------------------------------------

  function cardOf(id) {
    return document.querySelector('.alert-card[data-alert-id="' + Number(id) + '"]');
  }

  function slot(card, name) {
    return card.querySelector('[data-slot="' + name + '"]');
  }

  function openRedCount() {
    return lists.open.querySelectorAll('.alert-card[data-severity="red"]').length;
  }

  // "raised 5 min ago", whole, in the reader's language.
  function raised(iso) {
    var minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 1) return say("just_now");
    if (minutes < 60) return say("minutes_ago", { minutes: minutes });
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return say("hours_ago", { hours: hours, minutes: minutes % 60 });
    return say("days_ago", { days: Math.floor(hours / 24) });
  }

  function refreshAges() {
    document.querySelectorAll(".alert-card").forEach(function (card) {
      if (card.dataset.createdAt) slot(card, "age").textContent = raised(card.dataset.createdAt);
    });
  }

  function refreshCounts() {
    document.getElementById("open-count").textContent = lists.open.children.length;
    document.getElementById("acknowledged-count").textContent = lists.acknowledged.children.length;
    document.getElementById("open-empty").hidden = lists.open.children.length > 0;
    var reds = openRedCount();
    document.title = reds > 0 ? say("title_red", { count: reds }) : baseTitle;
  }

  // Red before amber, then oldest first (the one waiting longest on top).
  function insertSorted(list, card) {
    var rank = function (element) {
      return [element.dataset.severity === "red" ? 0 : 1, Date.parse(element.dataset.createdAt)];
    };
    var mine = rank(card);
    var before = Array.prototype.find.call(list.children, function (other) {
      var theirs = rank(other);
      return mine[0] < theirs[0] || (mine[0] === theirs[0] && mine[1] < theirs[1]);
    });
    list.insertBefore(card, before || null);
  }

  function place(card, status) {
    var list = status === "acknowledged" ? lists.acknowledged : lists.open;
    if (card.parentNode !== list) insertSorted(list, card);
  }

  function staffName(id, fallback) {
    if (id === null || id === undefined) return "";
    return config.staff[String(id)] || fallback || say("staff_member", { id: id });
  }

  function setStatus(card, status, data) {
    card.dataset.status = status;
    card.classList.remove("open", "acknowledged");
    if (status !== "open") card.classList.remove("arrived");
    card.classList.add(status);
    var ackForm = slot(card, "ack-form");
    if (ackForm) ackForm.hidden = status !== "open";
    var acknowledged = status === "acknowledged";
    slot(card, "acknowledged").hidden = !acknowledged;
    if (acknowledged) slot(card, "acknowledged-by").textContent = staffName(data.acknowledged_by, data.acknowledged_by_name);
    var exhausted = status === "open" && data.escalation_level > Number(card.dataset.chainLength);
    slot(card, "exhausted").hidden = !exhausted;
    slot(card, "level").textContent = data.escalation_level ? say("level", { level: data.escalation_level }) : "";
    if (data.updated_at) card.dataset.updatedAt = data.updated_at;
  }

  // A card drawn from the alert-card JSON (GET /dashboard/alerts/<id>/card/).
  function drawCard(data) {
    var card = template.content.firstElementChild.cloneNode(true);
    card.dataset.alertId = data.id;
    card.dataset.severity = data.severity;
    card.dataset.createdAt = data.created_at;
    card.dataset.chainLength = data.chain_length;
    card.classList.add(data.severity);
    var severity = slot(card, "severity");
    severity.textContent = data.severity_label || texts.severity[data.severity] || data.severity;
    severity.classList.add(data.severity);
    var rule = slot(card, "rule");
    rule.textContent = data.rule.title;
    rule.href = data.url;
    slot(card, "patient").href = data.patient.url;
    slot(card, "patient-name").textContent = data.patient.name;
    slot(card, "patient-mrn").textContent = data.patient.mrn;
    var evidence = slot(card, "evidence");
    data.evidence_lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      evidence.appendChild(item);
    });
    // A wall display's cards have neither the forms nor their URLs: it only watches.
    if (data.acknowledge_url && slot(card, "ack-form")) {
      slot(card, "ack-form").action = data.acknowledge_url;
      slot(card, "resolve-form").action = data.resolve_url;
      wireForms(card);
    }
    return card;
  }

  function applyCard(data) {
    var card = cardOf(data.id);
    if (data.status === "resolved") {
      if (card) card.remove();
      refreshCounts();
      return;
    }
    var fresh = !card;
    if (fresh) card = drawCard(data);
    else if (data.updated_at && card.dataset.updatedAt && Date.parse(data.updated_at) < Date.parse(card.dataset.updatedAt)) {
      return; // an older state than the one shown (a reply overtook its own event)
    }
    setStatus(card, data.status, data);
    place(card, data.status);
    if (fresh) {
      slot(card, "age").textContent = raised(data.created_at);
      if (data.severity === "red" && data.status === "open") {
        card.classList.add("arrived");
        beep();
      }
    }
    refreshCounts();
  }

  function fetchCard(id) {
    var url = config.card_url.replace("{id}", encodeURIComponent(id));
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("card " + response.status);
      return response.json();
    });
  }

  function handleEvent(frame) {
    if (frame.type !== "alert.created" && frame.type !== "alert.updated") return;
    var data = frame.data;
    var card = cardOf(data.id);
    if (data.status === "resolved" || card) {
      applyCard(data);
      return;
    }
    // An alert this page has not drawn: its card brings the patient's name and MRN.
    fetchCard(data.id).then(applyCard).catch(function () {
      setConnection("reconnecting");
      if (socket) socket.close();
    });
  }

  // --- acknowledge and resolve ---------------------------------------------------------

  function wireForms(card) {
    [slot(card, "ack-form"), slot(card, "resolve-form")].filter(Boolean).forEach(function (form) {
      form.addEventListener("submit", function (submitEvent) {
        submitEvent.preventDefault();
        var error = slot(card, "error");
        error.hidden = true;
        var button = form.querySelector("button");
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) {
            return response.json().then(function (body) {
              if (!response.ok) {
                var messages = [];
                Object.keys(body).forEach(function (key) { messages = messages.concat(body[key]); });
                throw new Error(messages.join(" ") || say("refused", { status: response.status }));
              }
              applyCard(body.card);
            });
          })
          .catch(function (failure) {
            error.textContent = failure.message || say("unreachable");
            error.hidden = false;
          })
          .finally(function () { button.disabled = false; });
      });
    });
  }

  document.querySelectorAll(".alert-card").forEach(function (card) {
    if (card.parentNode && card.parentNode.tagName === "OL") wireForms(card);
  });
  refreshAges();
  refreshCounts();
  setInterval(refreshAges, 30000);
  setConnection("connecting");
  connect();
})();
