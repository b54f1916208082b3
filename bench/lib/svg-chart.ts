/** Draws the ratios as a small horizontal SVG bar chart (1.0× line, goal ticks) with no dependencies. */
import type { WorkloadResult } from "./types.js";

interface Bar {
  label: string;
  ratio: number;
  goal?: number;
  met?: boolean;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

/** One bar per ratio pair, in target order (subject listed before against), across all workloads that ran. */
export function chartBars(workloads: readonly WorkloadResult[]): Bar[] {
  const bars: Bar[] = [];
  for (const w of workloads) {
    const order = Object.keys(w.results);
    for (const r of w.ratios) {
      if (order.indexOf(r.subject) > order.indexOf(r.against)) continue;
      bars.push({ label: `${w.id}: ${r.subject} / ${r.against}`, ratio: r.ratio, ...(r.goal !== undefined ? { goal: r.goal, met: r.met! } : {}) });
    }
    // Within-target ratios (e.g. flood p99 ÷ idle p99) drawn the same way, with their bound as the tick.
    for (const g of w.metricGoals ?? []) {
      if (!g.isRatio || g.value === undefined) continue;
      bars.push({ label: `${w.id}: ${g.target} ${g.label}`, ratio: g.value, goal: g.min ?? g.max!, met: g.met! });
    }
  }
  return bars;
}

/** Renders the bars to an SVG document string. */
export function renderRatioChart(title: string, bars: readonly Bar[]): string {
  const labelW = 430;
  const plotW = 360;
  const rowH = 26;
  const top = 40;
  const height = top + Math.max(1, bars.length) * rowH + 30;
  const maxRatio = Math.max(1.5, ...bars.map((b) => Math.max(b.ratio, b.goal ?? 0)).filter(Number.isFinite)) * 1.1;
  const x = (ratio: number) => labelW + (Math.min(ratio, maxRatio) / maxRatio) * plotW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 80}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const fill = b.goal === undefined ? "#8da0cb" : b.met ? "#66a61e" : "#d95f02";
    const w = Number.isFinite(b.ratio) ? x(b.ratio) - labelW : 0;
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeXml(b.label)}</text>`);
    parts.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`);
    parts.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 15}">${Number.isFinite(b.ratio) ? b.ratio.toFixed(2) : "—"}×</text>`);
    if (b.goal !== undefined) {
      const gx = x(b.goal).toFixed(1);
      parts.push(`<line x1="${gx}" x2="${gx}" y1="${y + 1}" y2="${y + rowH - 3}" stroke="#000" stroke-width="2"><title>goal ${b.goal}×</title></line>`);
    }
  });
  const one = x(1).toFixed(1);
  parts.push(`<line x1="${one}" x2="${one}" y1="${top - 4}" y2="${height - 24}" stroke="#555" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${one}" y="${height - 10}" text-anchor="middle">1.0×</text>`);
  if (bars.length === 0) parts.push(`<text x="${labelW}" y="${top + 16}">no ratios (fewer than two targets ran)</text>`);
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}
