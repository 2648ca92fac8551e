// Keeps the organiser's check-in code fresh: asks for the current QR code and digits every
// few seconds (a code lives about a minute). The page still works without it: "刷新" reloads.
(function () {
  var qr = document.getElementById("checkin-qr");
  var digits = document.getElementById("checkin-digits");
  var status = document.getElementById("checkin-status");
  if (!qr || !digits || !window.fetch) return;
  var url = qr.getAttribute("data-url");
  var every = (parseInt(qr.getAttribute("data-refresh"), 10) || 20) * 1000;
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        if (!res.ok) {
          if (status) status.textContent = res.data.message || "";
          return;
        }
        qr.innerHTML = res.data.svg;  // SVG drawn by the server from its own link
        digits.textContent = res.data.code;
        if (status) status.textContent = "";
      })
      .catch(function () {
        if (status && typeof gettext === "function") status.textContent = gettext("网络异常，正在重试…");
      });
  }
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();
