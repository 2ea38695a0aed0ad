/**
 * TensorFlow.js peer of the step-time bench, run as its own process so its RSS is its own:
 *
 *   node dist/bench/peers/tfjs-step.js cpu|wasm JOB.json     -> one JSON line on stdout
 *
 * The same network as the artifact, float32, NHWC (TF.js's native layout), built from
 * tfjs-core ops with variables; one step = forward, softmax cross-entropy, gradients of
 * the trained variables only (tf.variableGrads prunes the tape to what leads from them to
 * the loss), SGD update. Like PyTorch, TF.js cannot train a fraction of a tensor: a layer
 * that trains its first k input channels gets its whole gradient computed, then masked.
 *
 * The WASM backend's .wasm files ship inside its npm package and are read from disk;
 * nothing is downloaded. When it lacks a kernel the step needs, the peer reports which
 * (and times the forward pass alone, as a side figure) instead of failing the bench.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Gradient functions: tfjs-core's Node bundle registers none; the union package registers
// them all into tfjs-core's (global) registry on import.
import '@tensorflow/tfjs';
import { hasParams, isDepthwise, type Node } from '../../compiler/ir/graph.js';
import { peakRss, rssNow, summarise, timeSteps, xorshift, type PeerJob, type PeerResult } from './job.js';

/** Kernels a conv/pool training step dispatches beyond inference (the gradients' own kernels). */
const GRADIENT_KERNELS = ['Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'AvgPoolGrad', 'Step'];

interface LayerVars {
  w: tf.Tensor;
  b: tf.Tensor;
  mask?: tf.Tensor;
  wVar?: tf.Variable;
  bVar?: tf.Variable;
}

async function setBackend(name: string): Promise<void> {
  if (name === 'wasm') {
    const require = createRequire(import.meta.url);
    const wasmPkg = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Local files from the package: never a CDN.
    wasm.setWasmPaths(join(wasmPkg, 'dist') + '/');
  }
  if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} did not initialise`);
  await tf.ready();
}

function makeLayers(job: PeerJob, rnd: () => number): Map<string, LayerVars> {
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const layers = new Map<string, LayerVars>();
  for (const n of job.graph.nodes) {
    if (!hasParams(n)) continue;
    const [h, w, cin] = n.inShapes[0]!;
    const cout = n.outShape[2];
    const dw = isDepthwise(n);
    // TF.js filter layouts: conv [kh, kw, cin, cout]; depthwise [kh, kw, c, 1]; dense [in, out].
    const shape = n.op === 'dense' ? [h * w * cin, cout] : [n.conv!.kh, n.conv!.kw, cin, dw ? 1 : cout];
    const fanIn = n.op === 'dense' ? h * w * cin : n.conv!.kh * n.conv!.kw * (dw ? 1 : cin);
    const size = shape.reduce((a, b) => a * b, 1);
    const w0 = tf.tensor(
      Float32Array.from({ length: size }, () => gauss() * Math.sqrt(2 / fanIn)),
      shape,
    );
    const b0 = tf.zeros([cout]);
    const t = job.train[n.name];
    const v: LayerVars = { w: w0, b: b0 };
    if (t && t.channels > 0) {
      v.wVar = tf.variable(w0, true, `${n.name}/w`);
      v.w = v.wVar;
      if (t.channels < t.splitChannels) {
        // The split axis is the filter's input-channel axis (axis 2; dense: axis 0).
        const axis = n.op === 'dense' ? 0 : 2;
        const m = new Float32Array(size);
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
        for (let i = 0; i < size; i++) if (Math.floor(i / strides[axis]!) % shape[axis]! < t.channels) m[i] = 1;
        v.mask = tf.tensor(m, shape);
      }
    }
    if (t?.bias) {
      v.bVar = tf.variable(b0, true, `${n.name}/b`);
      v.b = v.bVar;
    }
    layers.set(n.name, v);
  }
  return layers;
}

function activate(x: tf.Tensor, a: string): tf.Tensor {
  return a === 'relu' ? tf.relu(x) : a === 'relu6' ? tf.relu6(x) : x;
}

function forward(job: PeerJob, layers: Map<string, LayerVars>, x: tf.Tensor4D): tf.Tensor {
  const t = new Map<string, tf.Tensor>([['input', x]]);
  const run = (n: Node, a: tf.Tensor): tf.Tensor => {
    switch (n.op) {
      case 'conv2d':
      case 'depthwiseConv2d': {
        const v = layers.get(n.name)!;
        const c = n.conv!;
        const [t, l, b, r] = c.pads;
        const pad: [[number, number], [number, number], [number, number], [number, number]] = [
          [0, 0],
          [t, b],
          [l, r],
          [0, 0],
        ];
        const y = isDepthwise(n) ? tf.depthwiseConv2d(a as tf.Tensor4D, v.w as tf.Tensor4D, [c.sh, c.sw], pad) : tf.conv2d(a as tf.Tensor4D, v.w as tf.Tensor4D, [c.sh, c.sw], pad);
        return activate(tf.add(y, v.b), n.activation);
      }
      case 'dense': {
        const v = layers.get(n.name)!;
        return activate(tf.add(tf.matMul(tf.reshape(a, [1, -1]), v.w as tf.Tensor2D), v.b), n.activation);
      }
      case 'add':
        return activate(tf.add(a, t.get(n.inputs[1]!)!), n.activation);
      case 'avgpool':
        return tf.avgPool(a as tf.Tensor4D, [n.pool!.ph, n.pool!.pw], [n.pool!.sh, n.pool!.sw], 'valid');
      case 'globalavgpool':
        return tf.mean(a, [1, 2], true);
      case 'flatten':
        return tf.reshape(a, [1, -1]);
      case 'relu':
        return tf.relu(a);
      case 'relu6':
        return tf.relu6(a);
      default:
        // An op this peer has not been taught: the benchmarked models have none.
        throw new Error(`tfjs-step: no TF.js forward for op ${n.op}`);
    }
  };
  for (const n of job.graph.nodes) t.set(n.output, run(n, t.get(n.inputs[0]!)!));
  return tf.reshape(t.get(job.graph.output)!, [1, -1]);
}

async function main(): Promise<void> {
  const [backend, jobPath] = process.argv.slice(2);
  if ((backend !== 'cpu' && backend !== 'wasm') || !jobPath) throw new Error('usage: tfjs-step.js cpu|wasm JOB.json');
  const job = JSON.parse(readFileSync(jobPath, 'utf8')) as PeerJob;
  await setBackend(backend);
  const baseRss = rssNow();
  const rnd = xorshift(job.seed);
  const layers = makeLayers(job, rnd);
  const [h, w, c] = job.graph.inputShape;
  const [lo, hi] = job.graph.inputRange;
  const xs = Array.from({ length: job.samples }, () =>
    tf.tensor4d(
      Float32Array.from({ length: h * w * c }, () => lo + (hi - lo) * rnd()),
      [1, h, w, c],
    ),
  );
  const ys = xs.map(() => tf.oneHot(tf.tensor1d([Math.floor(rnd() * job.graph.classes)], 'int32'), job.graph.classes));
  const vars = [...layers.values()].flatMap((v) => [v.wVar, v.bVar]).filter((v): v is tf.Variable => !!v);
  const masks = new Map([...layers.values()].filter((v) => v.mask && v.wVar).map((v) => [v.wVar!.name, v.mask!]));
  let loss = NaN;
  const step = (i: number): void => {
    tf.tidy(() => {
      const k = i % xs.length;
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(ys[k]!, forward(job, layers, xs[k]!)) as tf.Scalar, vars);
      for (const v of vars) {
        const m = masks.get(v.name);
        const g = m ? tf.mul(grads[v.name]!, m) : grads[v.name]!;
        v.assign(tf.sub(v, tf.mul(g, job.lr)));
      }
      loss = value.dataSync()[0]!; // the CPU and WASM backends run synchronously; this also syncs
    });
  };
  const partial = Object.entries(job.train)
    .filter(([, t]) => t.channels > 0 && t.channels < t.splitChannels)
    .map(([n]) => n);
  const params = [...layers.values()].reduce((n, v) => n + v.w.size + v.b.size, 0);
  const info = { tfjs: tf.version_core, backend: tf.getBackend(), trainedTensors: vars.length, params } as Record<string, string | number | boolean | null>;
  let r: PeerResult;
  try {
    const ms = timeSteps(job, step);
    r = {
      peer: `tfjs-${backend}`,
      measured: true,
      ...summarise(ms),
      ...(partial.length ? { note: `weights of ${partial.join(', ')} train on a fraction of their input channels: TF.js computes the whole weight gradient and masks it` } : {}),
      info: { ...info, lastLoss: loss },
    };
  } catch (e) {
    const missing = GRADIENT_KERNELS.filter((k) => !tf.getKernel(k, backend));
    // The forward pass alone, so the backend still says something about its speed.
    const fwd = timeSteps({ ...job, warmup: Math.min(job.warmup, 3) }, (i) => {
      tf.tidy(() => {
        forward(job, layers, xs[i % xs.length]!).dataSync();
      });
    });
    const { timesMs: _, ...f } = summarise(fwd);
    r = {
      peer: `tfjs-${backend}`,
      measured: false,
      note: `training step fails: ${(e as Error).message}${missing.length ? ` (kernels missing on ${backend}: ${missing.join(', ')})` : ''}`,
      info: { ...info, forwardOnlyMedianMs: f.medianMs, forwardOnlySteps: f.steps, missingKernels: missing.join(',') },
    };
  }
  r.peakRssBytes = peakRss();
  r.baseRssBytes = baseRss;
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
