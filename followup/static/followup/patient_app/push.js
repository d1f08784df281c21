/* Web Push on the app's home page (issue 18): the "Reminders on this phone" card
   (#push-card) is shown where the browser can subscribe and the patient has neither
   subscribed nor blocked notifications. Its button asks for permission (a tap: the
   browser requires one), subscribes with the server's VAPID key
   (GET /api/v1/push-subscriptions/) and stores the subscription
   (POST /api/v1/push-subscriptions/). The texts come from the card's data attributes. */
(function () {
  "use strict";
  var card = document.getElementById("push-card");
  if (!card || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) { return; }
  var button = document.getElementById("push-enable");
  var status = document.getElementById("push-status");
  var API = "/api/v1/push-subscriptions/";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function bytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    return Uint8Array.from(text, function (c) { return c.charCodeAt(0); });
  }
  function store(subscription) {
    var json = subscription.toJSON();
    return fetch(API, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ endpoint: json.endpoint, keys: json.keys })
    }).then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } });
  }
  function enable() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error("denied"); }
      return Promise.all([
        navigator.serviceWorker.ready,
        fetch(API, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      ]);
    }).then(function (both) {
      return both[0].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(both[1].public_key) });
    }).then(store);
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    enable().then(function () {
      status.textContent = card.dataset.on;
      button.hidden = true;
    }, function () {
      status.textContent = Notification.permission === "denied" ? card.dataset.blocked : card.dataset.failed;
      button.disabled = false;
    });
  });
  if (Notification.permission === "denied") { return; }
  navigator.serviceWorker.ready.then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    // Already subscribed: keep the server's copy current (idempotent by endpoint).
    if (subscription) { return store(subscription); }
    card.hidden = false;
  }).catch(function () { /* no push here: the SMS stays */ });
  window.vigilPush = { enable: enable };
})();
