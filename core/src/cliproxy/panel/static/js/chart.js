// A tiny SVG line chart: a few series over the same x labels.
import { h, s } from "./dom.js";

const COLORS = ["#1f5fbf", "#c0262d", "#1a7f37", "#9a6700", "#7a3fbf", "#0f7b8a"];

/** lineChart({title, labels, series: [{name, values}], format}) -> a figure. */
export function lineChart({ title, labels, series, format = (v) => String(v) }) {
  const W = 600, H = 200, L = 64, R = 8, T = 10, B = 22;
  const max = Math.max(...series.flatMap((x) => x.values)) || 1;
  const n = Math.max(1, labels.length - 1);
  const x = (i) => L + ((W - L - R) * i) / n;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const grid = [0, 0.5, 1].map((f) => [
    s("line", { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), stroke: "#e2e6ea" }),
    s("text", { x: L - 4, y: y(max * f) + 4, "text-anchor": "end", "font-size": 13, fill: "#5b6470" }, format(max * f)),
  ]);
  const ticks = labels.length
    ? [0, Math.floor(labels.length / 2), labels.length - 1].map((i) =>
        s("text", { x: x(i), y: H - 6, "text-anchor": i === 0 ? "start" : i === labels.length - 1 ? "end" : "middle", "font-size": 13, fill: "#5b6470" }, labels[i]),
      )
    : [];
  const lines = series.map((one, k) =>
    s("polyline", {
      points: one.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      fill: "none",
      stroke: COLORS[k % COLORS.length],
      "stroke-width": 2,
    }),
  );
  const summary = series.map((one) => `${one.name}: total ${format(one.values.reduce((a, b) => a + b, 0))}`).join("; ");
  return h(
    "figure",
    { class: "chart panel" },
    h("figcaption", {}, h("strong", {}, title)),
    s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}. ${summary}` }, grid, ticks, lines),
    h(
      "div",
      { class: "legend" },
      series.map((one, k) => h("span", {}, h("span", { class: `swatch s${k % COLORS.length}` }), one.name)),
    ),
  );
}
