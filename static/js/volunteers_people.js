// Volunteer profile: add rows to the weekly availability and certificate tables (formsets).
(function () {
  "use strict";
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    var prefix = button.getAttribute("data-add-row");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    var template = document.getElementById(prefix + "-template");
    var rows = document.getElementById(prefix + "-rows");
    if (!total || !template || !rows) return;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var limit = max ? parseInt(max.value, 10) : 1000;
      if (index >= limit) return;
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, String(index)));
      total.value = String(index + 1);
      var added = rows.lastElementChild && rows.lastElementChild.querySelector("select, input");
      if (added) added.focus();
    });
  });
})();
