/** The output shape of a square pooling window with no padding (avgpool, maxpool 'valid'). */
import type { Shape } from '../ir/graph.js';

export function validPoolShape([h, w, c]: Shape, size: number, stride: number): Shape {
  return [Math.floor((h - size) / stride) + 1, Math.floor((w - size) / stride) + 1, c];
}
