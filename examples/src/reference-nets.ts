/**
 * The three networks the Tiny Training Engine measures (Lin et al. 2022: MobileNetV2-w0.35,
 * ProxylessNAS-w0.3, MCUNet-5FPS), built layer for layer from the architecture tables
 * transcribed from its repository (mit-han-lab/tiny-training @ 7bf8e05; the `*.arch.json`
 * files the team keeps in shared/anchors/). Layer order is the reference's conv/linear
 * order, so its schemes (`n_bias_update`, `manual_weight_idx`) name the same layers here.
 *
 * What is kept: every conv's channels, kernel, stride and padding ((k-1)/2), depthwise
 * convs, residual adds, no final 1x1 "feature mix" conv, global average pooling and a
 * 10-class classifier (the transfer tasks' head; the shipped one has 1000). What is not:
 * the reference's per-layer output clamps (an upper bound <= 6.0 fitted to its trained
 * weights, which are not shipped with tinytrain): expand and depthwise outputs use ReLU6,
 * whose bound is the loosest of them. The memory plan depends on neither.
 */
import { ModelBuilder } from '../../compiler/ir/builder.js';
import type { ModelSpec } from '../../compiler/ir/model.js';

/** One row of an anchor's `layers` table (the fields used here). */
export interface ArchLayer {
  idx: number;
  name: string;
  type: 'conv' | 'dwconv' | 'linear';
  in: number;
  out: number;
  kernel: number;
  stride: number;
  block: number | null;
  residual_add_after: boolean;
  padding: number;
  activation: 'relu-clamp' | 'none';
}

export interface ArchTable {
  model: string;
  resolution: number;
  layers: ArchLayer[];
}

/** `blocks.3.pw1` -> `b3_expand`; `first_conv` -> `stem`. */
function layerName(l: ArchLayer): string {
  if (l.block === null) return l.type === 'linear' ? 'classifier' : 'stem';
  const part = l.name.split('.').pop();
  return `b${l.block}_${part === 'pw1' ? 'expand' : part === 'dw' ? 'dw' : 'project'}`;
}

export function referenceNet(arch: ArchTable, classes = 10): ModelSpec {
  const r = arch.resolution;
  const m = new ModelBuilder(arch.model, [r, r, 3], [-1, 1]);
  let blockInput = 'input';
  let block: number | null = null;
  let last = 'input';
  for (const l of arch.layers) {
    if (l.padding !== (l.kernel - 1) / 2) throw new Error(`${l.name}: padding ${l.padding} is not (k-1)/2`);
    if (l.block !== block) {
      blockInput = last;
      block = l.block;
    }
    const act = l.activation === 'relu-clamp' ? 'relu6' : 'none';
    const name = layerName(l);
    if (l.type === 'linear') {
      m.gap('pool', last);
      last = m.dense(name, classes);
    } else if (l.type === 'dwconv') {
      if (l.in !== l.out) throw new Error(`${l.name}: depthwise with ${l.in} in, ${l.out} out`);
      last = m.depthwise(name, l.out, l.kernel, { stride: l.stride, padding: l.padding, activation: act, from: last });
    } else {
      last = m.conv(name, l.out, l.kernel, { stride: l.stride, padding: l.padding, activation: act, from: last });
    }
    if (l.residual_add_after) last = m.add(`b${l.block}_add`, blockInput, last);
  }
  return m.build({
    seed: 0,
    notes: `${arch.model}, ${r}x${r}x3, ${classes} classes: the Tiny Training Engine's network (Lin et al. 2022; mit-han-lab/tiny-training @ 7bf8e05), layer for layer, no feature-mix conv. Expand and depthwise outputs use ReLU6 where the reference clamps at a per-layer bound <= 6.0 fitted to its weights. Weights: seeded He init (the memory plan does not depend on values).`,
  });
}
