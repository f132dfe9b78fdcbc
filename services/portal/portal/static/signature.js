// The signature box: the owner signs with a finger or the mouse, and the drawing goes into
// the form's hidden field as a PNG data URL (what the portal sends workorder as the
// signature's image). Without this script the box stays hidden and the typed name signs.
"use strict";
(function () {
  var box = document.getElementById("signature-pad-box");
  var canvas = document.getElementById("signature-pad");
  var field = document.getElementById("signature_image");
  var clear = document.getElementById("signature-clear");
  if (!box || !canvas || !field || !canvas.getContext) { return; }
  box.hidden = false;

  // Drawn at the screen's pixel density (at most 2: a sharper picture is only a bigger file).
  var scale = Math.min(window.devicePixelRatio || 1, 2);
  var context = canvas.getContext("2d");
  var drawing = false;
  var last = null;

  function fit() {
    var width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    context.setTransform(scale, 0, 0, scale, 0, 0);
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#1d2329";
  }

  function at(event) {
    var rect = canvas.getBoundingClientRect();
    return {x: event.clientX - rect.left, y: event.clientY - rect.top};
  }

  function start(event) {
    event.preventDefault();
    drawing = true;
    last = at(event);
    if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
    context.beginPath();
    context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
    context.fillStyle = context.strokeStyle;
    context.fill();
  }

  function move(event) {
    if (!drawing) { return; }
    event.preventDefault();
    var point = at(event);
    context.beginPath();
    context.moveTo(last.x, last.y);
    context.lineTo(point.x, point.y);
    context.stroke();
    last = point;
  }

  function end() {
    if (!drawing) { return; }
    drawing = false;
    field.value = canvas.toDataURL("image/png");
  }

  fit();
  // A drawing sent back with a form to correct is shown again, not lost.
  if (field.value.indexOf("data:image/png;base64,") === 0) {
    var kept = new Image();
    kept.onload = function () {
      context.drawImage(kept, 0, 0, canvas.clientWidth, canvas.clientHeight);
    };
    kept.src = field.value;
  }
  canvas.addEventListener("pointerdown", start);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("pointerleave", end);
  if (clear) {
    clear.addEventListener("click", function () {
      context.clearRect(0, 0, canvas.width, canvas.height);
      field.value = "";
    });
  }
}());
