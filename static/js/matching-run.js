// A match run's page, live: listens on the user's notification socket for
// `match_run.progress` events of this run and polls the run's status every 2 s as a fallback
// (the socket may be down or the run started by someone else). When the run ends the page
// reloads once, so the figures and the link to its proposals come from the server.
(function () {
  "use strict";
  var root = document.getElementById("match-run");
  if (!root || root.dataset.active !== "1") return;
  var gettext = window.gettext || function (s) { return s; };
  var runId = Number(root.dataset.run);
  var statusUrl = root.dataset.statusUrl;
  var finished = false, ws = null, pollTimer = null, delay = 1000;

  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
  function setText(name, value) {
    var node = field(name);
    if (node && value !== undefined && value !== null) node.textContent = value;
  }

  function apply(run) {
    if (!run || Number(run.id) !== runId || finished) return;
    if (typeof run.progress === "number") {
      var bar = field("progress-bar");
      if (bar) { bar.value = run.progress; bar.textContent = run.progress + "%"; }
      setText("progress", run.progress);
    }
    if (run.stage) setText("stage", run.stage);
    if (run.status_display) setText("status", run.status_display);
    if (run.status === "done" || run.status === "failed") {
      finished = true;
      setText("live", gettext("已结束，正在刷新…"));
      if (pollTimer) clearInterval(pollTimer);
      if (ws) { try { ws.close(); } catch (err) { /* already closed */ } }
      window.location.reload();
    }
  }

  function poll() {
    if (!window.fetch || finished) return;
    fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(apply)
      .catch(function () { setText("live", gettext("网络异常，正在重试…")); });
  }

  function connect() {
    if (!("WebSocket" in window) || finished) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/notifications/");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (e) {
      try {
        var data = JSON.parse(e.data);
        if (data.event === "match_run.progress") apply(data.run);
      } catch (err) { /* ignore malformed frames */ }
    };
    ws.onclose = function (e) {
      if (finished || e.code === 4401) return;  // done, or not signed in: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
  pollTimer = setInterval(poll, 2000);
  poll();
})();
