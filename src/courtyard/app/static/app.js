// Courtyard device app: the little glue htmx needs. No inline scripts anywhere (strict CSP).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // Every htmx request carries the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) {
      event.detail.headers["X-CSRF-Token"] = csrf.getAttribute("content");
    }
  });

  // Forms marked data-reset are cleared once their request succeeded.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form && form.hasAttribute && form.hasAttribute("data-reset")) {
      form.reset();
      // A composer panel (red packet, transfer) folds away once it did its job (not on a 422).
      var panel = form.closest("details");
      if (panel && event.detail.xhr && event.detail.xhr.status !== 422) {
        panel.open = false;
      }
    }
    var flash = document.getElementById("flash");
    if (event.detail.successful && flash && event.detail.xhr && event.detail.xhr.status !== 422) {
      flash.textContent = "";
    }
  });

  function scrollMessages() {
    var box = document.getElementById("messages");
    if (box) {
      box.scrollTop = box.scrollHeight;
    }
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "messages") {
      scrollMessages();
    }
  });
  // Images change the height after they load; keep the newest message in view.
  document.addEventListener("load", function (event) {
    if (event.target && event.target.classList && event.target.classList.contains("inline-image")) {
      scrollMessages();
    }
  }, true);

  // Live updates: the app pushes "update" over Server-Sent Events; fragments listening for
  // courtyard:update on <body> refresh themselves.
  function listen() {
    if (!document.body.classList.contains("app") || !window.EventSource) {
      return;
    }
    var source = new EventSource("/events");
    source.addEventListener("update", function () {
      if (window.htmx) {
        window.htmx.trigger(document.body, "courtyard:update");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    scrollMessages();
    listen();
  });
})();
