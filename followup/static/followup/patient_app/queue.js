/* The patient app's offline queue for check-ins (issue 18), loaded on every /app/ page.

   window.vigilQueue.send({answers, taken_at, scheduled_check_in}) returns a Promise of
     {state: "sent", response}  the server stored it (response: the API's check-in), or
     {state: "queued"}          saved on this phone (IndexedDB), sent when online again;
   it rejects when the server refuses the answers for good (a 400: the page says so).

   Each answer set gets one Idempotency-Key when it is given, kept with it in IndexedDB
   with its taken_at (when the patient answered) and the patient it belongs to, so
   sending it again (the `online` event, the next page load, a second tab, the service
   worker's Background Sync) stores nothing more: the server answers a repeated key
   with the check-in it stored the first time. Tabs and the worker take turns through
   the Web Locks API where the browser has it.

   Events, dispatched on window as CustomEvent("vigil-queue", {detail}):
     {state: "queued", key}               saved on this phone: "saved, will be sent"
     {state: "red", key, advice, phone}   a queued answer is red by the protocol's red
                                          rules held in the page (#vigil-red-advice):
                                          #queued-red (the call button) is shown at once
     {state: "sent", key, response}       the server stored it: "sent"
     {state: "rejected", key, status, errors}  refused for good (a 400/404), dropped
   The page also registers the service worker (/app/sw.js, scope /app/). */
(function () {
  "use strict";
  if (window.vigilQueue) { return; }
  var DB_NAME = "vigil-app";
  var OUTBOX = "outbox";
  var META = "meta";
  var LOCK = "vigil-queue";
  var API = "/app/api/check-ins/";  // the app's door: it may send taken_at
  // A failure worth trying again later; any other 4xx is final.
  var RETRY = { 401: true, 403: true, 408: true, 409: true, 425: true, 429: true };

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.content : null;
  }
  function emit(detail) {
    window.dispatchEvent(new CustomEvent("vigil-queue", { detail: detail }));
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // --- IndexedDB (the same database the service worker reads) ---------------------
  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(OUTBOX, { keyPath: "key" });
        request.result.createObjectStore(META, { keyPath: "name" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function store(name, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result = work(tx.objectStore(name));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function put(entry) { return store(OUTBOX, "readwrite", function (s) { s.put(entry); }); }
  function remove(key) { return store(OUTBOX, "readwrite", function (s) { s.delete(key); }); }
  function all() { return store(OUTBOX, "readonly", function (s) { return s.getAll(); }); }
  function setPatient(value) {
    return store(META, "readwrite", function (s) {
      if (value) { s.put({ name: "patient", value: value }); } else { s.delete("patient"); }
    });
  }

  // --- the red answer, decided in the page (H2) -------------------------------------
  var compare = {
    ">=": function (a, b) { return a >= b; }, ">": function (a, b) { return a > b; },
    "<=": function (a, b) { return a <= b; }, "<": function (a, b) { return a < b; },
    "==": function (a, b) { return a === b; }, "!=": function (a, b) { return a !== b; },
    "is": function (a, b) { return a === b; },
    "in": function (a, b) { return Array.isArray(b) && b.indexOf(a) !== -1; }
  };
  function holds(condition, answers) {
    if (condition.any) { return condition.any.some(function (c) { return holds(c, answers); }); }
    if (condition.all) { return condition.all.every(function (c) { return holds(c, answers); }); }
    if (condition.not) { return !holds(condition.not, answers); }
    var answer = answers[condition.answer];
    var op = compare[condition.op];
    // An absent answer never makes a comparison hold, as on the server.
    return answer !== undefined && answer !== null && !!op && op(answer, condition.value);
  }
  function showRedIfRed(entry) {
    var data = document.getElementById("vigil-red-advice");
    if (!data) { return; }
    var red = JSON.parse(data.textContent);
    var isRed = (red.conditions || []).some(function (c) { return holds(c, entry.payload.answers || {}); });
    if (!isRed) { return; }
    var box = document.getElementById("queued-red");
    if (box) {
      box.hidden = false;
      box.scrollIntoView();
      var call = box.querySelector("a");
      if (call) { call.focus(); }
    }
    emit({ state: "red", key: entry.key, advice: red.advice, phone: red.phone });
  }

  // --- sending -------------------------------------------------------------------
  // A 409 for a check-in whose window closed is final; one for a key in use is not.
  function closed(status, json) { return status === 409 && !!json && !!json.scheduled_check_in; }
  function post(entry) {
    var body = {
      answers: entry.payload.answers,
      taken_at: entry.payload.taken_at,
      scheduled_check_in: entry.payload.scheduled_check_in
    };
    return fetch(API, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": meta("csrf-token") || entry.csrf,
        "Idempotency-Key": entry.key
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) { return { state: "sent", key: entry.key, response: json }; }
        if (response.status >= 500 || (RETRY[response.status] && !closed(response.status, json))) {
          return { state: "queued", key: entry.key };
        }
        return { state: "rejected", key: entry.key, status: response.status, errors: json };
      });
    }, function () { return { state: "queued", key: entry.key }; });
  }
  // Sends one entry; a settled one (sent or refused for good) leaves the queue.
  function deliver(entry) {
    return post(entry).then(function (outcome) {
      if (outcome.state === "queued") { return outcome; }
      return remove(entry.key).then(function () { emit(outcome); return outcome; });
    });
  }
  function locked(work) {
    if (navigator.locks && navigator.locks.request) { return navigator.locks.request(LOCK, work); }
    return work();
  }
  function askForSync() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) { return registration.sync.register(LOCK); }
    }).catch(function () { /* no Background Sync: the online event and page loads send it */ });
  }

  function flush() {
    var patient = meta("vigil-patient");
    if (!patient || !navigator.onLine) { return Promise.resolve([]); }
    return locked(function () {
      return all().then(function (entries) {
        var mine = entries.filter(function (e) { return e.patient === patient; });
        mine.sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
        var outcomes = [];
        // One at a time, in the order given; stop at the first that cannot go yet.
        return mine.reduce(function (chain, entry) {
          return chain.then(function (stop) {
            if (stop) { return true; }
            return deliver(entry).then(function (outcome) {
              outcomes.push(outcome);
              return outcome.state === "queued";
            });
          });
        }, Promise.resolve(false)).then(function () { return outcomes; });
      });
    });
  }

  function send(payload) {
    var entry = {
      key: newKey(),
      patient: meta("vigil-patient"),
      csrf: meta("csrf-token"),
      payload: payload,
      saved_at: new Date().toISOString()
    };
    // Saved before the first try: a phone that dies mid-send still has the answers.
    return put(entry).then(function () {
      if (!navigator.onLine) { return { state: "queued", key: entry.key }; }
      return locked(function () { return deliver(entry); });
    }).then(function (outcome) {
      if (outcome.state === "sent") { return { state: "sent", response: outcome.response }; }
      if (outcome.state === "rejected") { throw outcome; }
      emit({ state: "queued", key: entry.key });
      showRedIfRed(entry);
      askForSync();
      return { state: "queued" };
    });
  }

  window.vigilQueue = { send: send, flush: flush };

  window.addEventListener("online", function () { flush(); });
  if ("serviceWorker" in navigator) {
    // The worker sends the queue by Background Sync and tells the open pages.
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "vigil-queue") { emit(event.data.detail); }
    });
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () { /* not installable here */ });
  }
  document.addEventListener("submit", function (event) {
    // Signing out: the worker must not send this patient's answers with the next one's session.
    if (event.target.action && /\/app\/sign-out\/$/.test(event.target.action)) { setPatient(null); }
  });
  var patient = meta("vigil-patient");
  if (patient) { setPatient(patient).then(flush); }
})();
