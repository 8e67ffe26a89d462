// Keyboard labeling for the review queue. The server does all the checking; this only maps keys
// to form fields. Keys are ignored while typing in a text field (Esc leaves it).
(function () {
  "use strict";
  var digitBuffer = "";
  var digitTimer = null;

  function item() { return document.getElementById("review-item"); }
  function labelForm() { return document.getElementById("label-form"); }
  function skipForm() { return document.getElementById("skip-form"); }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type);
  }

  function choose(value) {
    var form = labelForm();
    if (!form) return;
    var radio = form.querySelector('input[name="choice"][value="' + value + '"]');
    if (radio) { radio.checked = true; highlight(); }
  }

  function highlight() {
    var form = labelForm();
    var picked = form && form.querySelector('input[name="choice"]:checked');
    document.querySelectorAll("#review-item .response-box[data-choice]").forEach(function (box) {
      var v = picked ? picked.value : "";
      box.classList.toggle("chosen", v === box.dataset.choice || v === "t");
    });
  }

  function setRating(value) {
    var input = document.getElementById("rating-input");
    if (!input) return;
    var lo = parseFloat(input.min), hi = parseFloat(input.max);
    if (!isNaN(lo) && value < lo) value = lo;
    if (!isNaN(hi) && value > hi) value = hi;
    input.value = String(value);
    var pick = document.querySelector('input[name="rating-pick"][value="' + value + '"]');
    document.querySelectorAll('input[name="rating-pick"]').forEach(function (r) { r.checked = r === pick; });
  }

  function ratingDigit(d) {
    // Two digits typed within 700 ms form one number (for scales past 9).
    var input = document.getElementById("rating-input");
    if (!input) return;
    var hi = parseFloat(input.max);
    digitBuffer = digitBuffer + d;
    if (!isNaN(hi) && parseFloat(digitBuffer) > hi) digitBuffer = d;
    setRating(parseFloat(digitBuffer));
    clearTimeout(digitTimer);
    digitTimer = setTimeout(function () { digitBuffer = ""; }, 700);
  }

  function toggleFlag(name) {
    var box = labelForm() && labelForm().querySelector('input[name="flags"][value="' + name + '"]');
    if (box) box.checked = !box.checked;
  }

  function submitLabel() {
    var form = labelForm();
    if (form) form.requestSubmit();
  }

  function focusSkip(escalate) {
    var form = skipForm();
    if (!form) return;
    form.querySelector('input[name="escalate"]').checked = escalate;
    form.querySelector('input[name="reason"]').focus();
  }

  function onKey(ev) {
    if (ev.altKey || ev.metaKey) return;
    var target = ev.target;
    if (typing(target)) {
      if (ev.key === "Escape") { target.blur(); ev.preventDefault(); }
      else if (ev.key === "Enter" && ev.ctrlKey && target.closest("#label-form")) { ev.preventDefault(); submitLabel(); }
      return;
    }
    if (ev.ctrlKey || !item()) return;
    if (!item().dataset.taskId) {
      if (ev.key === "n") { ev.preventDefault(); window.location.assign("/review/"); }
      return;
    }
    var type = item().dataset.taskType;
    var key = ev.key;
    if (type === "pairwise" && (key === "1" || key === "2" || key === "t")) { choose(key); }
    else if (type === "rating" && /^[0-9]$/.test(key)) { ratingDigit(key); }
    else if (type === "rating" && (key === "+" || key === "-")) {
      var input = document.getElementById("rating-input");
      var cur = parseFloat(input.value);
      setRating((isNaN(cur) ? parseFloat(input.min) || 0 : cur) + (key === "+" ? 1 : -1));
    }
    else if (key === "Enter") { submitLabel(); }
    else if (key === "r") { labelForm().querySelector("textarea").focus(); }
    else if (key === "u") { toggleFlag("unsafe"); }
    else if (key === "b") { toggleFlag("bias"); }
    else if (key === "h") { toggleFlag("needs_higher_credential"); }
    else if (key === "c") { var d = document.querySelector("#review-item details.criteria"); if (d) d.open = !d.open; }
    else if (key === "s") { focusSkip(false); }
    else if (key === "x") { focusSkip(true); }
    else { return; }
    ev.preventDefault();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("change", function (ev) {
    if (ev.target.name === "choice") highlight();
    if (ev.target.name === "rating-pick") setRating(parseFloat(ev.target.value));
  });
  // Refused input (422) and lost leases (409) come back as a rendered item: show it.
  document.body.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 409 || status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    digitBuffer = "";
    if (document.activeElement && document.activeElement !== document.body && !document.contains(document.activeElement)) {
      document.body.focus();
    }
  });
})();
