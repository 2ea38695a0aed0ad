/**
 * MobileNetV2 (Sandler et al. 2018) as a tinytrain model spec.
 *
 * Channel rounding: the reference implementation's rule (torchvision's _make_divisible):
 * c' = max(8, floor(c*w + 4) rounded down to a multiple of 8), plus 8 if that lost more
 * than 10%. For width 0.35 this gives stem 16, stages 8/8/16/24/32/56/112, and the
 * final 1x1 conv keeps 1280 channels (the reference never shrinks it below 1280).
 * Batch norm is assumed folded into the convs, as in any int8 deployment.
 */
import { ModelBuilder } from '../../compiler/ir/builder.js';
import type { ModelSpec } from '../../compiler/ir/model.js';

export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** (expansion t, channels c, repeats n, first stride s) per stage. */
const STAGES: ReadonlyArray<[number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export function mobilenetV2(width: number, resolution: number, classes: number): ModelSpec {
  const m = new ModelBuilder(`mbv2-w${width}-${resolution}`, [resolution, resolution, 3], [-1, 1]);
  let x = m.conv('stem', makeDivisible(32 * width), 3, { stride: 2, padding: 1, activation: 'relu6' });
  let cin = makeDivisible(32 * width);
  let block = 0;
  for (const [t, c, n, s] of STAGES) {
    const cout = makeDivisible(c * width);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const p = `b${block}`;
      const input = x;
      let h = input;
      if (t !== 1) h = m.conv(`${p}_expand`, cin * t, 1, { activation: 'relu6', from: h });
      h = m.depthwise(`${p}_dw`, cin * t, 3, { stride, padding: 1, activation: 'relu6', from: h });
      h = m.conv(`${p}_project`, cout, 1, { from: h });
      x = stride === 1 && cin === cout ? m.add(`${p}_add`, input, h) : h;
      cin = cout;
      block++;
    }
  }
  const last = width > 1 ? makeDivisible(1280 * width) : 1280;
  m.conv('head', last, 1, { activation: 'relu6', from: x });
  m.gap('pool');
  m.dense('classifier', classes);
  return m.build({
    seed: 0,
    notes: `MobileNetV2 width ${width}, ${resolution}x${resolution}x3 input, ${classes} classes; channel rounding of the reference implementation (multiples of 8, last conv 1280). Weights: seeded He init (the memory plan does not depend on values).`,
  });
}
