/* Skip logic of the patient check-in form: a question asked only after a given
   answer (e.g. "able to keep fluids down" only after vomiting) stays hidden until
   that answer is given. Without JavaScript every question shows; the server judges
   which answers were required either way. */
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form) { return; }
  var compare = {
    "==": function (a, b) { return a === b; },
    "!=": function (a, b) { return a !== b; },
    ">": function (a, b) { return a > b; },
    ">=": function (a, b) { return a >= b; },
    "<": function (a, b) { return a < b; },
    "<=": function (a, b) { return a <= b; }
  };
  function answerOf(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    if (checked) { return checked.value; }
    var field = form.querySelector('input[type="text"][name="' + name + '"]');
    return field ? field.value.trim() : "";
  }
  function typed(text, like) {
    if (like === "True" || like === "False") { return text === "yes" ? "True" : text === "no" ? "False" : null; }
    var number = parseFloat(String(text).replace(",", "."));
    if (!isNaN(Number(like))) { return isNaN(number) ? null : number; }
    return text;
  }
  function refresh() {
    form.querySelectorAll("[data-ask-question]").forEach(function (block) {
      var like = block.getAttribute("data-ask-value");
      var op = compare[block.getAttribute("data-ask-op")];
      var answer = typed(answerOf(block.getAttribute("data-ask-question")), like);
      var expected = isNaN(Number(like)) ? like : Number(like);
      var show = answer !== null && answer !== "" && op && op(answer, expected);
      // A question with an error stays visible whatever the answers say.
      block.hidden = !show && !block.classList.contains("has-error");
      // A hidden question's answer is not sent (it was changed by a later answer).
      block.querySelectorAll("input").forEach(function (input) { input.disabled = block.hidden; });
    });
  }
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
  var errors = document.getElementById("form-errors");
  if (errors) { errors.focus(); }
})();
