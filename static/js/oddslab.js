// Odds Lab page behaviour: the socket indicator (reconnect and refetch), toasts, the phone drawer.
(function () {
  "use strict";
  var body = document.body;

  function refetch() {
    // After a reconnect, what changed while we were away: the page's content and the slip.
    htmx.ajax("GET", window.location.pathname + window.location.search, {target: "#content", swap: "innerHTML"});
    htmx.ajax("GET", "/slip", {target: "#slip", swap: "outerHTML"});
  }

  body.addEventListener("htmx:wsOpen", function (e) {
    var elt = e.detail.elt || e.target;
    var wasDown = elt.dataset.socket === "down";
    elt.dataset.socket = "open";
    if (!document.querySelector("[ws-connect][data-socket=down]")) body.classList.remove("ws-down");
    if (wasDown) refetch();
  });
  body.addEventListener("htmx:wsClose", function (e) {
    var elt = e.detail.elt || e.target;
    elt.dataset.socket = "down";
    body.classList.add("ws-down");
  });

  // A market the page does not show yet (a micro-market that just opened): add it to its event's
  // market list on the event page; elsewhere it is ignored.
  body.addEventListener("htmx:oobErrorNoTarget", function (e) {
    var elt = e.detail.content;
    if (!elt || !elt.classList || !elt.classList.contains("market") || elt.dataset.status !== "open") return;
    var list = document.getElementById("event-" + elt.dataset.event + "-markets");
    if (!list) return;
    var wrap = document.createElement("div");
    wrap.className = "market-wrap";
    elt.removeAttribute("hx-swap-oob");
    wrap.appendChild(elt);
    list.appendChild(wrap);
    htmx.process(wrap);
  });

  // Toasts: dismiss on click, removed once faded out.
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest(".toast .dismiss")) e.target.closest(".toast").remove();
  });
  document.addEventListener("animationend", function (e) {
    if (e.animationName === "toast-out") e.target.remove();
  });

  // Phone: the slip is a bottom drawer.
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest(".drawer-toggle");
    if (!toggle) return;
    var panel = document.getElementById("slip-panel");
    var open = panel.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
