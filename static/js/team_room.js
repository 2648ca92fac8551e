// The team room, live: opens the room's socket, applies events in order, and sends the
// forms' commands over it. Reconnects with back-off and asks for what it missed since the
// last event id it saw. Without a socket the forms post as ordinary HTTP forms.
(function () {
  "use strict";
  var root = document.getElementById("team-room");
  if (!root || root.dataset.live !== "1" || !("WebSocket" in window)) return;
  var gettext = window.gettext || function (s) { return s; };
  var teamId = root.dataset.team;
  var me = Number(root.dataset.me);
  var leader = Number(root.dataset.leader);
  var lastId = Number(root.dataset.lastEvent) || 0;
  var statusBox = document.getElementById("room-status");
  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  var ws = null, delay = 1000, pingTimer = null, retryTimer = null, stopped = false, pendingBody = null;
  var FINAL = { 4401: gettext("请先登录。"), 4403: gettext("您已不是该团队成员，连接已关闭。"), 4404: gettext("团队不存在。") };

  function status(text, isError) {
    statusBox.textContent = text;
    statusBox.classList.toggle("error", !!isError);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function shortTime(iso) {
    if (!iso) return "";
    var m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d)/.exec(iso);
    return m ? m[1] + " " + m[2] : iso;
  }
  function dropEmpty(list) {
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
  }

  // --- Rendering events -----------------------------------------------------------------
  function addMessage(msg) {
    var list = document.getElementById("message-list");
    if (document.getElementById("msg-" + msg.id)) return;
    dropEmpty(list);
    var li = el("li", { id: "msg-" + msg.id });
    if (msg.author_id === me) li.className = "mine";
    var meta = el("div", { class: "meta" }, msg.author + " · ");
    meta.appendChild(el("time", { datetime: msg.at }, shortTime(msg.at)));
    li.appendChild(meta);
    li.appendChild(el("div", { class: "body" }, msg.body));
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
    if (msg.author_id === me && pendingBody !== null && msg.body === pendingBody.trim()) {
      var box = document.querySelector("#message-form textarea");
      if (box) box.value = "";
      pendingBody = null;
    }
  }
  function actionForm(task, action, label, secondary) {
    var form = el("form", {
      method: "post", class: "inline", "data-cmd": "task." + action, "data-task": task.id,
      action: root.dataset.taskUrl.replace("999999", task.id).replace("ACTION", action)
    });
    if (csrfInput) form.appendChild(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfInput.value }));
    var button = el("button", { type: "submit" }, label);
    if (secondary) button.className = "secondary";
    form.appendChild(button);
    return form;
  }
  function putTask(task) {
    var old = document.getElementById("task-" + task.id);
    if (old) old.remove();
    var li = el("li", { id: "task-" + task.id, class: "task", "data-status": task.status });
    li.appendChild(el("strong", {}, task.title));
    if (task.description) li.appendChild(el("div", { class: "help" }, task.description));
    if (task.due_at) li.appendChild(el("div", { class: "help" }, gettext("截止") + " " + shortTime(task.due_at)));
    if (task.claimed_by) li.appendChild(el("div", { class: "help claimer" }, gettext("认领人：") + task.claimed_by));
    if (task.status === "open") li.appendChild(actionForm(task, "claim", gettext("认领")));
    if (task.status === "claimed" && (task.claimed_by_id === me || leader === me)) {
      li.appendChild(actionForm(task, "complete", gettext("完成")));
      li.appendChild(actionForm(task, "release", gettext("放回"), true));
    }
    var column = document.getElementById("tasks-" + task.status);
    if (column) column.appendChild(li);
  }
  function memberEvent(ev) {
    var list = document.getElementById("member-list");
    var li = document.getElementById("member-" + ev.user_id);
    if (ev.action === "removed") { if (li) li.remove(); return; }
    if (li) return;
    li = el("li", { id: "member-" + ev.user_id });
    var name = el("span", {});
    name.appendChild(el("span", { class: "dot", "aria-hidden": "true" }));
    name.appendChild(document.createTextNode(ev.name));
    li.appendChild(name);
    li.appendChild(el("span", { class: "badge" }, ev.role_display || ""));
    list.appendChild(li);
  }
  function presence(ids) {
    var online = {};
    ids.forEach(function (id) { online[id] = true; });
    document.querySelectorAll("#member-list li").forEach(function (li) {
      li.classList.toggle("online", !!online[Number(li.id.replace("member-", ""))]);
    });
  }
  function checkin(ev) {
    var list = document.getElementById("checkin-list");
    if (document.getElementById("evt-" + ev.id)) return;
    dropEmpty(list);
    var who = ev.name || ev.display_name || ev.user || "";
    var what = ev.action === "out" ? gettext("签退") : gettext("签到");
    var li = el("li", { id: "evt-" + ev.id }, who + " " + what + (ev.opportunity_title ? " · " + ev.opportunity_title : "") + " ");
    li.appendChild(el("span", { class: "help" }, shortTime(ev.at || ev.time)));
    list.insertBefore(li, list.firstChild);
  }
  function apply(ev) {
    if (ev.kind === "presence") { presence(ev.online || []); return; }
    if (typeof ev.id !== "number" || ev.id <= lastId) return;  // replayed twice: seen
    lastId = ev.id;
    if (ev.kind === "message") addMessage(ev.message);
    else if (ev.kind === "task") putTask(ev.task);
    else if (ev.kind === "member") memberEvent(ev);
    else if (ev.kind === "checkin") checkin(ev);
    else if (ev.kind === "team" && ev.action === "closed") {
      stopped = true;
      status(gettext("团队已结束服务。"));
      if (ws) ws.close();
    }
  }

  // --- The socket -----------------------------------------------------------------------
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/teams/" + teamId + "/?since=" + lastId);
    ws.onopen = function () {
      delay = 1000;
      status(gettext("已连接，消息实时送达。"));
      pingTimer = setInterval(function () { send({ cmd: "ping" }); }, 30000);
    };
    ws.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.error) { status(data.message || data.error, true); return; }
      if (data.kind === "pong") return;
      if (data.kind === "sync") { (data.events || []).forEach(apply); return; }
      apply(data);
    };
    ws.onclose = function (e) {
      clearInterval(pingTimer);
      ws = null;
      if (FINAL[e.code]) { stopped = true; status(FINAL[e.code], true); return; }
      if (stopped) return;
      status(gettext("连接已断开，正在重新连接……"), true);
      retryTimer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  function send(command) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(command));
    return true;
  }

  // Forms go over the socket when it is open; otherwise they post as usual.
  root.addEventListener("submit", function (e) {
    var form = e.target;
    var cmd = form.dataset.cmd;
    if (!cmd || !ws || ws.readyState !== WebSocket.OPEN) return;
    var command = { cmd: cmd };
    if (cmd === "message") {
      var body = form.elements.body.value;
      if (!body.trim()) { status(gettext("消息不能为空。"), true); e.preventDefault(); return; }
      command.body = body;
      pendingBody = body;
    } else if (cmd === "task.create") {
      if (form.elements.due_at && form.elements.due_at.value) return;  // deadlines go by HTTP
      command.title = form.elements.title.value;
      command.description = form.elements.description.value;
      form.reset();
    } else {
      command.task = Number(form.dataset.task);
    }
    e.preventDefault();
    send(command);
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !ws && !stopped) { clearTimeout(retryTimer); delay = 1000; connect(); }
  });
  connect();
})();
