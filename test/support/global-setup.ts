/**
 * vitest globalSetup: one build cache per test run (compiler/codegen/build-cache.ts). The
 * folder is new for every run and deleted when it ends; the variable set here reaches
 * every test worker and, through them, every CLI process a test starts, and replaces any
 * value left in the shell, so no run ever reads another run's builds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_CACHE_ENV } from '../../compiler/codegen/build-cache.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-build-cache-'));
  process.env[BUILD_CACHE_ENV] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
