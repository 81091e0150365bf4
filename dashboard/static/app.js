// Keeps an open page live: when the server says new events or journeys arrived, the page's
// main region is fetched again and swapped in place (no full reload, scroll kept).
(function () {
  "use strict";
  var source = document.body.getAttribute("data-live");
  if (!source || !window.EventSource) { return; }
  var state = document.getElementById("live-state");
  var busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var current = document.getElementById("main");
        if (fresh && current && !current.contains(document.activeElement)) {
          current.replaceWith(fresh);
        }
      })
      .catch(function () {})
      .finally(function () { busy = false; });
  }
  var events = new EventSource(source);
  events.addEventListener("changed", refresh);
  events.onopen = function () { if (state) { state.className = "live"; state.textContent = "live"; } };
  events.onerror = function () { if (state) { state.className = "live off"; state.textContent = "reconnecting"; } };
}());
