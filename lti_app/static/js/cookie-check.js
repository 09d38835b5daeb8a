// Before spending the platform's one-time login hint, check that this frame may keep
// cookies. If it may, continue the login; if not, offer to open skillsign in a new window.
"use strict";
(function () {
  var box = document.getElementById("cookie-check");
  if (!box) { return; }
  var name = "skillsign_cookie_test";
  var secure = window.location.protocol === "https:" ? "; SameSite=None; Secure" : "; SameSite=Lax";
  document.cookie = name + "=1; path=/; max-age=60" + secure;
  var allowed = navigator.cookieEnabled && document.cookie.indexOf(name + "=1") !== -1;
  if (allowed) {
    document.cookie = name + "=; path=/; max-age=0" + secure;
    window.location.replace(box.getAttribute("data-auth-url"));
    return;
  }
  document.getElementById("cookie-check-status").hidden = true;
  document.getElementById("cookies-blocked").hidden = false;
})();
