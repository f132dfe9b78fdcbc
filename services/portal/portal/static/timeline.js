// My car now: asks the portal for the visit's timeline every few seconds and redraws the
// steps in place (the current one highlighted), what waits for the owner, and the headline;
// it stops once the car is delivered or the visit ended. Without this script the page shows
// the timeline as it was when loaded, with a link to refresh it.
"use strict";
(function () {
  var list = document.getElementById("timeline");
  if (!list) { return; }
  var config = window.portal.config();
  var now = document.getElementById("now");
  var attention = document.getElementById("attention");
  var attentionText = document.getElementById("attention-text");
  var attentionLink = document.getElementById("attention-link");
  var inspection = document.getElementById("inspection");
  var inspectionLink = document.getElementById("inspection-link");
  var note = document.getElementById("refresh-note");
  var noteText = note ? note.textContent : "";
  var timer = null;

  function redraw(view) {
    view.steps.forEach(function (step) {
      var item = list.querySelector("[data-step='" + step.code + "']");
      if (!item) { return; }
      item.className = "step " + step.state;
      if (step.state === "current") {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
      var state = item.querySelector(".step-state");
      if (state) { state.textContent = config.states[step.state] || step.state; }
      var at = item.querySelector(".step-at");
      if (at) { at.textContent = step.at || ""; }
    });
    list.classList.toggle("ended", Boolean(view.ended));
    if (now) {
      now.textContent = view.ended ? config.ended[view.ended]
        : config.now.replace("{step}", config.steps[view.current] || view.current);
      now.setAttribute("data-current", view.current);
      now.setAttribute("data-ended", view.ended || "");
    }
    if (attention) {
      var key = view.ended ? null : view.attention;
      attention.hidden = !key || !view.repair_order_id;
      if (key && view.repair_order_id) {
        attentionText.textContent = config.attention[key] || "";
        attentionLink.textContent = config.link_texts[key] || "";
        attentionLink.href = config.links[key].replace("{ro}", encodeURIComponent(view.repair_order_id));
      }
    }
    if (inspection) {
      var inspected = view.repair_order_id && view.current !== "booked" && view.current !== "received";
      inspection.hidden = !inspected;
      if (inspected) {
        inspectionLink.href = config.inspection.replace("{ro}", encodeURIComponent(view.repair_order_id));
      }
    }
    if (note) { note.textContent = noteText; }
  }

  function poll() {
    if (document.hidden) { schedule(); return; }  // nobody looking: ask when they are
    var request = new XMLHttpRequest();
    request.open("GET", config.url);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status === 200) {
        var view = JSON.parse(request.responseText);
        redraw(view);
        if (view.final) { return; }
      } else if (request.status === 401) {
        return;  // signed out: the refresh link takes the owner to sign in again
      } else if (note) {
        note.textContent = config.stale;
      }
      schedule();
    };
    request.onerror = function () {
      if (note) { note.textContent = config.stale; }
      schedule();
    };
    request.send();
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, config.seconds * 1000);
  }

  if (!config.final) { schedule(); }
}());
