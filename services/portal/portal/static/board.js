// The workshop board: ask /board.json every few seconds and move the cards between the
// columns in place (no reload), so a card keeps its focus and the page its scroll. The page
// works without this script: a reload shows the same board.
"use strict";
(function () {
  var board = document.getElementById("board");
  if (!board || !window.fetch) { return; }
  var config = window.portal.config();
  var every = Math.max(500, (config.refreshSeconds || 3) * 1000);
  var FIELDS = ["plate", "model", "waits", "when", "advisor", "progress", "waiting_customer"];
  var timer = null;
  var asking = false;

  function columnOf(key) {
    return board.querySelector('[data-column="' + key + '"]');
  }

  function newCard(card) {
    var item = document.createElement("li");
    item.className = "board-card";
    item.setAttribute("data-ro", card.id);
    var link = document.createElement("a");
    link.className = "board-link";
    function span(field, className, parent) {
      var node = document.createElement(field === "plate" ? "strong" : "span");
      if (className) { node.className = className; }
      node.setAttribute("data-field", field);
      parent.appendChild(node);
      return node;
    }
    var first = document.createElement("span");
    first.className = "board-line";
    span("plate", "plate", first);
    first.appendChild(document.createTextNode(" "));
    span("model", "model", first);
    link.appendChild(first);
    span("waits", "waits", link);
    span("when", "when", link);
    var last = document.createElement("span");
    last.className = "board-line small";
    span("advisor", "", last);
    last.appendChild(document.createTextNode(" "));
    span("progress", "", last);
    last.appendChild(document.createTextNode(" "));
    span("waiting_customer", "owner-waiting", last);
    link.appendChild(last);
    item.appendChild(link);
    return item;
  }

  function fill(item, card) {
    var link = item.querySelector("a");
    if (link.getAttribute("href") !== card.href) { link.setAttribute("href", card.href); }
    FIELDS.forEach(function (field) {
      var node = item.querySelector('[data-field="' + field + '"]');
      if (node && node.textContent !== (card[field] || "")) {
        node.textContent = card[field] || "";
      }
    });
    var waits = item.querySelector('[data-field="waits"]');
    if (waits) { waits.className = "waits tone-" + card.tone; }
    item.classList.toggle("late", !!card.late);
  }

  function apply(data) {
    // The focused card (a keyboard user's place) is focused again once the cards moved.
    var active = document.activeElement;
    var focused = active && active.closest ? active.closest("[data-ro]") : null;
    var focusedId = focused ? focused.getAttribute("data-ro") : null;
    var existing = {};
    Array.prototype.forEach.call(board.querySelectorAll("[data-ro]"), function (item) {
      existing[item.getAttribute("data-ro")] = item;
    });
    var seen = {};
    var placed = {};
    data.cards.forEach(function (card) {
      var column = columnOf(card.column);
      if (!column) { return; }
      var list = column.querySelector("[data-cards]");
      var item = existing[card.id] || newCard(card);
      fill(item, card);
      seen[card.id] = true;
      // In the server's order within each column: only what is out of place is moved.
      var after = placed[card.column] || null;
      var wanted = after ? after.nextElementSibling : list.firstElementChild;
      if (item.parentNode !== list || wanted !== item) {
        list.insertBefore(item, wanted);
      }
      placed[card.column] = item;
    });
    Object.keys(existing).forEach(function (id) {
      if (!seen[id]) { existing[id].parentNode.removeChild(existing[id]); }
    });
    Array.prototype.forEach.call(board.querySelectorAll("[data-column]"), function (column) {
      var count = data.counts[column.getAttribute("data-column")] || 0;
      var counter = column.querySelector("[data-count]");
      if (counter.textContent !== String(count)) { counter.textContent = String(count); }
      column.querySelector(".board-empty").hidden = count > 0;
    });
    if (focusedId && existing[focusedId] && seen[focusedId] &&
        document.activeElement !== existing[focusedId].querySelector("a")) {
      existing[focusedId].querySelector("a").focus({ preventScroll: true });
    }
    technicians(data.technicians);
    text("board-updated", data.updated_text);
    text("board-summary", data.summary);
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node && value && node.textContent !== value) { node.textContent = value; }
  }

  function technicians(list) {
    var body = document.getElementById("technicians");
    if (!body) { return; }
    var rows = list.map(function (tech) {
      var row = document.createElement("tr");
      row.setAttribute("data-technician", tech.id);
      [["", tech.name], ["amount", tech.jobs], [tech.busy ? "busy" : "idle", tech.clock],
       ["amount", tech.load]].forEach(function (cell) {
        var td = document.createElement("td");
        if (cell[0]) { td.className = cell[0]; }
        td.textContent = cell[1];
        row.appendChild(td);
      });
      return row;
    });
    var now = body.innerHTML;
    var next = document.createElement("tbody");
    rows.forEach(function (row) { next.appendChild(row); });
    if (next.innerHTML !== now) {
      while (body.firstChild) { body.removeChild(body.firstChild); }
      rows.forEach(function (row) { body.appendChild(row); });
    }
    var none = document.getElementById("technicians-none");
    if (none) { none.hidden = list.length > 0; }
  }

  function offline(shown) {
    var note = document.getElementById("board-offline");
    if (note) { note.hidden = !shown; }
  }

  function poll() {
    timer = null;
    if (asking) { return; }
    asking = true;
    fetch(config.url, { credentials: "same-origin", headers: { Accept: "application/json" },
                        cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401) {  // the sign-in lapsed: sign in again and come back
          window.location.assign(config.signIn);
          return null;
        }
        if (!answer.ok) { throw new Error(String(answer.status)); }
        return answer.json();
      })
      .then(function (data) {
        if (data) { apply(data); offline(false); }
      })
      .catch(function () { offline(true); })
      .then(function () { asking = false; schedule(); });
  }

  function schedule() {
    if (timer === null && !document.hidden) { timer = window.setTimeout(poll, every); }
  }

  // A board in a background tab asks nothing; back in front, it asks at once.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null && !asking) { poll(); }
  });
  schedule();
}());
