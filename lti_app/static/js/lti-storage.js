// 1EdTech LTI client-side postMessage storage (lti_storage_target).
//
// Login ("put"): store the state and the nonce in the platform's storage frame,
// then continue to the platform's authorization URL.
// Launch ("get"): read them back; only when both match, complete the launch.
// Messages go only to the platform's origin, and answers are accepted only from it.
"use strict";
(function () {
  var box = document.getElementById("lti-storage");
  if (!box) { return; }
  var mode = box.getAttribute("data-mode");
  var state = box.getAttribute("data-state");
  var nonce = box.getAttribute("data-nonce");
  var targetName = box.getAttribute("data-target");
  var origin = box.getAttribute("data-origin");
  var TIMEOUT_MS = 2000;

  function platformWindow() {
    var top = window.opener || window.parent;
    if (!targetName || targetName === "_parent") { return top; }
    try {
      if (top.frames[targetName]) { return top.frames[targetName]; }
    } catch (e) { /* a cross-origin frame list may refuse access: fall back */ }
    return top;
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function send(subject, fields) {
    return new Promise(function (resolve, reject) {
      var messageId = "skillsign-" + randomId();
      var timer;
      function onMessage(event) {
        var data = event.data || {};
        if (event.origin !== origin || data.message_id !== messageId) { return; }
        if (data.subject !== subject + ".response") { return; }
        window.removeEventListener("message", onMessage);
        clearTimeout(timer);
        if (data.error) { reject(data.error); } else { resolve(data); }
      }
      window.addEventListener("message", onMessage);
      var message = { subject: subject, message_id: messageId };
      for (var key in fields) { message[key] = fields[key]; }
      platformWindow().postMessage(message, origin);
      timer = setTimeout(function () {
        window.removeEventListener("message", onMessage);
        reject({ code: "timeout" });
      }, TIMEOUT_MS);
    });
  }

  function putData(key, value) { return send("lti.put_data", { key: key, value: value }); }
  function getData(key) {
    return send("lti.get_data", { key: key }).then(function (data) { return data.value; });
  }

  if (mode === "put") {
    putData("lti_state_" + state, state)
      .then(function () { return putData("lti_nonce_" + nonce, nonce); })
      .catch(function () { /* the cookie set with this page still binds the launch */ })
      .then(function () { window.location.replace(box.getAttribute("data-auth-url")); });
    return;
  }

  getData("lti_state_" + state)
    .then(function (value) {
      if (value !== state) { throw { code: "state_mismatch" }; }
      return getData("lti_nonce_" + nonce);
    })
    .then(function (value) {
      if (value !== nonce) { throw { code: "nonce_mismatch" }; }
      document.getElementById("confirm").submit();
    })
    .catch(function () {
      document.getElementById("lti-storage-status").hidden = true;
      document.getElementById("lti-storage-failed").hidden = false;
    });
})();
