// Runs the WASI build of a tinytrain runtime on one job folder with node:wasi.
// Shared by two engines: 'node-wasi' (this machine's Node) and 'arm64' (Debian's arm64
// Node 18 under qemu-aarch64). Plain JS for Node >= 18, no package imports, so the
// emulated Node needs nothing but this file.
//
//   node wasi_host.mjs RUNTIME.wasm JOB_DIR MEMORY_BYTES
//
// Exit status: the runtime's (0 ok, 1 bad job), 4 when the memory promise is broken.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [wasmPath, jobDir, memoryArg] = process.argv.slice(2);
const memoryBytes = Number(memoryArg);

const wasi = new WASI({
  version: 'preview1',
  args: ['tinytrain-wasi'],
  env: {},
  preopens: { '/job': jobDir },
  returnOnExit: true,
});
const module = await WebAssembly.compile(readFileSync(wasmPath));
// Node 18 has no wasi.getImportObject(); this form works on 18 and 20.
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });

// The module's memory is fixed (initial = maximum). Check it is the planned size and
// that the engine really refuses to grow it before trusting a run.
const memory = instance.exports.memory;
if (memory.buffer.byteLength !== memoryBytes) {
  console.error(`wasi_host: memory is ${memory.buffer.byteLength} B, the plan says ${memoryBytes} B`);
  process.exit(4);
}
let grew = true;
try {
  memory.grow(1);
} catch {
  grew = false;
}
if (grew) {
  console.error('wasi_host: the runtime memory could grow past its planned size');
  process.exit(4);
}

process.exitCode = wasi.start(instance);
