/** The step profile as an HTML section for `report --html --profile`: one stacked bar per layer. */
import type { Profile } from './profile.js';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function profileHtml(p: Profile): string {
  const rows = p.layers;
  const W = 560;
  const max = Math.max(1e-9, ...rows.map((l) => l.totalMs));
  const parts: Array<['forwardMs' | 'backwardMs' | 'updateMs', string]> = [
    ['forwardMs', 'hsl(210 65% 50%)'],
    ['backwardMs', 'hsl(20 65% 50%)'],
    ['updateMs', 'hsl(130 45% 40%)'],
  ];
  const bars = rows
    .map((l, i) => {
      let x = 260;
      const segs = parts
        .map(([k, fill]) => {
          const w = (l[k] / max) * W;
          const r = `<rect x="${x.toFixed(1)}" y="${i * 20 + 4}" width="${w.toFixed(1)}" height="14" fill="${fill}"><title>${k.replace('Ms', '')} ${l[k].toFixed(3)} ms</title></rect>`;
          x += w;
          return r;
        })
        .join('');
      return (
        `<text x="0" y="${i * 20 + 15}" font-size="11">${esc(l.layer.slice(0, 44))}</text>${segs}` +
        `<text x="${(x + 6).toFixed(1)}" y="${i * 20 + 15}" font-size="11">${l.totalMs.toFixed(3)} ms (${(100 * l.share).toFixed(1)}%)</text>`
      );
    })
    .join('\n');
  return `<h2>Time per layer in one training step</h2>
<p>${p.variant} module; mean over the ${p.typicalSteps} of ${p.steps} timed training steps at or below the median (after ${p.warmup} warm-up):
step ${p.typicalStepMs.toFixed(3)} ms (median ${p.medianStepMs.toFixed(3)} ms profiled, ${p.plainMedianStepMs.toFixed(3)} ms unprofiled). Blue: forward; orange: backward (input gradients, masks, loss); green: weight and bias updates.</p>
<svg width="${260 + W + 140}" height="${rows.length * 20 + 8}" role="img" aria-label="time per layer">
${bars}
</svg>
`;
}
