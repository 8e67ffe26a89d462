// Trends page and control center: draws each series with Chart.js from the JSON the server
// embedded (json_script), so the page needs no inline script. Nulls stay gaps (spanGaps: false).
(() => {
  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const colours = { agreement: "#3b7dd8", override: "#e08a2e", human: "#e08a2e", judge: "#3b7dd8" };

  function band(label, low, high, colour) {
    // Chart.js fills between a dataset and the previous one ("-1"): low first, then high.
    return [
      { label: `${label} low`, data: low, borderWidth: 0, pointRadius: 0, fill: false, band: true, spanGaps: false },
      { label: `${label} 95% band`, data: high, borderWidth: 0, pointRadius: 0, fill: "-1",
        backgroundColor: `${colour}33`, band: true, spanGaps: false },
    ];
  }

  function line(label, data, colour, dash) {
    return { label, data, borderColor: colour, backgroundColor: colour, spanGaps: false, borderDash: dash || [],
      pointRadius: 3, fill: false };
  }

  function datasets(kind, d) {
    if (kind === "quality") {
      return [
        ...band("agreement", d.audit_agreement_ci_low, d.audit_agreement_ci_high, colours.agreement),
        line("audit agreement", d.audit_agreement, colours.agreement),
        ...band("override", d.override_rate_ci_low, d.override_rate_ci_high, colours.override),
        line("override rate", d.override_rate, colours.override, [4, 3]),
      ];
    }
    return [line("routed to humans (ceiling)", d.human_share, colours.human),
      line("judge only", d.judge_only_share, colours.judge, [4, 3])];
  }

  const day = (ms) => new Date(ms).toISOString().slice(0, 10);

  // The control center: one point per batch at its date (a linear time axis in milliseconds,
  // so no date adapter is needed); the tooltip names the batch.
  function drawDrift(canvas, points) {
    const xy = (key) => points.map((p) => ({ x: Date.parse(p.x), y: p[key], batch: p.batch }));
    // eslint-disable-next-line no-new
    new Chart(canvas, {
      type: "line",
      data: { datasets: [
        ...band("agreement", xy("low"), xy("high"), colours.agreement),
        line("audit agreement", xy("agreement"), colours.agreement),
        line("override rate", xy("override"), colours.override, [4, 3]),
      ] },
      options: {
        animation: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: { x: { type: "linear", ticks: { callback: (v) => day(v), maxTicksLimit: 8 } },
          y: { min: 0, max: 1, ticks: { callback: (v) => pct(v) } } },
        plugins: {
          legend: { labels: { filter: (item, data) => !data.datasets[item.datasetIndex].band } },
          tooltip: {
            filter: (item) => !item.dataset.band,
            callbacks: { title: (items) => (items.length ? `${items[0].raw.batch} (${day(items[0].raw.x)})` : ""),
              label: (item) => `${item.dataset.label}: ${pct(item.raw.y)}` },
          },
        },
      },
    });
  }

  function draw(canvas) {
    const d = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    if (canvas.dataset.chart === "drift") {
      drawDrift(canvas, d);
      return;
    }
    // eslint-disable-next-line no-new
    new Chart(canvas, {
      type: "line",
      data: { labels: d.labels, datasets: datasets(canvas.dataset.chart, d) },
      options: {
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { min: 0, max: 1, ticks: { callback: (v) => pct(v) } } },
        plugins: {
          legend: { labels: { filter: (item, data) => !data.datasets[item.datasetIndex].band } },
          tooltip: {
            filter: (item) => !item.dataset.band,
            callbacks: { label: (item) => `${item.dataset.label}: ${pct(item.raw)}`,
              footer: (items) => (items.length ? `${d.examples[items[0].dataIndex]} examples` : "") },
          },
        },
      },
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
