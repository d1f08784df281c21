/* The app's check-in page: one question per screen on a phone (every question on one
   page on a wide screen), the protocol's skip logic, each answer checked against its
   range before anything is sent (a decimal comma or point), then sent through the
   offline queue (queue.js: window.vigilQueue.send) with the time the last answer was
   given. The server judges the answers; the result page shows its advice. */
(function () {
  "use strict";
  var form = document.getElementById("app-checkin");
  if (!form) { return; }
  var data = JSON.parse(document.getElementById("vigil-checkin").textContent);
  var texts = JSON.parse(document.getElementById("vigil-texts").textContent);
  var questions = data.questions;
  var status = document.getElementById("checkin-status");
  var next = document.getElementById("step-next");
  var back = document.getElementById("step-back");
  var sendRow = document.getElementById("send-row");
  var send = document.getElementById("send");
  var stepCount = document.getElementById("step-count");
  var narrow = window.matchMedia("(max-width: 47.99rem)");
  var current = 0;
  var lastAnswerAt = null;
  var compare = {
    "==": function (a, b) { return a === b; },
    "!=": function (a, b) { return a !== b; },
    ">": function (a, b) { return a > b; },
    ">=": function (a, b) { return a >= b; },
    "<": function (a, b) { return a < b; },
    "<=": function (a, b) { return a <= b; }
  };

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (match, key) { return String(values[key]); });
  }
  function block(q) { return document.getElementById("q-" + q.id); }
  function raw(q) {
    var checked = form.querySelector('input[name="' + q.id + '"]:checked');
    if (checked) { return checked.value; }
    var field = form.querySelector('input[type="text"][name="' + q.id + '"]');
    return field ? field.value.trim() : "";
  }
  // {empty} | {value} | {error}: an answer as the API takes it (numbers as numbers,
  // yes/no as booleans), or why it cannot be sent.
  function read(q) {
    var text = raw(q);
    if (!text) { return { empty: true }; }
    if (q.type === "boolean") { return { value: text === "yes" }; }
    if (q.type === "choice") { return { value: text }; }
    var whole = q.type === "integer" || q.type === "scale";
    var normal = text.replace(/\s+/g, "").replace(",", ".");
    var pattern = whole ? /^[+-]?\d+$/ : /^[+-]?\d+(\.\d+)?$/;
    var number = Number(normal);
    var unit = q.unit ? " " + q.unit : "";
    var message = fill(whole ? texts.whole : texts.number, { min: q.min, max: q.max + unit });
    if (!pattern.test(normal) || !isFinite(number)) { return { error: message }; }
    if ((q.min !== null && number < q.min) || (q.max !== null && number > q.max)) { return { error: message }; }
    return { value: number };
  }
  function needs(q) {
    if (q.type === "boolean" || q.type === "choice") { return texts.choose; }
    if (q.type === "integer" || q.type === "scale") { return fill(texts.whole, { min: q.min, max: q.max }); }
    if (q.type === "number") { return fill(texts.number, { min: q.min, max: q.max }); }
    return texts.required;
  }
  function asked(q, answers) {
    if (!q.ask_question) { return true; }
    var answer = answers[q.ask_question];
    var op = compare[q.ask_op];
    return answer !== undefined && !!op && op(answer, q.ask_value);
  }
  // The answers in order, the questions the skip logic asks, and what is wrong.
  function collect() {
    var answers = {};
    var steps = [];
    var errors = {};
    questions.forEach(function (q) {
      if (!asked(q, answers)) { return; }
      steps.push(q);
      var answer = read(q);
      if (answer.error) { errors[q.id] = answer.error; }
      else if (!answer.empty) { answers[q.id] = answer.value; }
      else if (q.required) { errors[q.id] = q.type === "choice" || q.type === "boolean" ? texts.choose : texts.required; }
    });
    return { answers: answers, steps: steps, errors: errors };
  }
  function showError(q, message) {
    var element = block(q);
    element.classList.toggle("has-error", !!message);
    document.getElementById(q.id + "-errors").textContent = message || "";
    element.querySelectorAll("input").forEach(function (input) {
      if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    });
  }
  function render() {
    var state = collect();
    var steps = state.steps;
    if (current >= steps.length) { current = steps.length - 1; }
    var stepping = narrow.matches && steps.length > 1;
    questions.forEach(function (q) {
      var element = block(q);
      var isAsked = steps.indexOf(q) !== -1;
      element.hidden = stepping ? q !== steps[current] : !isAsked;
      // A question the skip logic does not ask sends no answer.
      element.querySelectorAll("input").forEach(function (input) { input.disabled = !isAsked; });
    });
    next.hidden = !stepping || current >= steps.length - 1;
    back.hidden = !stepping || current === 0;
    sendRow.hidden = stepping && current < steps.length - 1;
    stepCount.textContent = stepping ? fill(texts.step, { number: current + 1, total: steps.length }) : "";
    return state;
  }
  function focusStep(state) {
    var q = state.steps[current];
    if (!q) { return; }
    var element = block(q);
    element.setAttribute("tabindex", "-1");
    element.focus();
  }
  form.addEventListener("input", function (event) {
    lastAnswerAt = new Date();
    var q = questions.filter(function (one) { return one.id === event.target.name; })[0];
    if (q) { showError(q, ""); }
    render();
  });
  form.addEventListener("change", function () { lastAnswerAt = new Date(); render(); });
  next.addEventListener("click", function () {
    var state = collect();
    var q = state.steps[current];
    if (q && state.errors[q.id]) { showError(q, state.errors[q.id]); focusStep(state); return; }
    current += 1;
    focusStep(render());
  });
  back.addEventListener("click", function () {
    current = Math.max(0, current - 1);
    focusStep(render());
  });
  narrow.addEventListener("change", render);

  function showOutcome(outcome) {
    if (outcome && outcome.state === "sent" && outcome.response && outcome.response.id) {
      status.textContent = texts.sent;
      window.location.assign(data.result_url.replace("{id}", String(outcome.response.id)));
    } else if (outcome && outcome.state === "queued") {
      status.textContent = texts.queued;
    }
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var state = collect();
    var wrong = state.steps.filter(function (q) { return state.errors[q.id]; });
    state.steps.forEach(function (q) { showError(q, state.errors[q.id] || ""); });
    if (wrong.length) {
      status.textContent = texts.fix;
      if (narrow.matches) { current = state.steps.indexOf(wrong[0]); }
      focusStep(render());
      return;
    }
    var payload = {
      answers: state.answers,
      taken_at: (lastAnswerAt || new Date()).toISOString(),
      scheduled_check_in: data.scheduled_check_in
    };
    send.disabled = true;
    status.textContent = texts.sending;
    window.vigilQueue.send(payload).then(function (outcome) {
      showOutcome(outcome);
      if (!outcome || outcome.state !== "sent") { form.classList.add("saved"); }
    }, function (failure) {
      send.disabled = false;
      status.textContent = texts.failed;
      // Refused by the server (a 400 names the questions): say what each one needs.
      var refused = failure && failure.errors && failure.errors.answers;
      if (!refused || typeof refused !== "object") { return; }
      var named = questions.filter(function (q) { return refused[q.id]; });
      named.forEach(function (q) { showError(q, needs(q)); });
      if (named.length && narrow.matches) { current = Math.max(0, collect().steps.indexOf(named[0])); }
      focusStep(render());
    });
  });
  // A queued check-in sent later (back online) while the page is still open.
  window.addEventListener("vigil-queue", function (event) {
    if (event.detail && event.detail.state === "sent") { showOutcome(event.detail); }
  });
  render();
})();
