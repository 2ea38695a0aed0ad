import type { Command } from 'commander';
import { readArtifact } from '../artifact.js';
import { manifestLoss, type Manifest } from '../../compiler/manifest.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-paths.js';
import { renderHtmlReport } from '../report/html.js';
import { TinytrainError } from '../../compiler/errors.js';
import { profileArtifact, renderProfile } from '../profile/profile.js';
import { profileHtml } from '../profile/html.js';
import { emit, intOption, kb } from './common.js';

/** The loss and what it trains on (manifest loss; older artifacts: softmax-ce). */
function lossLine(m: Manifest): string {
  const loss = manifestLoss(m);
  const on = loss.targets
    ? `${loss.targets.count} float32 targets per sample at offset ${loss.targets.offset}`
    : loss.kind === 'bce'
      ? 'a 0/1 label per sample'
      : `a class label per sample (${m.classes} classes)`;
  const act = m.outputs[0]!.activation;
  return `loss ${loss.kind}, on ${on}${act && act !== 'none' ? `; inference applies ${act} to the outputs` : ''}`;
}

export function textReport(m: Manifest): string {
  const b = m.memory.breakdown;
  const row = (k: string, v: number): string => `  ${k.padEnd(34)} ${String(v).padStart(10)} B  ${kb(v).padStart(10)}`;
  const trained = m.scheme.layers.filter((l) => l.bias || l.channels > 0);
  return [
    `model ${m.model} -> target ${m.target} (${m.targetKind}); scheme ${m.scheme.name}; SGD momentum ${m.optimizer.momentum}, QAS ${m.optimizer.qas ? 'on' : 'off'}`,
    lossLine(m),
    '',
    'memory',
    row('SRAM peak (device needs)', m.memory.sramPeakBytes),
    row('  all-inclusive (= SRAM peak)', m.memory.accounting.allInclusiveBytes),
    row("  the reference's accounting", m.memory.accounting.referenceStyleBytes),
    '    (arena with its kernel scratch, as TinyEngine counts its peak; all-inclusive adds',
    `    trained parameters, optimizer/runtime state, static data and the stack: ${m.memory.accounting.stackBytes} B, the target's reserve)`,
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
    row(m.targetKind === 'mcu' ? '  of which kernel parameter records' : '    of which kernel parameter records', b.kernelRecordsBytes),
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
  program
    .command('report')
    .description('memory breakdown, trained layers and the pruned training program of an artifact; --profile adds per-layer step timing')
    .argument('<dir>', 'artifact folder')
    .option('--html <file>', 'also write a self-contained HTML page (arena over time, per-layer memory); replaces only a report tinytrain wrote')
    .option('--json', 'print one JSON object on stdout')
    .option('--profile', 'time every program step of a training step (builds a profiling copy of the runtime; random samples)')
    .option('--steps <n>', 'timed training steps for --profile', intOption('--steps', 1), 20)
    .option('--variant <v>', 'module timed by --profile: simd | scalar', 'simd')
    .action(async (dir: string, o: { html?: string; json?: boolean; profile?: boolean; steps: number; variant: string }) => {
      if (o.variant !== 'simd' && o.variant !== 'scalar') throw new TinytrainError(`--variant must be simd or scalar, got '${o.variant}'`);
      const art = readArtifact(dir);
      const { manifest } = art;
      // Before profiling (which builds and runs a runtime): never do the work for nothing.
      const checkHtml = (): void => {
        if (o.html) checkOutputFile(o.html, 'html-report', '--html');
      };
      checkHtml();
      const profile = o.profile ? await profileArtifact(art, { variant: o.variant, steps: o.steps }) : null;
      if (o.html) writeFileAtomic(o.html, renderHtmlReport(manifest, profile ? profileHtml(profile) : ''), { beforeRename: checkHtml });
      emit(
        !!o.json,
        {
          model: manifest.model,
          target: manifest.target,
          scheme: manifest.scheme,
          memory: manifest.memory,
          arena: manifest.arena,
          program: manifest.program,
          html: o.html ?? null,
          ...(profile ? { profile } : {}),
        },
        () => textReport(manifest) + (profile ? `\n\n${renderProfile(profile)}` : '') + (o.html ? `\n\nwrote ${o.html}` : ''),
      );
    });
}
