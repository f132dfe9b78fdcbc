// The online payment's result page: while workorder has not heard from the payment provider
// (pending), look again every few seconds, a limited number of times. The page works without
// this script: its "check again" link does the same.
"use strict";
(function () {
  var result = document.getElementById("payment-result");
  if (!result || result.getAttribute("data-status") !== "pending") { return; }
  var config = window.portal.config();
  if (!config.poll) { return; }
  var key = "payment-poll:" + window.location.pathname;
  var done = 0;
  try { done = parseInt(window.sessionStorage.getItem(key) || "0", 10) || 0; } catch (e) { done = 0; }
  if (done >= config.times) { return; }
  window.setTimeout(function () {
    try { window.sessionStorage.setItem(key, String(done + 1)); } catch (e) { /* private mode */ }
    window.location.reload();
  }, config.seconds * 1000);
}());
