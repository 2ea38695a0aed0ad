import type { Command } from 'commander';
import { readArtifact } from '../artifact.js';
import type { Manifest } from '../../compiler/manifest.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderHtmlReport } from '../report/html.js';
import { emit, kb } from './common.js';

export function textReport(m: Manifest): string {
  const b = m.memory.breakdown;
  const row = (k: string, v: number): string => `  ${k.padEnd(34)} ${String(v).padStart(10)} B  ${kb(v).padStart(10)}`;
  const trained = m.scheme.layers.filter((l) => l.bias || l.channels > 0);
  return [
    `model ${m.model} -> target ${m.target} (${m.targetKind}); scheme ${m.scheme.name}; SGD momentum ${m.optimizer.momentum}, QAS ${m.optimizer.qas ? 'on' : 'off'}`,
    '',
    'memory',
    row('SRAM peak (device needs)', m.memory.sramPeakBytes),
    ...(m.memory.budgetBytes !== undefined ? [row('budget', m.memory.budgetBytes)] : []),
    row('  arena (activations + gradients)', b.arenaBytes),
    row('    saved activations at peak', b.savedActivationsBytes),
    row('    gradients at peak', b.gradientBytes),
    row('  trained parameters', b.trainedParamsBytes),
    row('  optimizer state', b.optimizerStateBytes),
    row('  runtime state', b.runtimeStateBytes),
    row('  static data', b.staticDataBytes),
    row('  stack + runtime reserve', b.runtimeReserveBytes),
    row(m.targetKind === 'mcu' ? 'frozen parameters (Flash)' : '  frozen parameters (RAM)', b.frozenParamsBytes),
    row('Flash (code + weights image)', m.memory.flashBytes),
    row('  code', b.codeBytes),
    row('WASM linear memory (fixed)', m.wasmMemoryBytes),
    `  arena placement: ${m.arena.strategy} (${m.arena.candidates.map((c) => `${c.strategy} ${c.arenaBytes} B`).join(', ')}); ` +
      `peak live ${m.arena.peakLiveBytes} B (arena/peak = ${(m.arena.bytes / Math.max(1, m.arena.peakLiveBytes)).toFixed(3)})`,
    '',
    `trained layers (${trained.length} of ${m.scheme.layers.length})`,
    ...m.scheme.layers.map((l) => `  ${l.name.padEnd(16)} bias ${l.bias ? 'yes' : ' no'}  weights ${l.channels}/${l.splitChannels} (input) channels`),
    '',
    `training program (${m.program.length} steps; forward ${m.lossStep}, backward ${m.program.length - m.lossStep - 1})`,
    ...m.program.map((s, i) => `  ${String(i).padStart(3)} ${s}`),
  ].join('\n');
}

export function registerReport(program: Command): void {
  program.command('report')
    .description('memory breakdown, trained layers and the pruned training program of an artifact')
    .argument('<dir>', 'artifact folder')
    .option('--html <file>', 'also write a self-contained HTML page (arena over time, per-layer memory)')
    .option('--json', 'print one JSON object on stdout')
    .action((dir: string, o: { html?: string; json?: boolean }) => {
      const { manifest } = readArtifact(dir);
      if (o.html) writeFileAtomic(o.html, renderHtmlReport(manifest));
      emit(!!o.json, { model: manifest.model, target: manifest.target, scheme: manifest.scheme, memory: manifest.memory, arena: manifest.arena, program: manifest.program, html: o.html ?? null },
        () => textReport(manifest) + (o.html ? `\n\nwrote ${o.html}` : ''));
    });
}
