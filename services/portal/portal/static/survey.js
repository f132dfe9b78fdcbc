// The survey page: ask for a comment when the score is low, and count the comment's
// characters. The form works as it is without this script.
"use strict";
(function () {
  var form = document.querySelector(".survey-form");
  if (!form) { return; }
  var config = window.portal.config();
  var prompt = document.getElementById("low-prompt");
  var comment = document.getElementById("comment");
  var count = document.getElementById("comment-count");

  function chosen() {
    var picked = form.querySelector("input[name=score]:checked");
    return picked ? parseInt(picked.value, 10) : null;
  }

  function update() {
    var score = chosen();
    if (prompt) { prompt.hidden = !(score !== null && score <= config.lowScore); }
    if (count && comment && comment.value.length > 0) {
      count.textContent = config.count.replace("{count}", String(comment.value.length));
    } else if (count) {
      count.textContent = "";
    }
  }

  form.addEventListener("change", update);
  if (comment) { comment.addEventListener("input", update); }
  update();
}());
