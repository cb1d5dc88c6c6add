// The dashboard's charts (a file, not inline: the CSP allows only our own scripts).
// Each <canvas data-chart="ID"> is drawn from the JSON of <script type="application/json"
// id="ID"> beside it (written by Django's json_script), with the vendored Chart.js. The
// table after each chart holds the same numbers as links; a click on a bar follows the
// link of that number. Drawn again whenever htmx swaps the figures in (every 30 s).
(function () {
  "use strict";
  var COLOURS = {
    critical: "#8b1a1a", high: "#d9480f", medium: "#c99700", low: "#5b7db1",
    pending: "#868e96", in_flight: "#1c7ed6", retry_wait: "#f08c00", posted: "#2b8a3e",
    dead: "#c92a2a", held: "#7048e8", cancelled: "#ced4da",
    p50: "#1c7ed6", p95: "#0b3d91", duplicates: "#f08c00", conflicts: "#c92a2a",
  };
  var FALLBACK = ["#1c7ed6", "#2b8a3e", "#f08c00", "#7048e8", "#c92a2a", "#868e96"];
  var ROW_HEIGHT = 26;

  function colour(key, index) {
    return COLOURS[key] || FALLBACK[index % FALLBACK.length];
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof window.Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    if (spec.horizontal) {
      // One bar per row: the box grows with the rows (CSSOM, allowed by the CSP).
      canvas.parentNode.style.height = Math.max(160, 70 + spec.labels.length * ROW_HEIGHT) + "px";
    }
    var unit = spec.unit ? " " + spec.unit : "";
    // Counts are whole numbers: no 0.5 ticks (ignored on the axis of the labels).
    var ticks = spec.unit ? {} : { precision: 0 };
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, index) {
          return { label: set.label, data: set.data, backgroundColor: colour(set.key, index) };
        }),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        scales: {
          x: { stacked: spec.stacked, beginAtZero: true, ticks: ticks },
          y: { stacked: spec.stacked, beginAtZero: true, ticks: ticks },
        },
        plugins: {
          legend: { position: "bottom", display: spec.datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + item.formattedValue + unit; },
            },
          },
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          var url = spec.datasets[elements[0].datasetIndex].links[elements[0].index];
          if (url) window.location.assign(url);
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
      },
    });
  }

  function drawWithin(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  // htmx fires htmx:load on the body at start and on each swapped-in element.
  document.addEventListener("htmx:load", function (event) { drawWithin(event.target); });
  // Charts of figures about to be replaced are released before the swap.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.querySelectorAll || typeof window.Chart === "undefined") return;
    target.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  });
})();
