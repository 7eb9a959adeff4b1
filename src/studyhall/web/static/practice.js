// Practice page: checks an answer without leaving the page, and keeps the places of an
// ordering question distinct. Without it the form posts and the page comes back with the
// result; the server's page is the one source of what is shown either way.
(() => {
  "use strict";

  const announce = (root, message) => {
    const region = root.querySelector("[data-live]");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(() => { region.textContent = message; }, 50);
  };

  const region = () => document.querySelector("[data-practice]");

  const check = async (form) => {
    const button = form.querySelector("[data-check]");
    if (button) {
      button.disabled = true;
      button.textContent = "Checking…";
    }
    const token = document.querySelector('meta[name="csrf-token"]');
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: token ? { "X-CSRF-Token": token.content } : {},
    });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("[data-practice]");
    const current = region();
    if (!fresh || !current) throw new Error("not a practice page");
    current.replaceWith(fresh);
    const focus = fresh.querySelector("[data-practice-focus]");
    if (focus) focus.focus();
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-practice-form]")) return;
    event.preventDefault();
    // Anything unexpected (signed out, offline): let the browser post the form itself.
    check(form).catch(() => form.submit());
  });

  // An ordering item that takes a place gives its old place (the one no item has now)
  // to the item that had the new one, so every place stays used once.
  document.addEventListener("change", (event) => {
    const select = event.target;
    const list = select instanceof HTMLSelectElement ? select.closest("[data-places]") : null;
    if (!list) return;
    const selects = [...list.querySelectorAll("select")];
    const taken = new Set(selects.map((each) => each.value));
    const freed = [...select.options].map((option) => option.value).find((v) => !taken.has(v));
    const other = selects.find((each) => each !== select && each.value === select.value);
    if (!other || freed === undefined) return;
    other.value = freed;
    const name = other.closest("li").querySelector(".item-text").textContent.trim();
    announce(list.parentElement, `${name} moved to place ${freed}`);
  });
})();
