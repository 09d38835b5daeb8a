// Sign-off grid: a "select every learner" checkbox and a live count of the selection.
// Without this script the page offers a "Select every learner on this page" link instead.
"use strict";
(function () {
  var form = document.getElementById("grid-form");
  var all = document.getElementById("select-all");
  if (!form || !all) { return; }
  var rows = Array.prototype.slice.call(form.querySelectorAll("input.row-select"));
  var count = document.getElementById("selection-count");
  var messages = form.dataset;

  function update() {
    var checked = rows.filter(function (box) { return box.checked; }).length;
    all.checked = checked > 0 && checked === rows.length;
    all.indeterminate = checked > 0 && checked < rows.length;
    if (count) {
      var template = checked === 1 ? messages.selectedOne : messages.selectedMany;
      count.textContent = checked ? template.replace("{n}", String(checked)) : "";
    }
  }

  all.hidden = false;
  var fallback = form.querySelector(".no-js-select");
  if (fallback) { fallback.hidden = true; }
  all.addEventListener("change", function () {
    rows.forEach(function (box) { box.checked = all.checked; });
    update();
  });
  rows.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
