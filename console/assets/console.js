// The console's progressive enhancement: live updates from the server's
// event stream, times in the viewer's time zone, unread marks, Ctrl+Enter
// to send. Without it every page still works (reload to see changes).
"use strict";

(function () {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  // Times arrive as UTC text with the instant in datetime; show them in
  // the viewer's zone and keep UTC in the tooltip.
  function localTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.textContent = fmt.format(d);
    }
  }

  // What the inbox showed when the page was opened: a thread that is new
  // or has moved since then is unread.
  const seen = new Map();
  function rows() { return document.querySelectorAll("[data-testid=thread-row]"); }
  function remember() {
    for (const r of rows()) seen.set(r.dataset.threadId, r.dataset.updated);
  }
  function markUnread(root, also) {
    for (const r of root.querySelectorAll("[data-testid=thread-row]")) {
      if (seen.get(r.dataset.threadId) !== r.dataset.updated || (also && also.has(r.dataset.threadId))) {
        r.classList.add("unread");
        const b = r.querySelector("[data-testid=thread-unread]");
        if (b) b.hidden = false;
      }
    }
  }

  function scrollChat() {
    const last = document.querySelector(".chat .msg:last-child");
    if (last) last.scrollIntoView({ block: "nearest" });
  }

  let busy = false, again = false;
  // refresh fetches this page again and swaps those of its live regions
  // that changed; forms outside them (the reply box) keep what was typed.
  // A region that did not change (most refreshes: every change of the data
  // refreshes every page) stays as it is, so that a click on it is not
  // lost: a press and a release on nodes that a swap took apart click
  // nothing.
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (!res.ok || res.redirected) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const unread = new Set(Array.from(document.querySelectorAll("tr.unread"), r => r.dataset.threadId));
      const open = new Set(Array.from(document.querySelectorAll("details[open][data-keep-open]"), d => d.dataset.keepOpen));
      const chatCount = document.querySelectorAll(".chat .msg").length;
      for (const region of document.querySelectorAll("[data-live]")) {
        const fresh = doc.querySelector('[data-live="' + CSS.escape(region.dataset.live) + '"]');
        if (!fresh) continue;
        // The fresh region as it would be shown, to compare.
        localTimes(fresh);
        markUnread(fresh, unread);
        for (const d of fresh.querySelectorAll("details[data-keep-open]")) {
          if (open.has(d.dataset.keepOpen)) d.open = true;
        }
        if (!fresh.isEqualNode(region)) region.replaceWith(document.adoptNode(fresh));
      }
      if (document.querySelectorAll(".chat .msg").length !== chatCount) scrollChat();
    } catch (e) {
      // The next change tries again.
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  // live follows the event stream while the page is shown; a page kept in
  // the back-forward cache closes its stream and refreshes when shown again.
  let es = null;
  function live() {
    const status = document.getElementById("live-status");
    if (!status || !window.EventSource || es) return;
    // The stream starts from the page's generation: a change made while
    // the page loaded is sent at once.
    es = new EventSource("/console/events?since=" + encodeURIComponent(document.body.dataset.generation || ""));
    es.onopen = () => { status.textContent = "live"; status.classList.add("on"); };
    es.onerror = () => {
      status.textContent = es.readyState === EventSource.CLOSED ? "offline: reload the page" : "reconnecting";
      status.classList.remove("on");
    };
    es.addEventListener("change", refresh);
  }
  window.addEventListener("pagehide", () => { if (es) { es.close(); es = null; } });
  window.addEventListener("pageshow", e => {
    if (e.persisted && document.body.hasAttribute("data-live-page")) { live(); refresh(); }
  });

  function keys() {
    const reply = document.querySelector("[data-testid=reply-text]");
    if (!reply) return;
    reply.addEventListener("keydown", e => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && reply.value.trim() !== "") {
        e.preventDefault();
        reply.form.requestSubmit();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    remember();
    scrollChat();
    keys();
    if (document.body.hasAttribute("data-live-page")) live();
  });
})();
