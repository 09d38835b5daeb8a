// Submit the form with id "autosubmit" as soon as the page loads (Deep Linking return).
"use strict";
(function () {
  var form = document.getElementById("autosubmit");
  if (form) { form.submit(); }
})();
