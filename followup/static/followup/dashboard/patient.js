/* The patient page's charts: temperature, weight, pain and bilirubin over time, drawn
   with uPlot (vendored: uPlot.iife.min.js, MIT, see uPlot.LICENSE.txt). */
(function () {
  "use strict";
  var series = JSON.parse(document.getElementById("series-data").textContent);
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
        scales: { x: { time: true } },
        series: [{}, { label: one.title, stroke: "#0b5cad", width: 2, points: { show: true, size: 6 } }],
        axes: [{}, { label: one.unit }],
      },
      [xs, ys],
      figure
    );
  });
})();
