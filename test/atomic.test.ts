import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../host/io/atomic.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tinytrain-atomic-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/**
 * A previous artifact folder: writeDirAtomic replaces only folders host/io/output-paths.ts
 * recognises as artifacts (a folder of arbitrary files is refused, see output-paths.test.ts).
 */
const OLD_MANIFEST = JSON.stringify({ format: 'tinytrain-artifact@1', files: { image: 'stale.wasm' }, old: true });
function makeOld(dir: string): void {
  mkdirSync(dir);
  writeFileSync(join(dir, 'manifest.json'), OLD_MANIFEST);
  writeFileSync(join(dir, 'stale.wasm'), 'old wasm');
}

describe('writeDirAtomic', () => {
  it('leaves the previous folder intact and no temp folders behind when fill throws', async () => {
    const out = join(root, 'artifact');
    makeOld(out);
    const boom = new Error('fill failed');
    let seenTmp = '';
    await expect(
      writeDirAtomic(out, (tmp) => {
        seenTmp = tmp;
        writeFileSync(join(tmp, 'manifest.json'), 'new, half written');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(seenTmp).not.toBe(out);
    expect(existsSync(seenTmp)).toBe(false);
    expect(readdirSync(root)).toEqual(['artifact']);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(OLD_MANIFEST);
    expect(readdirSync(out).sort()).toEqual(['manifest.json', 'stale.wasm']);
  });

  it('fails the same way for an async fill that rejects', async () => {
    const out = join(root, 'artifact');
    await expect(
      writeDirAtomic(out, async (tmp) => {
        writeFileSync(join(tmp, 'x'), 'x');
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('late failure');
      }),
    ).rejects.toThrow('late failure');
    expect(readdirSync(root)).toEqual([]);
  });

  it('replaces the previous folder whole on success', async () => {
    const out = join(root, 'artifact');
    makeOld(out);
    await writeDirAtomic(out, async (tmp) => {
      // Nothing is visible at the final path until fill is done.
      expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(OLD_MANIFEST);
      writeFileSync(join(tmp, 'manifest.json'), 'new');
    });
    expect(readdirSync(out)).toEqual(['manifest.json']);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe('new');
    expect(readdirSync(root)).toEqual(['artifact']);
  });

  it('creates missing parents, and refuses to replace a plain file', async () => {
    const nested = join(root, 'a', 'b', 'out');
    await writeDirAtomic(nested, (tmp) => writeFileSync(join(tmp, 'f'), '1'));
    expect(readFileSync(join(nested, 'f'), 'utf8')).toBe('1');

    const file = join(root, 'model.json');
    writeFileSync(file, 'keep me');
    let filled = false;
    await expect(writeDirAtomic(file, () => void (filled = true))).rejects.toBeInstanceOf(TinytrainError);
    expect(filled).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });
});

describe('writeFileAtomic', () => {
  it('writes strings and bytes and leaves no temp file', () => {
    const path = join(root, 'manifest.json');
    writeFileAtomic(path, '{"a":1}');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}');
    writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(root)).toEqual(['manifest.json']);
  });

  it('reports an unwritable location as a TinytrainError naming the path', () => {
    const path = join(root, 'missing-dir', 'x.bin');
    expect(() => writeFileAtomic(path, 'x')).toThrow(TinytrainError);
    expect(() => writeFileAtomic(path, 'x')).toThrow(path);
  });
});
