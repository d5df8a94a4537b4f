// Odds Lab page behaviour: the socket indicator (reconnect and refetch), toasts, the phone drawer.
(function () {
  "use strict";
  var body = document.body;

  function refetchContent() {
    return htmx.ajax("GET", window.location.pathname + window.location.search, {target: "#content", swap: "innerHTML"});
  }

  function refetch() {
    // After a reconnect, what changed while we were away: the page's content and the slip.
    refetchContent();
    htmx.ajax("GET", "/slip", {target: "#slip", swap: "outerHTML"});
  }

  // Live & upcoming: an event that started, finished or was cancelled no longer belongs to the group
  // its card sits in, so the page refetches its list (server-rendered, as on load). Clock ticks and
  // prices leave the groups as they are and cost nothing. Events changing together (kick-off time)
  // share one refetch, spread over a second so open pages do not all ask at the same instant.
  var regroupTimer = null, regroupInFlight = false, regroupAgain = false;
  function regroup() {
    if (regroupInFlight) { regroupAgain = true; return; }
    if (regroupTimer) return;
    regroupTimer = setTimeout(function () {
      regroupTimer = null;
      if (!document.querySelector("#page.live-list")) return;
      regroupInFlight = true;
      var done = function () {
        regroupInFlight = false;
        if (regroupAgain) { regroupAgain = false; regroup(); }
      };
      refetchContent().then(done, done);
    }, 150 + Math.random() * 850);
  }

  // The Challenges page: a challenge opened on a game the page lists no challenge of yet needs that
  // game's heading, so the lists are drawn again (as on load); opens arriving together share one.
  var boardTimer = null;
  function redrawBoard() {
    if (boardTimer) return;
    boardTimer = setTimeout(function () {
      boardTimer = null;
      if (document.getElementById("challenge-lists")) {
        htmx.ajax("GET", window.location.pathname + window.location.search, {target: "#challenge-lists", swap: "outerHTML"});
      }
    }, 100);
  }

  function dropEmptyGame(section) {
    // A game's heading goes with its last open challenge.
    if (section) setTimeout(function () { if (!section.querySelector(".challenge")) section.remove(); }, 0);
  }

  body.addEventListener("htmx:oobBeforeSwap", function (e) {
    var old = e.detail.target, fragment = e.detail.fragment;
    var game = old.classList.contains("challenge") && old.closest(".challenge-event");
    var card = fragment && fragment.firstElementChild;
    if (game && !card) { dropEmptyGame(game); return; }  // a challenge taken or withdrawn: its card is deleted
    var mine = document.getElementById("my-challenges");
    if (game && mine && card.classList.contains("challenge") && !card.dataset.board) {
      // An open challenge this player took (from another tab): it moves to their own list.
      e.detail.shouldSwap = false;
      old.remove();
      dropEmptyGame(game);
      mine.insertBefore(card, mine.firstChild);
      htmx.process(card);
      return;
    }
    if (!old.classList.contains("event-state") || !fragment || !fragment.firstElementChild) return;
    var group = old.closest("[data-group]");
    if (group && fragment.firstElementChild.dataset.status !== group.dataset.group) regroup();
  });

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

  // Something the page does not show yet. A challenge of the player's joins their list; another's that
  // opened joins the open ones. A market that just opened (a micro-market) arrives on the
  // event page whole, with its price history: it joins the event's market list as it came. An event
  // that now belongs on the live list (a new one, or one that started while the list shows only
  // live games) makes the list refetch.
  body.addEventListener("htmx:oobErrorNoTarget", function (e) {
    var elt = e.detail.content;
    if (!elt || !elt.classList) return;
    if (elt.classList.contains("market-wrap")) {
      var market = elt.querySelector(".market");
      var list = document.getElementById("event-" + elt.dataset.event + "-markets");
      if (!list || !market || market.dataset.status !== "open") return;
      var empty = document.getElementById("event-" + elt.dataset.event + "-no-markets");
      if (empty) empty.remove();
      list.appendChild(elt);
      htmx.process(elt);
    } else if (elt.classList.contains("challenge") && elt.dataset.board) {
      // Someone else's challenge just opened: it heads its game's open challenges.
      var game = document.getElementById("open-challenges-" + elt.dataset.event);
      if (!game) { redrawBoard(); return; }
      game.insertBefore(elt, game.querySelector("h3").nextSibling);
      htmx.process(elt);
    } else if (elt.classList.contains("challenge")) {
      // One of the player's challenges this page has not drawn (made in another tab): it heads their list.
      var mine = document.getElementById("my-challenges");
      if (!mine) return;
      mine.insertBefore(elt, mine.firstChild);
      htmx.process(elt);
    } else if (elt.classList.contains("event-state")) {
      var page = document.querySelector("#page.live-list");
      if (!page) return;
      var listed = (page.dataset.groups || "").split(" ").indexOf(elt.dataset.status) >= 0;
      if (listed && (!page.dataset.sport || page.dataset.sport === elt.dataset.sport)) regroup();
    }
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
