// Shows events pushed to the signed-in user (e.g. "your organisation was verified").
// Reconnects with back-off; the page works without it.
(function () {
  var box = document.getElementById("live-notice");
  if (!box || !("WebSocket" in window)) return;
  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/notifications/");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (e) {
      try {
        var data = JSON.parse(e.data);
        if (data.message) { box.textContent = data.message; box.hidden = false; }
      } catch (err) { /* ignore malformed frames */ }
    };
    ws.onclose = function (e) {
      if (e.code === 4401) return;  // not signed in: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
