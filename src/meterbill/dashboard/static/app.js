// meterbill dashboard: the little JavaScript the pages use. Everything works without it.
"use strict";

// Confirmation dialogs are pages first (<dialog open>); here they become modal, so
// that focus stays inside and Escape closes them (back to the page they came from).
function upgradeDialogs(root) {
  root.querySelectorAll("dialog[data-modal]").forEach(function (dialog) {
    if (dialog.dataset.upgraded) return;
    dialog.dataset.upgraded = "1";
    dialog.close();
    dialog.showModal();
    // Escape fires "cancel": leave the way the Cancel link does.
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      window.location.assign(dialog.dataset.cancelHref);
    });
  });
}

// The Actions menu (<details>) closes on Escape and on a click elsewhere.
function closeMenus(except) {
  document.querySelectorAll("details.menu[open]").forEach(function (menu) {
    if (menu !== except) menu.removeAttribute("open");
  });
}

document.addEventListener("click", function (event) {
  closeMenus(event.target.closest("details.menu"));
});
document.addEventListener("keydown", function (event) {
  if (event.key === "Escape") {
    const open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  }
});

// "Same as billing address" disables the shipping inputs (the server copies them).
function syncShipping() {
  const same = document.getElementById("f-shipping_same");
  if (!same) return;
  const apply = function () {
    document.querySelectorAll("[id^='f-shipping_']").forEach(function (input) {
      if (input !== same) input.disabled = same.checked;
    });
  };
  same.addEventListener("change", apply);
  apply();
}

// Focus the first field with an error after a refused form.
function focusFirstError() {
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
}

document.addEventListener("DOMContentLoaded", function () {
  upgradeDialogs(document);
  syncShipping();
  focusFirstError();
});
document.addEventListener("htmx:afterSettle", function (event) {
  upgradeDialogs(event.target);
});
