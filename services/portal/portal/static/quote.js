// The quote page: the total of the approved lines, updated as the owner decides each line.
// Amounts are added up in cents (whole numbers), so no float rounding shows. The form works
// as it is without this script; the server's total is the page's first.
"use strict";
(function () {
  var form = document.getElementById("quote-form");
  if (!form) { return; }
  var config = window.portal.config();
  var cents = config.cents || {};
  var total = document.getElementById("approved-total");
  var counted = document.getElementById("total-counted");

  function yuan(value) {
    var sign = value < 0 ? "-" : "";
    var size = Math.abs(value);
    var whole = String(Math.floor(size / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var fraction = size % 100;
    return sign + "¥" + whole + "." + (fraction < 10 ? "0" : "") + fraction;
  }

  function update() {
    var chosen = {};
    form.querySelectorAll("input.pick-input:checked").forEach(function (input) {
      chosen[input.getAttribute("data-line")] = input.value;
    });
    var approved = 0, declined = 0, open = 0;
    Object.keys(cents).forEach(function (line) {
      if (chosen[line] === "APPROVED") { approved += cents[line]; }
      else if (chosen[line] === "DECLINED") { declined += cents[line]; }
      else { open += 1; }
    });
    if (total) { total.textContent = yuan(approved); }
    if (counted && config.counted) {
      counted.textContent = config.counted.replace("{approved}", yuan(approved))
        .replace("{declined}", yuan(declined)).replace("{open}", String(open));
    }
  }

  form.addEventListener("change", update);
  update();
}());
