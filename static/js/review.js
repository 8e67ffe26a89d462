// Keyboard labeling for the review queue. The server does all the checking; this only maps keys
// to form fields. Keys are ignored while typing in a text field (Esc leaves it).
//
// Busy state: from the moment a request that replaces the item starts (submit, skip, next item)
// until htmx has swapped the new item in and processed it (htmx:load on #review-item), the page
// is busy, and every shortcut key pressed meanwhile is ignored, with a notice that says so and
// counts them. Why ignore them rather than queue them for the new item: a verdict typed before
// an item is on screen cannot be a judgment of that item, so a queued "1" would label it blind.
// It is deterministic as well: a key acts on the item that was ready when it was pressed, or is
// dropped visibly, however fast or slow the server answers. So Enter never submits a form htmx
// has not processed (its native submit would be a full-page POST and a reload).
(function () {
  "use strict";
  var digitBuffer = "";
  var digitTimer = null;
  var pending = false;    // an item request is in flight, or its new item is not processed yet
  var swapping = false;   // that request's answer is being swapped into #review-item
  var readyTask = null;   // data-task-id of the item htmx has processed; null while none is
  var ignored = 0;        // shortcut keys dropped during the current (or last) load
  var totals = { applied: 0, ignored: 0 };  // on this page, shown as data attributes
  var submitted = {};     // task id -> the verdict sent for it, until the server confirms it
  var SHORTCUT = /^([0-9turfsbhcxn+-]|Enter)$/;

  function item() { return document.getElementById("review-item"); }
  function layout() { return document.querySelector(".review-layout"); }
  function labelForm() { return document.getElementById("label-form"); }
  function skipForm() { return document.getElementById("skip-form"); }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type);
  }

  // Without htmx at all (blocked, failed to load) the forms post natively and the server
  // redirects back (post/redirect/get), so keys may submit them; until the page has loaded,
  // htmx may simply not have run yet.
  function htmxMissing() { return document.readyState === "complete" && !window.htmx; }

  function ready() {
    if (htmxMissing()) return true;
    var el = item();
    return !pending && el !== null && readyTask === el.dataset.taskId;
  }

  function counters() {
    var l = layout();
    if (!l) return;
    l.dataset.reviewState = ready() ? "ready" : "busy";
    l.dataset.keysApplied = String(totals.applied);
    l.dataset.keysIgnored = String(totals.ignored);
  }

  function showWait(problem) {
    var box = document.getElementById("review-wait");
    if (!box) return;
    var text = problem || "";
    if (!text && pending) {
      text = "Wait: the next item is loading. Keys pressed now are ignored" + (ignored ? " (" + ignored + " so far)." : ".");
    } else if (!text && ignored) {
      text = ignored + (ignored === 1 ? " key was" : " keys were") + " ignored while the item was loading: check this item before you label it.";
    }
    box.textContent = text;
    box.hidden = !text;
    counters();
  }

  function noteIgnored() { ignored += 1; totals.ignored += 1; showWait(); }

  function markReady() {
    pending = false;
    swapping = false;
    var el = item();
    readyTask = el ? el.dataset.taskId : null;
    showWait();
  }

  function verdict(form) {
    var picked = form.querySelector('input[name="choice"]:checked');
    var rating = form.querySelector('input[name="rating"]');
    return picked ? picked.value : (rating ? rating.value : "");
  }

  function recordSaved(task) {
    var list = document.getElementById("review-saved-list");
    if (!list || list.querySelector('li[data-task="' + task + '"]')) return;
    var li = document.createElement("li");
    var choice = submitted[task] === undefined ? "" : submitted[task];
    li.dataset.task = task;
    li.dataset.choice = choice;
    li.textContent = "item " + task + ": " + (choice || "?");
    list.appendChild(li);
    var count = list.children.length;
    document.getElementById("review-saved").dataset.count = String(count);
    document.getElementById("review-saved-count").textContent = String(count);
    delete submitted[task];
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

  function adjustRating(step) {
    var input = document.getElementById("rating-input");
    var cur = parseFloat(input.value);
    setRating((isNaN(cur) ? parseFloat(input.min) || 0 : cur) + step);
  }

  function toggleFlag(name) {
    var box = labelForm() && labelForm().querySelector('input[name="flags"][value="' + name + '"]');
    if (box) box.checked = !box.checked;
  }

  function submitForm(form) { if (form) form.requestSubmit(); }

  function focusSkip(escalate) {
    var form = skipForm();
    if (!form) return;
    form.querySelector('input[name="escalate"]').checked = escalate;
    form.querySelector('input[name="reason"]').focus();
  }

  function toggleCriteria() {
    var d = document.querySelector("#review-item details.criteria");
    if (d) d.open = !d.open;
  }

  // What a key does on the item on screen; null when it means nothing there.
  function actionFor(key) {
    // u: undo the last label, offered (the undo form is there) right after a submit.
    if (key === "u") {
      var undo = document.getElementById("undo-form");
      return undo ? function () { submitForm(undo); } : null;
    }
    if (!item().dataset.taskId) {
      return key === "n" ? function () { submitForm(document.getElementById("next-form")); } : null;
    }
    var type = item().dataset.taskType;
    if (type === "pairwise" && (key === "1" || key === "2" || key === "t")) return function () { choose(key); };
    if (type === "rating" && /^[0-9]$/.test(key)) return function () { ratingDigit(key); };
    if (type === "rating" && (key === "+" || key === "-")) return function () { adjustRating(key === "+" ? 1 : -1); };
    var simple = {
      Enter: function () { submitForm(labelForm()); },
      r: function () { labelForm().querySelector("textarea").focus(); },
      f: function () { toggleFlag("unsafe"); },
      b: function () { toggleFlag("bias"); },
      h: function () { toggleFlag("needs_higher_credential"); },
      c: toggleCriteria,
      s: function () { focusSkip(false); },
      x: function () { focusSkip(true); },
    };
    return simple[key] || null;
  }

  // "?" opens the key list as a modal <dialog>: the browser keeps focus inside it and closes it
  // on Esc, and no shortcut acts on the item while it is open.
  function helpDialog() { return document.getElementById("help-overlay"); }

  function helpOpen() { var d = helpDialog(); return !!(d && d.open); }

  function showHelp() {
    var d = helpDialog();
    if (!d || d.open) return;
    d.showModal();
    document.getElementById("help-close").focus();
  }

  function onKey(ev) {
    if (ev.altKey || ev.metaKey || helpOpen()) return;
    var target = ev.target;
    if (ev.key === "?" && !typing(target)) { ev.preventDefault(); showHelp(); return; }
    if (typing(target)) {
      if (ev.key === "Escape") { target.blur(); ev.preventDefault(); }
      else if (ev.key === "Enter" && ev.ctrlKey && target.closest("#label-form")) {
        ev.preventDefault();
        if (!ready()) { noteIgnored(); return; }
        totals.applied += 1;
        submitForm(labelForm());
      }
      return;
    }
    if (ev.ctrlKey || !item() || !SHORTCUT.test(ev.key)) return;
    if (!ready()) { ev.preventDefault(); noteIgnored(); return; }
    var action = actionFor(ev.key);
    if (!action) return;
    ev.preventDefault();
    totals.applied += 1;
    action();
    counters();
  }

  function itemRequest(ev) {
    var elt = ev.detail && ev.detail.elt;
    return !!(elt && elt.closest && elt.closest("[data-item-request]"));
  }

  document.addEventListener("keydown", onKey);
  // Any other way of submitting (a click, Enter in the skip reason) waits for a processed item too.
  document.addEventListener("submit", function (ev) {
    if (!ev.target.matches("[data-item-request]") || ready()) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    noteIgnored();
  }, true);
  document.addEventListener("change", function (ev) {
    if (ev.target.name === "choice") highlight();
    if (ev.target.name === "rating-pick") setRating(parseFloat(ev.target.value));
  });

  var body = document.body;
  body.addEventListener("htmx:beforeRequest", function (ev) {
    if (!itemRequest(ev)) return;
    if (pending) { ev.preventDefault(); noteIgnored(); return; }  // one item request at a time
    var form = ev.detail.elt.closest("[data-item-request]");
    if (form.id === "label-form") submitted[form.dataset.taskId] = verdict(form);
    pending = true;
    swapping = false;
    readyTask = null;
    ignored = 0;
    showWait();
  });
  // Refused input (422), lost leases (409) and lost credentials (403) come back as a rendered
  // item: show it.
  body.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 403 || status === 409 || status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
    if (pending && ev.detail.shouldSwap && ev.detail.target && ev.detail.target.id === "review-item") swapping = true;
  });
  body.addEventListener("htmx:afterRequest", function (ev) {
    if (!itemRequest(ev) || !pending || swapping) return;
    // Nothing is swapped in (no answer, a server error): the item on screen is still the one.
    markReady();
    if (!ev.detail.successful) showWait("The server did not answer as expected; nothing changed. Try again.");
  });
  body.addEventListener("htmx:load", function (ev) {
    var el = item();
    if (!el || !(ev.target === el || ev.target.contains(el))) return;
    if (pending) {
      if (swapping && ev.target === el) markReady();
      return;  // the page itself loaded while its first item is still on its way
    }
    markReady();
  });
  body.addEventListener("reviewSaved", function (ev) { recordSaved(String(ev.detail.task)); });
  // An undone label is no longer saved: it leaves the page's list of saved labels.
  body.addEventListener("reviewUndone", function (ev) {
    var list = document.getElementById("review-saved-list");
    var li = list && list.querySelector('li[data-task="' + String(ev.detail.task) + '"]');
    if (!li) return;
    li.remove();
    document.getElementById("review-saved").dataset.count = String(list.children.length);
    document.getElementById("review-saved-count").textContent = String(list.children.length);
  });
  body.addEventListener("htmx:afterSwap", function () {
    digitBuffer = "";
    if (document.activeElement && document.activeElement !== document.body && !document.contains(document.activeElement)) {
      document.body.focus();
    }
  });
  counters();  // busy until htmx has processed the page
})();
