/**
 * Rewrites of the imported ops that keep the maths (in float; what changes for int8 is
 * reported as a warning):
 *
 *  1. affine (BatchNormalization; Add, Sub, Mul, Div by a per-channel constant) folded into the conv or
 *     dense that produces its input, when nothing else reads that output:
 *     W'[c] = W[c]*a[c], b'[c] = b[c]*a[c] + shift[c]. Otherwise, on a feature map (or a
 *     vector that is not a flattened map), it
 *     becomes a 1x1 depthwise conv with weight a and bias shift (the same function).
 *  2. Relu/Clip fused into the conv/dense/add/mul before it (tinytrain layers carry an
 *     activation), under the same single-reader condition, unless it is the last op.
 *  3. Layers whose output nothing reads are removed (e.g. a conv only Shape looked at, or
 *     the Sigmoid of a Mul(x, Sigmoid(x)) imported as silu, the HardSigmoid of a
 *     Mul(x, HardSigmoid(x)) imported as hardswish).
 *  4. Quantisation of ops that keep their input's (flatten, standalone ReLU/ReLU6) is made
 *     consistent with the quantiser's rule.
 */
import { nodeError, type ImportContext, type IrOp } from './ir.js';

function readers(ctx: ImportContext, outputAct: number): number[] {
  const n = new Array<number>(ctx.acts.length).fill(0);
  for (const op of ctx.ops) if (!op.removed) for (const i of op.inputs) n[i]!++;
  n[outputAct]!++;
  return n;
}

function producerOf(ctx: ImportContext, act: number): IrOp | undefined {
  const p = ctx.acts[act]!.producer;
  const op = p >= 0 ? ctx.ops[p] : undefined;
  return op && !op.removed ? op : undefined;
}

/** `op` disappears and `into` produces its output instead. */
function absorb(ctx: ImportContext, into: IrOp, op: IrOp): void {
  into.output = op.output;
  ctx.acts[op.output]!.producer = ctx.ops.indexOf(into);
  op.removed = true;
}

const sameQuant = (a?: { scale: number; zp: number }, b?: { scale: number; zp: number }): boolean => !a || !b || (a.scale === b.scale && a.zp === b.zp);

/** A feature map, or a vector whose features are channels in tinytrain's order ([1, 1, N], not a flattened map): a 1x1 depthwise conv can scale it. */
function ownChannels(s: ImportContext['acts'][number]['shape']): boolean {
  return s.kind === 'map' || !s.chw || s.chw.h * s.chw.w === 1;
}

function foldAffine(ctx: ImportContext, outputAct: number): void {
  for (const op of ctx.ops) {
    if (op.removed || op.kind !== 'affine') continue;
    const { scale, shift } = op.affine!;
    const x = op.inputs[0]!;
    const p = producerOf(ctx, x);
    if (p && (p.kind === 'conv2d' || p.kind === 'dense') && p.activation === 'none' && readers(ctx, outputAct)[x] === 1) {
      const w = p.weight!,
        b = p.bias!;
      const per = w.length / b.length;
      for (let c = 0; c < b.length; c++) {
        for (let i = 0; i < per; i++) w[c * per + i] = w[c * per + i]! * scale[c]!;
        b[c] = b[c]! * scale[c]! + shift[c]!;
      }
      const rescaled = scale.some((a) => a !== 1);
      if (p.wScales && rescaled) {
        ctx.warnings.push(`${op.node} folded into ${p.node} rescales its int8 weights: the model's weight scales no longer apply and tinytrain re-quantises those weights`);
        delete p.wScales;
      }
      if (p.qBias) delete p.qBias;
      if (ctx.acts[x]!.quant) ctx.warnings.push(`${op.node} folded into ${p.node}: the quantisation of ${p.node}'s output before it (${ctx.acts[x]!.quant!.by}) is not reproduced`);
      ctx.notes.push(`${op.node} folded into ${p.node}`);
      absorb(ctx, p, op);
    } else if (ownChannels(ctx.acts[x]!.shape)) {
      const C = scale.length;
      op.kind = 'conv2d';
      op.conv = { kh: 1, kw: 1, sh: 1, sw: 1, pads: [0, 0, 0, 0], depthwise: true, filters: C };
      op.weight = Float32Array.from(scale);
      op.bias = Float32Array.from(shift);
      delete op.affine;
      ctx.notes.push(`${op.node} (per-channel scale/shift with no conv to fold into) became a 1x1 depthwise conv`);
    } else {
      throw nodeError(
        op.node,
        'applies a per-feature scale/shift to a vector that is not the output of a Gemm/MatMul read only by it',
        'tinytrain folds BatchNormalization and constant Add/Sub/Mul/Div on vectors into the preceding Gemm/MatMul',
      );
    }
  }
}

function fuseActivations(ctx: ImportContext, outputAct: number): void {
  for (const op of ctx.ops) {
    if (op.removed || (op.kind !== 'relu' && op.kind !== 'relu6') || op.output === outputAct) continue;
    const x = op.inputs[0]!;
    const p = producerOf(ctx, x);
    if (!p || !(p.kind === 'conv2d' || p.kind === 'dense' || p.kind === 'add' || p.kind === 'mul') || p.activation !== 'none') continue;
    if (readers(ctx, outputAct)[x] !== 1) continue;
    const pre = ctx.acts[x]!.quant;
    const post = ctx.acts[op.output]!.quant;
    if (!sameQuant(pre, post)) {
      ctx.warnings.push(
        `${p.node} -> ${op.node}: the model quantises before (${pre!.scale}, ${pre!.zp}) and after (${post!.scale}, ${post!.zp}) the activation; ` +
          'tinytrain fuses the activation and quantises once, after it, so the intermediate rounding is not reproduced',
      );
    }
    // Without a Q/DQ after the activation, the one before it gives the same int8 values (clamped at the zero point).
    if (!post && pre) ctx.acts[op.output]!.quant = pre;
    p.activation = op.kind;
    absorb(ctx, p, op);
  }
}

function removeDead(ctx: ImportContext, outputAct: number): void {
  const live = new Set<number>([outputAct]);
  for (let i = ctx.ops.length - 1; i >= 0; i--) {
    const op = ctx.ops[i]!;
    if (op.removed) continue;
    if (!live.has(op.output)) {
      op.removed = true;
      ctx.notes.push(
        op.foldedInto
          ? `${op.node}: ${op.foldedInto.by} computes x * ${op.kind === 'sigmoid' ? 'Sigmoid' : 'HardSigmoid'}(x) as one ${op.foldedInto.as} layer; removed`
          : `${op.node}: its output only feeds shape computations; removed`,
      );
      continue;
    }
    for (const x of op.inputs) live.add(x);
  }
}

const SHARES_INPUT_QUANT = new Set(['flatten', 'relu', 'relu6']);

function alignSharedQuant(ctx: ImportContext, outputAct: number): void {
  const n = readers(ctx, outputAct);
  const live = ctx.ops.filter((op) => !op.removed && SHARES_INPUT_QUANT.has(op.kind));
  // A Q/DQ only after the op also fixes its input's quantisation when nothing else reads the input.
  for (const op of [...live].reverse()) {
    const a = ctx.acts[op.inputs[0]!]!,
      b = ctx.acts[op.output]!;
    if (b.quant && !a.quant && n[a.id] === 1) a.quant = b.quant;
  }
  for (const op of live) {
    const a = ctx.acts[op.inputs[0]!]!,
      b = ctx.acts[op.output]!;
    if (!sameQuant(a.quant, b.quant) || (b.quant && !a.quant)) {
      ctx.warnings.push(`${op.node}: tinytrain's ${op.kind} keeps its input's quantisation; the model's (${b.quant!.scale}, ${b.quant!.zp}) on its output is not used`);
    }
    if (a.quant) b.quant = a.quant;
    else delete b.quant;
  }
}

export function foldAndFuse(ctx: ImportContext, outputAct: number): void {
  foldAffine(ctx, outputAct);
  fuseActivations(ctx, outputAct);
  removeDead(ctx, outputAct);
  alignSharedQuant(ctx, outputAct);
}
