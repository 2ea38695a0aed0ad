// The kernel library: one file per op family. Generated runtimes import from here.
export {
  conv2dForwardS8, conv2dForwardRowsS8, conv2dBackwardInputF32, depthwiseBackwardInputInPlaceF32, gapHeadBackwardF32,
  conv2dWeightUpdateS8, conv2dWeightGradF32, applyWeightUpdateS8, biasUpdateAllS32, biasGradF32, applyBiasUpdateS32,
} from './conv2d';
export { avgpoolForwardS8, avgpoolBackwardF32 } from './pool';
export { addS8, clampS8, clampBackwardF32, gradInto, argmaxS8, saveChannelsS8, saveMaskBits, clampBackwardBitsF32 } from './eltwise';
export { softmaxCrossEntropyS8 } from './loss';
export { rngSeed } from './rng';
export { resetNonFiniteGradients, nonFiniteGradientCount } from './update';
export { sparse1x1ForwardS8, sparse1x1BackwardInputF32, sparseGapHeadBackwardF32 } from './sparse';
