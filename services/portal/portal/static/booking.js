// The booking pages: choosing another service shows its free times at once, the pickup
// address appears only for pickup and delivery, the chosen time is repeated beside the
// button, and the button says the booking is on its way (so it is not sent twice). Every form
// works as it is without this script.
"use strict";
(function () {
  var config = window.portal.config();

  var form = document.querySelector(".book-form");
  if (!form) { return; }
  var chosen = document.getElementById("chosen-slot");
  var submit = document.getElementById("book-submit");

  // Another service chosen: the times below were for the one before, so they are put away
  // until the owner asks for the new one's (no page change on choosing: a keyboard user
  // moving through the list would be sent off at the first arrow key).
  var select = document.getElementById("service_type");
  var offered = form.querySelector("input[type=hidden][name=service_type]");
  var slots = form.querySelector(".slots");
  var changed = document.getElementById("service-changed");
  if (select && offered && slots && changed) {
    select.addEventListener("change", function () {
      var stale = select.value !== offered.value;
      slots.hidden = stale;
      changed.hidden = !stale;
      if (submit) { submit.disabled = stale; }
    });
  }
  var pickup = document.getElementById("pickup-fields");
  var address = document.getElementById("pickup_address");
  var loaner = document.getElementById("loaner");

  function picked(name) {
    return form.querySelector("input[name=" + name + "]:checked");
  }

  function update() {
    var slot = picked("slot_start");
    if (chosen) {
      chosen.textContent = slot ? config.chosen.replace("{slot}", slot.getAttribute("data-label")) : "";
    }
    var arrival = picked("arrival");
    if (pickup && arrival) {
      var wanted = arrival.value === "pickup";
      pickup.hidden = !wanted;
      if (address) { address.required = wanted; }
    }
    if (loaner && arrival) {
      // Someone waiting in the lounge needs no loaner car.
      loaner.disabled = arrival.value === "wait";
      if (loaner.disabled) { loaner.checked = false; }
    }
  }

  // The days as tabs: one day's times at a time (without the script every day is listed,
  // with links to jump to each).
  var nav = document.getElementById("day-nav");
  var groups = Array.prototype.slice.call(form.querySelectorAll(".day[data-day]"));
  function showDay(day) {
    groups.forEach(function (group) { group.hidden = group.getAttribute("data-day") !== day; });
    if (nav) {
      Array.prototype.forEach.call(nav.querySelectorAll(".day-chip"), function (chip) {
        if (chip.getAttribute("data-day") === day) {
          chip.setAttribute("aria-current", "true");
        } else {
          chip.removeAttribute("aria-current");
        }
      });
    }
  }
  if (nav && groups.length > 1) {
    var checked = picked("slot_start");
    var first = checked ? checked.closest(".day") : groups[0];
    showDay(first.getAttribute("data-day"));
    nav.addEventListener("click", function (event) {
      var chip = event.target.closest(".day-chip");
      if (!chip) { return; }
      event.preventDefault();
      showDay(chip.getAttribute("data-day"));
    });
    // No time chosen: the browser points at the first day's first time, so show that day.
    groups[0].querySelector(".slot-input").addEventListener("invalid", function () {
      showDay(groups[0].getAttribute("data-day"));
    });
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", function () {
    if (submit) {
      // After the browser sent the form: a second tap would only book twice.
      window.setTimeout(function () {
        submit.disabled = true;
        submit.textContent = config.sending;
      }, 0);
    }
  });
  update();
}());
