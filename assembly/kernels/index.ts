// The kernel library: one file per op family. Generated runtimes import from here.
export { conv2dForwardS8, conv2dBackwardInputF32, conv2dUpdateWeightsS8, biasUpdateS32 } from './conv2d';
export { avgpoolForwardS8, avgpoolBackwardF32 } from './pool';
export { addS8, clampS8, clampBackwardF32, gradInto, argmaxS8 } from './eltwise';
export { softmaxCrossEntropyS8 } from './loss';
export { rngSeed } from './rng';
