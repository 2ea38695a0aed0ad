/**
 * Self-contained HTML memory report: an SVG of the arena over the training program
 * (x = step, y = byte offset, one rectangle per buffer for its lifetime) and a bar
 * chart of the bytes each layer keeps alive. No scripts, no external assets.
 */
import type { Manifest } from '../../compiler/manifest.js';
import { HTML_REPORT_META } from '../io/provenance.js';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function color(key: string): string {
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const saved = key.startsWith('act:') || key.startsWith('save:') || key.startsWith('mask:');
  const hue = saved ? 200 + (h % 60) : 10 + (h % 40);
  return `hsl(${hue} 65% ${45 + (h % 20)}%)`;
}

function arenaSvg(m: Manifest): string {
  const W = 960,
    H = 420,
    left = 70,
    bottom = 30;
  const steps = m.program.length;
  const sx = (W - left - 10) / Math.max(1, steps);
  const sy = (H - bottom - 10) / Math.max(1, m.arena.bytes);
  const rects = m.buffers
    .map((b) => {
      const x = left + b.first * sx,
        w = Math.max(1, (b.last - b.first + 1) * sx);
      const y = H - bottom - (b.offset + b.bytes) * sy,
        h = Math.max(1, b.bytes * sy);
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${color(b.key)}" stroke="#222" stroke-width="0.3"><title>${esc(b.key)}: ${b.bytes} B at offset ${b.offset}, steps ${b.first}-${b.last}</title></rect>`;
    })
    .join('\n');
  const lossX = left + m.lossStep * sx;
  return `<svg width="${W}" height="${H}" role="img" aria-label="arena occupancy over the training program">
<rect x="${left}" y="10" width="${W - left - 10}" height="${H - bottom - 10}" fill="#f7f7f7" stroke="#999"/>
${rects}
<line x1="${lossX}" x2="${lossX}" y1="10" y2="${H - bottom}" stroke="#c00" stroke-dasharray="4 3"/>
<text x="${lossX + 4}" y="24" font-size="11" fill="#c00">loss: backward starts</text>
<text x="${left}" y="${H - 8}" font-size="11">step 0</text><text x="${W - 60}" y="${H - 8}" font-size="11">step ${steps - 1}</text>
<text x="4" y="${H - bottom}" font-size="11">0 B</text><text x="4" y="20" font-size="11">${m.arena.bytes} B</text>
</svg>`;
}

/** Bytes each layer holds in the arena (its output activation and gradient) + its trained params. */
function layerBars(m: Manifest): string {
  const per = new Map<string, { act: number; grad: number }>();
  for (const b of m.buffers) {
    const [kind, name] = b.key.split(/:(.*)/s) as [string, string];
    const e = per.get(name) ?? { act: 0, grad: 0 };
    if (kind === 'act' || kind === 'save' || kind === 'mask') e.act += b.bytes;
    else e.grad += b.bytes;
    per.set(name, e);
  }
  const rows = [...per.entries()];
  const max = Math.max(1, ...rows.map(([, e]) => e.act + e.grad));
  const barW = 600;
  return `<svg width="${barW + 260}" height="${rows.length * 20 + 10}" role="img" aria-label="arena bytes per layer">
${rows
  .map(([name, e], i) => {
    const a = (e.act / max) * barW,
      g = (e.grad / max) * barW;
    return (
      `<text x="0" y="${i * 20 + 15}" font-size="12">${esc(name)}</text>` +
      `<rect x="150" y="${i * 20 + 4}" width="${a.toFixed(1)}" height="14" fill="hsl(210 65% 50%)"><title>activation ${e.act} B</title></rect>` +
      `<rect x="${(150 + a).toFixed(1)}" y="${i * 20 + 4}" width="${g.toFixed(1)}" height="14" fill="hsl(20 65% 50%)"><title>gradient ${e.grad} B</title></rect>` +
      `<text x="${(156 + a + g).toFixed(1)}" y="${i * 20 + 15}" font-size="11">${e.act + e.grad} B</text>`
    );
  })
  .join('\n')}
</svg>`;
}

/** `extra`: further sections (already HTML), e.g. the step profile of `report --profile`. */
export function renderHtmlReport(m: Manifest, extra = ''): string {
  const b = m.memory.breakdown;
  const rows: Array<[string, number]> = [
    ['SRAM peak, all-inclusive', m.memory.accounting.allInclusiveBytes],
    ["SRAM peak, the reference's accounting (arena + kernel scratch)", m.memory.accounting.referenceStyleBytes],
    ['arena', b.arenaBytes],
    ['trained parameters', b.trainedParamsBytes],
    ['optimizer state', b.optimizerStateBytes],
    ['stack + runtime reserve', b.runtimeReserveBytes],
    ['frozen parameters', b.frozenParamsBytes],
    ['Flash', m.memory.flashBytes],
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">${HTML_REPORT_META}<title>tinytrain memory report: ${esc(m.model)} on ${esc(m.target)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse}td{padding:2px 10px;border-bottom:1px solid #ddd}td.n{text-align:right;font-variant-numeric:tabular-nums}</style></head><body>
<h1>${esc(m.model)} on ${esc(m.target)}</h1>
<p>Scheme <b>${esc(m.scheme.name)}</b>; ${m.program.length} program steps (${m.lossStep} forward). Blue: int8 activations, saved input slices and 1-bit masks; orange: float32 gradients. Hover a block for its tensor.</p>
<table>${rows.map(([k, v]) => `<tr><td>${k}</td><td class="n">${v} B</td><td class="n">${(v / 1024).toFixed(1)} KB</td></tr>`).join('')}</table>
<h2>Arena over the training program</h2>
${arenaSvg(m)}
<h2>Arena bytes per layer (activation + gradient)</h2>
${layerBars(m)}
${extra}</body></html>
`;
}
