#!/usr/bin/env node
// Entry point of the `tinytrain` command: the compiled CLI lives in dist/ (built by
// `npm ci` / `npm install` through the package's prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/host/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('error: tinytrain is not built (dist/ is missing)\n  hint: run `npm ci` or `npm run build` in the tinytrain folder\n');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
