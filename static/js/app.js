// Page behaviour shared by every page, as listeners rather than inline handlers: the CSP
// forbids inline script (onsubmit=, hx-on).

// A form with data-confirm asks before it posts.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// An element with data-swap-statuses="400 409" shows those error answers in place (they carry
// the form's partial with its errors) instead of htmx dropping them.
document.addEventListener("htmx:beforeSwap", (event) => {
  // htmx fires beforeSwap on the swap's target; the attribute may sit on the requesting form.
  const origin = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.target;
  const holder = origin.closest("[data-swap-statuses]") || event.target.closest("[data-swap-statuses]");
  if (!holder) return;
  const statuses = holder.dataset.swapStatuses.split(/\s+/).map(Number);
  if (statuses.includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
