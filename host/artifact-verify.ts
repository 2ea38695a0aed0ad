/**
 * Checks that an artifact's manifest is well-formed and agrees with itself: every
 * region a host or firmware will write or read lies inside the fixed linear memory and
 * where the other fields say. Runs before any field is used, on every load, by every
 * engine (they all load through host/artifact.ts readArtifact).
 */
import { TinytrainError } from '../compiler/errors.js';
import { manifestSchema } from '../compiler/manifest-schema.js';
import { parseWith } from '../compiler/validate.js';
import { SOURCE_FILE, staticDataBase, type Manifest } from '../compiler/manifest.js';
import { STATE_BYTES } from '../compiler/memory/layout.js';
import { TARGETS } from '../targets/index.js';
import { wasmMemoryLimits } from './engines/wasm-memory.js';

export const RECOMPILE_HINT = 'recompile the artifact: tinytrain compile MODEL --target NAME --out DIR';

/** The parsed manifest.json, checked field by field and for consistency; throws naming the field. */
export function verifyManifest(json: unknown, where: string): Manifest {
  const m = parseWith(manifestSchema, json, where, RECOMPILE_HINT) as Manifest;
  const bad = (what: string): never => {
    throw new TinytrainError(`${where}: ${what}`, RECOMPILE_HINT);
  };

  const target = TARGETS.find((t) => t.name === m.target);
  if (!target) bad(`target '${m.target}' is not a target this tinytrain knows`);
  if (target!.kind !== m.targetKind) bad(`targetKind '${m.targetKind}' does not match target ${m.target} (${target!.kind})`);

  for (const [field, name] of Object.entries(m.files)) {
    if (!m.integrity[name]) bad(`integrity lists no size and sha256 for files.${field} (${name})`);
  }
  if (!m.integrity[SOURCE_FILE]) bad(`integrity lists no size and sha256 for ${SOURCE_FILE}`);
  if (m.files.wasm !== m.files.wasmSimd && m.files.wasm !== m.files.wasmScalar) bad('files.wasm must be files.wasmSimd or files.wasmScalar');
  const img = m.integrity[m.files.image]!;
  if (img.bytes !== m.image.bytes || img.sha256 !== m.image.sha256)
    bad(`image says ${m.image.bytes} B / ${m.image.sha256.slice(0, 12)}…, integrity says ${img.bytes} B / ${img.sha256.slice(0, 12)}…`);

  // Linear memory: [16, image end) holds the image, whose tail is the checkpoint region
  // (trained parameters, optimizer and runtime state); the arena follows; all fixed.
  const imageEnd = m.image.offset + m.image.bytes;
  const ckEnd = m.checkpoint.offset + m.checkpoint.bytes;
  const arenaEnd = m.arena.offset + m.arena.bytes;
  if (m.image.offset < 16) bad(`image.offset ${m.image.offset} is below 16 (the first bytes of memory are never used)`);
  if (m.checkpoint.offset < m.image.offset || ckEnd !== imageEnd)
    bad(`checkpoint [${m.checkpoint.offset}, ${ckEnd}) is not the tail of the image [${m.image.offset}, ${imageEnd})`);
  if (m.state.offset < m.checkpoint.offset || m.state.offset + STATE_BYTES > ckEnd)
    bad(`state.offset ${m.state.offset} leaves no ${STATE_BYTES}-byte state record inside the checkpoint region`);
  if (m.arena.offset < ckEnd) bad(`arena.offset ${m.arena.offset} overlaps the checkpoint region (ends at ${ckEnd})`);
  if (arenaEnd > m.wasmMemoryBytes) bad(`the arena ends at ${arenaEnd}, past the ${m.wasmMemoryBytes}-byte linear memory`);
  // The loss's target buffer is the one right after the arena (compiler/loss.ts).
  const targets = m.loss?.targets;
  if (targets && (targets.offset !== arenaEnd || targets.count !== m.classes || staticDataBase(m) > m.wasmMemoryBytes)) {
    bad(`loss.targets [${targets.offset}, +${targets.count} float32) is not the ${m.classes}-value buffer right after the arena (ends at ${arenaEnd})`);
  }
  const inArena = (what: string, offset: number, bytes: number): void => {
    if (offset < m.arena.offset || offset + bytes > arenaEnd) bad(`${what} [${offset}, ${offset + bytes}) is outside the arena [${m.arena.offset}, ${arenaEnd})`);
  };
  const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
  inArena('inputs[0]', m.inputs[0]!.offset, elements(m.inputs[0]!.shape));
  if (m.outputs[0]!.shape.length !== 1 || m.outputs[0]!.shape[0] !== m.classes) bad(`outputs[0].shape must be [classes] = [${m.classes}]`);
  inArena('outputs[0]', m.outputs[0]!.offset, m.classes);
  m.buffers.forEach((b, i) => {
    if (b.offset + b.bytes > m.arena.bytes) bad(`buffers[${i}] ends at arena offset ${b.offset + b.bytes}, past arena.bytes ${m.arena.bytes}`);
    if (b.first > b.last || b.last >= m.program.length) bad(`buffers[${i}] lives over steps ${b.first}..${b.last}, the program has ${m.program.length}`);
  });
  if (m.lossStep >= m.program.length) bad(`lossStep ${m.lossStep} is past the program's ${m.program.length} steps`);
  return m;
}

/** A runtime module must declare one memory of exactly the manifest's fixed size. */
export function verifyModuleMemory(wasm: Uint8Array, m: Manifest, where: string): void {
  let lim: ReturnType<typeof wasmMemoryLimits>;
  try {
    lim = wasmMemoryLimits(wasm);
  } catch (e) {
    throw new TinytrainError(`${where}: not a tinytrain runtime module (${(e as Error).message.replace(/^tinytrain: /, '')})`, RECOMPILE_HINT);
  }
  const pages = m.wasmMemoryBytes / 65536;
  if (lim.initialPages !== pages || lim.maximumPages !== pages) {
    throw new TinytrainError(
      `${where}: the module's memory is ${lim.initialPages} pages (maximum ${lim.maximumPages ?? 'none'}), the manifest says exactly ${pages}`,
      RECOMPILE_HINT,
    );
  }
}
