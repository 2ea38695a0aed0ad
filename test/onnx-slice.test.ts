/**
 * ONNX Slice on constants (compiler/frontend/onnx/shapes.ts sliceConst), as exporters'
 * shape arithmetic uses it (PaddlePaddle's flatten: Shape -> Slice -> Concat -> Reshape,
 * e.g. rapidocr's text-direction classifier). Expectations follow the operator spec's
 * rules (negative indices from the end, clamping, negative steps) written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { sliceConst } from '../compiler/frontend/onnx/shapes.js';
import { DataType } from '../compiler/frontend/onnx/proto.js';
import type { ConstTensor } from '../compiler/frontend/onnx/tensor.js';

/** 0, 1, 2, ... in a tensor of these dims. */
const iota = (dims: number[]): ConstTensor => ({ dims, dtype: DataType.INT64, data: Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => i) });
const values = (t: ConstTensor): number[] => Array.from(t.data);

describe('ONNX Slice of a constant', () => {
  it("takes a shape's tail, as Paddle's flatten does (starts [1], ends [INT64_MAX] clamped)", () => {
    const shape: ConstTensor = { dims: [4], dtype: DataType.INT64, data: Float64Array.of(1, 200, 1, 1) };
    const t = sliceConst('s', shape, [1], [9.223372036854776e18], [0], undefined);
    expect(t.dims).toEqual([3]);
    expect(values(t)).toEqual([200, 1, 1]);
  });

  it('counts negative starts and ends from the end, clamps, and steps on several axes', () => {
    // [2, 3, 4]: axis 2 from -3 (= 1) to 100 (clamped to 4) by 2 -> indices 1, 3; axis 0 from 1 to 2 -> index 1.
    const t = sliceConst('s', iota([2, 3, 4]), [-3, 1], [100, 2], [2, 0], [2, 1]);
    expect(t.dims).toEqual([1, 3, 2]);
    // element (i, j, k) = 12 i + 4 j + k with i = 1, j = 0..2, k in {1, 3}
    expect(values(t)).toEqual([13, 15, 17, 19, 21, 23]);
  });

  it('walks backwards with a negative step, the end clamped to -1 (before the first element)', () => {
    const t = sliceConst('s', iota([7]), [-1], [-1000], undefined, [-2]);
    expect(values(t)).toEqual([6, 4, 2, 0]);
    expect(values(sliceConst('s', iota([7]), [5], [1], [0], [-1]))).toEqual([5, 4, 3, 2]);
  });

  it('gives an empty axis when start is past end', () => {
    const t = sliceConst('s', iota([3, 2]), [2], [1], [0], undefined);
    expect(t.dims).toEqual([0, 2]);
    expect(values(t)).toEqual([]);
  });

  it('refuses a zero step, repeated axes and mismatched lists', () => {
    expect(() => sliceConst('s', iota([4]), [0], [4], [0], [0])).toThrow(TinytrainError);
    expect(() => sliceConst('s', iota([4, 4]), [0, 0], [1, 1], [0, -2], undefined)).toThrow(/axes \[0,-2\] do not match/);
    expect(() => sliceConst('s', iota([4]), [0], [], undefined, undefined)).toThrow(/1 starts but 0 ends/);
    expect(() => sliceConst('s', iota([4]), [0], [1], [1], undefined)).toThrow(/axis 1 is out of range for rank 1/);
  });
});
