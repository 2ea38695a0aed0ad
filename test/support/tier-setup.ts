/**
 * vitest setupFile: what the fast tier changes inside each test worker (test/tiers.ts says
 * why). Its in-process compiles build no WASI module: no test in a worker runs one there,
 * and the CLI processes tests start (cli, output-paths, kernels-prune) still build it, so
 * the WASI build stays covered in the fast tier too.
 */
import { setWasiPlaceholders } from '../../compiler/codegen/build-cache.js';
import { tier } from '../tiers.js';

setWasiPlaceholders(tier === 'fast');
