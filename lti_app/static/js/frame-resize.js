// Ask the LMS that frames this page to fit the frame to the page (lti.frameResize).
// Canvas, D2L, Blackboard and Sakai listen for it; elsewhere the message is ignored.
"use strict";
(function () {
  if (window.parent === window) { return; }
  var last = 0;
  var pending = false;
  function send() {
    pending = false;
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) { return; }
    last = height;
    // Only a height is sent, nothing private: any parent origin may read it.
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  function schedule() {
    if (!pending) { pending = true; window.requestAnimationFrame(send); }
  }
  window.addEventListener("load", schedule);
  window.addEventListener("resize", schedule);
  document.addEventListener("toggle", schedule, true); // <details> opened or closed
  if (window.ResizeObserver) { new window.ResizeObserver(schedule).observe(document.body); }
  schedule();
})();
