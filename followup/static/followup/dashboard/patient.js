/* The patient page's charts: temperature, weight, pain and bilirubin over time, drawn
   with uPlot (vendored: uPlot.iife.min.js, MIT, see uPlot.LICENSE.txt). */
(function () {
  "use strict";
  var series = JSON.parse(document.getElementById("series-data").textContent);
  var zone = document.getElementById("charts").dataset.timezone;
  // Axis times in the patient's zone, like the timeline below.
  var tzDate = function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), zone); };
  // Axis labels in the page's language (uPlot's own are American English): "6 Ara",
  // "14:00" for ticks less than a day apart.
  var language = document.documentElement.lang || "en";
  var dayLabel = new Intl.DateTimeFormat(language, { timeZone: zone, day: "numeric", month: "short" });
  var hourLabel = new Intl.DateTimeFormat(language, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var timeLabels = function (self, splits, axis, space, increment) {
    var format = increment < 86400 ? hourLabel : dayLabel;
    return splits.map(function (seconds) { return format.format(new Date(seconds * 1000)); });
  };
  // The data's own span and at least a day either side (uPlot stretches a single
  // value's time axis over years).
  var around = function (xs) {
    var pad = Math.max(86400, (xs[xs.length - 1] - xs[0]) * 0.05);
    return function () { return [xs[0] - pad, xs[xs.length - 1] + pad]; };
  };
  series.forEach(function (one) {
    if (!one.points.length || typeof uPlot === "undefined") return;
    var figure = document.querySelector('.chart[data-series="' + one.id + '"] .plot');
    var xs = one.points.map(function (point) { return point[0]; });
    var ys = one.points.map(function (point) { return point[1]; });
    var width = Math.max(280, figure.clientWidth || 320);
    /* global uPlot */
    new uPlot(
      {
        width: width,
        height: 200,
        legend: { show: false },
        tzDate: tzDate,
        scales: { x: { time: true, range: around(xs) } },
        series: [{}, { label: one.title, stroke: "#0b5cad", width: 2, points: { show: true, size: 6 } }],
        axes: [{ values: timeLabels }, { label: one.unit }],
      },
      [xs, ys],
      figure
    );
  });
})();
