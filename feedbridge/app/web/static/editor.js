// The source editor's live preview: each change of a field asks the server what the values
// just typed yield from the page it fetched once, and puts the answer (HTML the server
// escaped) in place. Without this script the Preview button does the same with a reload.
"use strict";
(() => {
  const form = document.getElementById("editor");
  if (!form) return;
  const panel = document.getElementById("preview");
  const kind = form.elements.namedItem("kind");
  const fetchMode = form.elements.namedItem("fetch");
  const DELAY = 150; // ms of quiet typing before asking

  function showKind() {
    for (const el of form.querySelectorAll("[data-kinds]")) {
      el.hidden = !el.dataset.kinds.split(" ").includes(kind.value);
    }
    const browser = fetchMode && fetchMode.value === "browser" && kind.value === "html";
    const waitFor = form.querySelector('[data-kinds] [name="wait_for"]');
    if (waitFor) waitFor.closest(".field").hidden = !browser;
    const url = form.elements.namedItem("url");
    if (url) url.required = !kind.value.startsWith("hf_"); // the Hub's kinds read its API
  }

  function markFields(errors) {
    for (const problem of form.querySelectorAll(".problem[data-for]")) {
      const name = problem.dataset.for;
      const input = form.elements.namedItem(name);
      const message = errors[name] || (name === "title" && kind.value === "feed" && errors.feed_title) || "";
      problem.textContent = message;
      problem.hidden = !message;
      if (input && input.setAttribute) {
        if (message) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }
  }

  let timer = 0;
  let asked = 0;
  let shown = 0;
  async function refresh() {
    const n = ++asked;
    const data = new URLSearchParams(new FormData(form));
    data.delete("action");
    panel.setAttribute("aria-busy", "true");
    try {
      const answer = await fetch(form.dataset.preview, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "text/html" },
      });
      const html = await answer.text();
      if (n < shown) return; // an older answer that arrived late
      shown = n;
      panel.innerHTML = html;
      const body = panel.querySelector("[data-snapshot]");
      if (body) {
        if (body.dataset.snapshot) form.elements.namedItem("snapshot").value = body.dataset.snapshot;
        markFields(JSON.parse(body.dataset.errors || "{}"));
      }
      panel.dataset.updated = String(n);
    } catch (error) {
      panel.querySelector("h2").textContent = "Preview failed: " + error;
    } finally {
      if (n === asked) panel.removeAttribute("aria-busy");
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY);
  }

  kind.addEventListener("change", showKind);
  if (fetchMode) fetchMode.addEventListener("change", showKind);
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  showKind();
  // typed into before this script ran (a slow load): preview what is there now
  const typed = [...form.querySelectorAll("input, textarea")].some((el) => el.value !== el.defaultValue);
  if (typed) soon();
})();
