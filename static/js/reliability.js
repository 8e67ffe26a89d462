// The model page's reliability diagram: Chart.js draws the bins the server embedded
// (json_script), so the page needs no inline script. Each bin is a point at (mean predicted,
// observed agreement), sized and labelled by its count; the dashed diagonal is perfect calibration.
(() => {
  const fixed = (v) => v.toFixed(2);

  // Writes "n=<count>" beside each bin's point (the tooltip says it too).
  const countLabels = {
    id: "reliabilityCounts",
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      const meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.font = "11px sans-serif";
      ctx.fillStyle = "#3d4552";
      ctx.textBaseline = "bottom";
      meta.data.forEach((point, i) => {
        const bin = chart.data.datasets[0].data[i];
        ctx.fillText(`n=${bin.n}`, point.x + 6, point.y - 4);
      });
      ctx.restore();
    },
  };

  function draw(canvas) {
    const bins = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    const most = Math.max(1, ...bins.map((b) => b.n));
    const axis = (title) => ({ type: "linear", min: 0, max: 1, title: { display: true, text: title },
      ticks: { stepSize: 0.1, callback: (v) => v.toFixed(1) } });
    // eslint-disable-next-line no-new
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "bins", data: bins.map((b) => ({ x: b.predicted, y: b.observed, n: b.n, lo: b.lo, hi: b.hi })),
          backgroundColor: "#3b7dd8b3", borderColor: "#3b7dd8",
          pointRadius: bins.map((b) => 3 + 7 * Math.sqrt(b.n / most)), pointHoverRadius: 10 },
        { label: "perfect calibration", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], type: "line", showLine: true,
          borderColor: "#b9c0cc", borderDash: [4, 3], borderWidth: 1, pointRadius: 0, pointHoverRadius: 0 },
      ] },
      options: {
        animation: false,
        aspectRatio: 1,
        scales: { x: axis("predicted agreement"), y: axis("observed agreement") },
        plugins: {
          tooltip: {
            filter: (item) => item.datasetIndex === 0,
            callbacks: {
              title: (items) => (items.length ? `bin ${items[0].raw.lo.toFixed(1)}–${items[0].raw.hi.toFixed(1)}` : ""),
              label: (item) => `predicted ${fixed(item.raw.x)}, observed ${fixed(item.raw.y)}, n=${item.raw.n}`,
            },
          },
        },
      },
      plugins: [countLabels],
    });
  }

  document.querySelectorAll("canvas[data-chart=reliability]").forEach(draw);
})();
