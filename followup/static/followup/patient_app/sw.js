/* The patient app's service worker, served from /app/sw.js (scope /app/; issue 18).

   - Caches the app shell (the /app/ pages' static files) when installed; static files
     are served from the cache first and refreshed behind it.
   - Pages (HTML) go to the network first; offline, the cached copy answers. Only the
     due check-in page (/app/check-in/) is kept: the other pages hold health data the
     phone need not keep, and no API response is ever cached. Offline, another page
     falls back to the check-in page, the one that works without the network.
   - Signing out (or a page that sends to sign-in) empties the page cache.
   - Background Sync ("vigil-queue"): sends the answers queued by queue.js, for the
     patient signed in on this phone, and tells the open pages.
   - Web Push: shows "A message from <clinic>" and opens its /app/ link; the payload
     carries no health data. */
"use strict";

var VERSION = "vigil-app-v1";
var SHELL = VERSION + "-shell";
var PAGES = VERSION + "-pages";
var CHECK_IN_PAGE = "/app/check-in/";
var SHELL_FILES = [
  "/static/followup/vigil.css",
  "/static/followup/patient_app/app.css",
  "/static/followup/patient_app/queue.js",
  "/static/followup/patient_app/checkin.js",
  "/static/followup/patient_app/icons/icon-192.png",
  "/static/followup/patient_app/icons/icon-512.png"
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_FILES); })
      .then(function () { return cachePage(CHECK_IN_PAGE); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name.indexOf(VERSION) !== 0; })
        .map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function signedOut(response) {
  return response.redirected && new URL(response.url).pathname.indexOf("/app/sign-in/") === 0;
}

// Fetches the check-in page with the session and keeps it, unless it is not the page.
function cachePage(path) {
  return fetch(path, { credentials: "same-origin" }).then(function (response) {
    return keepPage(path, response);
  }).catch(function () { /* offline or signed out: nothing to keep */ });
}

function keepPage(path, response) {
  if (signedOut(response)) { return caches.delete(PAGES); }
  if (!response.ok || path !== CHECK_IN_PAGE) { return Promise.resolve(); }
  return caches.open(PAGES).then(function (cache) { return cache.put(path, response); });
}

function page(request) {
  var path = new URL(request.url).pathname;
  return fetch(request).then(function (response) {
    keepPage(path, response.clone());
    return response;
  }, function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.match(path, { ignoreVary: true }).then(function (hit) {
        return hit || cache.match(CHECK_IN_PAGE, { ignoreVary: true });
      });
    }).then(function (hit) { return hit || Response.error(); });
  });
}

function shell(request) {
  return caches.open(SHELL).then(function (cache) {
    return cache.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      if (hit) { fresh.catch(function () {}); return hit; }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === "/app/sign-out/") {
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/api/") === 0) { return; }  // never cached: health data
  if (request.mode === "navigate" && url.pathname.indexOf("/app/") === 0) {
    event.respondWith(page(request));
  } else if (url.pathname.indexOf("/static/followup/") === 0) {
    event.respondWith(shell(request));
  }
});

// --- Background Sync: the queue queue.js keeps in IndexedDB -------------------------
function db() {
  return new Promise(function (resolve, reject) {
    var request = indexedDB.open("vigil-app", 1);
    request.onupgradeneeded = function () {
      request.result.createObjectStore("outbox", { keyPath: "key" });
      request.result.createObjectStore("meta", { keyPath: "name" });
    };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });
}
function read(name, key) {
  return db().then(function (database) {
    return new Promise(function (resolve, reject) {
      var store = database.transaction(name).objectStore(name);
      var request = key === undefined ? store.getAll() : store.get(key);
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  });
}
function drop(key) {
  return db().then(function (database) {
    return new Promise(function (resolve) {
      var tx = database.transaction("outbox", "readwrite");
      tx.objectStore("outbox").delete(key);
      tx.oncomplete = resolve;
      tx.onerror = resolve;
    });
  });
}
function tell(detail) {
  return self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (client) { client.postMessage({ type: "vigil-queue", detail: detail }); });
  });
}
function sendOne(entry) {
  return fetch("/app/api/check-ins/", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "Accept": "application/json",
      "X-CSRFToken": entry.csrf,
      "Idempotency-Key": entry.key
    },
    body: JSON.stringify({
      answers: entry.payload.answers,
      taken_at: entry.payload.taken_at,
      scheduled_check_in: entry.payload.scheduled_check_in
    })
  }).then(function (response) {
    return response.json().catch(function () { return null; }).then(function (json) {
      if (response.ok) {
        return drop(entry.key).then(function () { return tell({ state: "sent", key: entry.key, response: json }); });
      }
      var closed = response.status === 409 && json && json.scheduled_check_in;  // the window closed: final
      var retry = [401, 403, 408, 409, 425, 429].indexOf(response.status) !== -1 && !closed;
      if (response.status >= 400 && response.status < 500 && !retry) {
        return drop(entry.key).then(function () {
          return tell({ state: "rejected", key: entry.key, status: response.status, errors: json });
        });
      }
      throw new Error("try again later");
    });
  });
}
function syncQueue() {
  return read("meta", "patient").then(function (current) {
    if (!current) { return; }  // signed out: the answers wait for their patient
    return read("outbox").then(function (entries) {
      var mine = entries.filter(function (e) { return e.patient === current.value; });
      mine.sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
      return mine.reduce(function (chain, entry) {
        return chain.then(function () { return sendOne(entry); });
      }, Promise.resolve());
    });
  });
}
self.addEventListener("sync", function (event) {
  if (event.tag !== "vigil-queue") { return; }
  var work = self.navigator && self.navigator.locks
    ? function () { return self.navigator.locks.request("vigil-queue", syncQueue); }
    : syncQueue;
  event.waitUntil(work());
});

// --- Web Push ------------------------------------------------------------------------
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = {}; }
  var url = typeof data.url === "string" && data.url.indexOf("/app/") === 0 ? data.url : "/app/";
  event.waitUntil(self.registration.showNotification(data.title || "Vigil", {
    data: { url: url },
    icon: "/static/followup/patient_app/icons/icon-192.png",
    badge: "/static/followup/patient_app/icons/icon-192.png"
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/app/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (clients) {
    for (var i = 0; i < clients.length; i += 1) {
      if (new URL(clients[i].url).pathname.indexOf("/app/") === 0 && "focus" in clients[i]) {
        return clients[i].navigate(url).then(function (client) { return client && client.focus(); });
      }
    }
    return self.clients.openWindow(url);
  }));
});
