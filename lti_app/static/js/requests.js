// Requests queue: "All requests shown" ticks every request's box, and a live count says how
// many are selected. Without this script the "All ... shown" box still works: the server
// takes every request the filters show.
"use strict";
(function () {
  var form = document.getElementById("bulk-decide");
  var all = document.getElementById("select-all-requests");
  if (!form || !all) { return; }
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.request-select-box"));
  var count = document.getElementById("request-selection-count");
  var messages = form.dataset;

  function update() {
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    if (count) {
      var template = checked === 1 ? messages.selectedOne : messages.selectedMany;
      count.textContent = checked ? template.replace("{n}", String(checked)) : "";
    }
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
    update();
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      // A box unticked by hand: the selection is no longer "all shown".
      if (!box.checked) { all.checked = false; }
      update();
    });
  });
  update();
})();
