// Disclosure charts: draws the figures of the tables beside them with ECharts. The numbers
// come from the page's JSON (json_script); without JavaScript the tables stand alone.
(function () {
  "use strict";
  var source = document.getElementById("disclosure-chart-data");
  if (!source || typeof window.echarts === "undefined") return;
  var gettext = typeof window.gettext === "function" ? window.gettext : function (s) { return s; };
  var data = JSON.parse(source.textContent);
  var charts = [];

  function number(value) { return Number(value) || 0; }
  function money(value) {
    return number(value).toLocaleString(document.documentElement.lang || "zh-CN", {
      minimumFractionDigits: 2, maximumFractionDigits: 2
    });
  }

  function months() {
    var labels = data.months.map(function (m) { return m.label; });
    return {
      tooltip: { trigger: "axis", valueFormatter: money },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", name: gettext("元") },
      series: [
        { name: gettext("收入"), type: "bar", data: data.months.map(function (m) { return number(m["in"]); }) },
        { name: gettext("支出"), type: "bar", data: data.months.map(function (m) { return number(m.out); }) }
      ]
    };
  }

  function pie(rows) {
    return {
      tooltip: { trigger: "item", valueFormatter: money },
      legend: { type: "scroll", bottom: 0 },
      series: [{
        name: gettext("支出"),
        type: "pie",
        radius: ["35%", "65%"],
        center: ["50%", "45%"],
        label: { formatter: "{b}\n{d}%" },
        data: rows.map(function (r) { return { name: r.name, value: number(r.value) }; })
      }]
    };
  }

  function bars(rows) {
    return {
      tooltip: { trigger: "axis", valueFormatter: money },
      grid: { left: 8, right: 16, bottom: 8, top: 8, containLabel: true },
      xAxis: { type: "value", name: gettext("元") },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }) },
      series: [{ name: gettext("支出"), type: "bar", data: rows.map(function (r) { return number(r.value); }) }]
    };
  }

  var options = {
    months: months,
    categories: function () { return pie(data.categories); },
    streets: function () { return bars(data.streets); }
  };

  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var build = options[element.getAttribute("data-chart")];
    if (!build) return;
    element.hidden = false;
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(build());
    charts.push(chart);
    // The chart now shows the numbers; its table stays one tap away.
    var table = element.parentElement.querySelector("details.chart-data");
    if (table) table.open = false;
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
