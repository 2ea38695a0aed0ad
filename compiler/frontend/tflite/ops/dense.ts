/**
 * FULLY_CONNECTED -> dense. The filter is [Cout, Cin], tinytrain's dense layout. TFLite
 * flattens a feature-map input to [1, H*W*C] in NHWC order, which is the order tinytrain's
 * dense reads its HWC input in, so no weight column moves and no flatten layer is needed.
 */
import { actInput, checkSameDomain, constInput, opError, outputTensor, produce, tensorText, type OpCall } from '../context.js';
import { BuiltinOptions, FULLY_CONNECTED_OPTIONS, WEIGHTS_FORMAT_DEFAULT } from '../schema.js';
import { fusedActivation, options } from './options.js';
import { layerParams } from './params.js';

export function fullyConnected(c: OpCall): void {
  const x = actInput(c, 0);
  const w = constInput(c, 1, 'weights');
  if (!w) throw opError(c, 'the weights (input 1) are missing');
  const o = options(c, BuiltinOptions.FullyConnectedOptions, 'FullyConnectedOptions');
  if (o.int8(FULLY_CONNECTED_OPTIONS.weightsFormat) !== WEIGHTS_FORMAT_DEFAULT)
    throw opError(c, 'shuffled weights (weights_format) are not supported', 'convert with the default weights format');
  if (w.shape.length !== 2) throw opError(c, `weights ${tensorText(w)} have shape [${w.shape}], expected [units, inputs]`);
  const [units, k] = w.shape as [number, number];
  const { h, w: width, c: ch } = x.shape;
  if (k !== h * width * ch) {
    const perPosition = o.bool(FULLY_CONNECTED_OPTIONS.keepNumDims) && k === ch ? ' (applied at each position: keep_num_dims)' : '';
    throw opError(c, `weights ${tensorText(w)} take ${k} inputs, the input [1, ${h}, ${width}, ${ch}] has ${h * width * ch}${perPosition}`);
  }
  const activation = fusedActivation(c, o.int8(FULLY_CONNECTED_OPTIONS.fusedActivation));
  checkSameDomain(c, [x.tensor], outputTensor(c));
  const params = layerParams(c, x, w, constInput(c, 2, 'bias'), units, 0, (a) => a);
  produce(c, { kind: 'dense', inputs: [x.act], activation, units, ...params }, { kind: 'map', h: 1, w: 1, c: units });
}
