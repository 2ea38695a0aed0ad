/**
 * Device descriptors: the numbers the memory planner checks a plan against and the
 * firmware/emulator hosts build for. One table, so `tinytrain targets` and the planner
 * can never disagree.
 */
import { TinytrainError } from '../compiler/errors.js';

export interface Target {
  name: string;
  description: string;
  kind: 'mcu' | 'mobile' | 'desktop';
  /** GCC-style -mcpu name where one exists, so the firmware build can pass it through. */
  cpu: string;
  fpu: boolean;
  /** Whether the runtime build for this target uses WASM SIMD. */
  wasmSimd: boolean;
  sramBytes: number;
  flashBytes: number;
  /** SRAM kept back for the C stack + runtime; the arena gets sramBytes - this. */
  stackReserveBytes: number;
  /** The QEMU machine that stands in for this device (qemu-system-arm; esp32c3's is qemu-system-riscv32's). */
  qemuMachine?: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const TARGETS: readonly Target[] = Object.freeze([
  {
    name: 'stm32f746',
    description: 'STM32F746 (Cortex-M7 @216 MHz, 320 KiB SRAM, 1 MiB Flash), the board Lin et al. 2022 trained on',
    kind: 'mcu',
    cpu: 'cortex-m7',
    fpu: true,
    // Cortex-M has no vector unit that wasm2c's SIMD lowering could use; scalar is faster there.
    wasmSimd: false,
    sramBytes: 320 * KiB,
    flashBytes: 1 * MiB,
    stackReserveBytes: 16 * KiB,
    // MPS2 AN500 is QEMU's Cortex-M7 board.
    qemuMachine: 'mps2-an500',
  },
  {
    name: 'nrf52840',
    description: 'nRF52840 (Cortex-M4F @64 MHz, 256 KiB SRAM, 1 MiB Flash)',
    kind: 'mcu',
    cpu: 'cortex-m4',
    fpu: true,
    wasmSimd: false,
    sramBytes: 256 * KiB,
    flashBytes: 1 * MiB,
    stackReserveBytes: 16 * KiB,
    // QEMU does not model the nRF52840; MPS2 AN386 is a Cortex-M4 with the same core.
    qemuMachine: 'mps2-an386',
  },
  {
    name: 'stm32f405',
    // STM32F405xx datasheet (DS8626): 1 MiB Flash; 192 KiB SRAM of which 64 KiB is CCM, a
    // separate bus the runtime's one arena cannot span, so the budget is the 128 KiB main
    // SRAM (SRAM1 112 KiB + SRAM2 16 KiB, contiguous at 0x20000000).
    description: 'STM32F405 (Cortex-M4F @168 MHz, 128 KiB main SRAM + 64 KiB CCM, 1 MiB Flash; Flash sectors 16-128 KiB)',
    kind: 'mcu',
    cpu: 'cortex-m4',
    fpu: true,
    wasmSimd: false,
    sramBytes: 128 * KiB,
    flashBytes: 1 * MiB,
    stackReserveBytes: 16 * KiB,
    // The C library's example (targets/clib/examples/stm32f405/) runs on QEMU's
    // netduinoplus2 (the real STM32F405 memory map and USART); the firmware harness, built
    // for MPS2 with semihosting, runs on the Cortex-M4 MPS2 board as nrf52840 does.
    qemuMachine: 'mps2-an386',
  },
  {
    name: 'nrf5340',
    // nRF5340 Product Specification v1.3, application core: 1 MiB Flash (4 KiB pages),
    // 512 KiB RAM. The example (targets/clib/examples/mps2-an505/) runs on QEMU's
    // Cortex-M33 board with this layout; the firmware harness runs there too (Secure memory map,
    // host/firmware/generate.ts).
    description: 'nRF5340 application core (Cortex-M33 @128 MHz, 512 KiB SRAM, 1 MiB Flash)',
    kind: 'mcu',
    cpu: 'cortex-m33',
    fpu: true,
    wasmSimd: false,
    sramBytes: 512 * KiB,
    flashBytes: 1 * MiB,
    stackReserveBytes: 16 * KiB,
    qemuMachine: 'mps2-an505',
  },
  {
    name: 'esp32c3',
    // ESP32-C3 datasheet v1.x: 400 KiB SRAM (16 KiB of it usable as Flash cache), 4 MiB
    // in-package Flash (ESP32-C3FH4; 4 KiB sectors). RV32IMC: no FPU, so float is soft.
    // The example (targets/clib/examples/riscv32-virt/) runs on qemu-system-riscv32's virt
    // with this layout; the firmware harness is Cortex-M only.
    description: 'ESP32-C3 (RV32IMC @160 MHz, no FPU, 400 KiB SRAM, 4 MiB Flash)',
    kind: 'mcu',
    cpu: 'rv32imc',
    fpu: false,
    wasmSimd: false,
    sramBytes: 400 * KiB,
    flashBytes: 4 * MiB,
    stackReserveBytes: 16 * KiB,
    qemuMachine: 'virt',
  },
  {
    name: 'arm64-linux',
    description: 'phone-class ARMv8-A (Cortex-A) Linux/Android, 8 MiB training budget',
    kind: 'mobile',
    cpu: 'armv8-a',
    fpu: true,
    // ARMv8-A always has NEON, which V8 uses for WASM SIMD.
    wasmSimd: true,
    // Our chosen budget, not a hardware limit: a background on-device-learning job on a
    // phone shares memory with the foreground app, so it should stay small. 8 MiB fits in
    // the system-level cache of a mid-range SoC and is under 2% of 512 MB, the smallest
    // per-app heap limit we plan for on Android.
    sramBytes: 8 * MiB,
    // Storage we allow the artifact to take (runtime + weights), also a chosen budget.
    flashBytes: 64 * MiB,
    // Generous round reserve: these builds are not size-tuned like the MCU firmware.
    stackReserveBytes: 1 * MiB,
  },
  {
    name: 'desktop',
    description: 'desktop / server (x86-64 or any 64-bit host running Node), for development',
    kind: 'desktop',
    cpu: 'x86-64',
    fpu: true,
    wasmSimd: true,
    sramBytes: 256 * MiB,
    flashBytes: 1 * GiB,
    stackReserveBytes: 1 * MiB,
  },
]);

export function getTarget(name: string): Target {
  const wanted = name.trim().toLowerCase();
  const found = TARGETS.find((t) => t.name === wanted);
  if (!found) {
    const names = TARGETS.map((t) => t.name).join(', ');
    throw new TinytrainError(`unknown target "${name}"; known targets: ${names}`, 'run `tinytrain targets` for details');
  }
  return found;
}

/** Multipliers for parseByteSize. KB/MB/GB are binary here (1 KB = 1024 B), like KiB/MiB/GiB,
 * because every datasheet we read quotes SRAM and Flash in binary units under decimal names. */
const UNIT_BYTES: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  kb: KiB,
  kib: KiB,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: GiB,
  gb: GiB,
  gib: GiB,
};

/**
 * "4096", "256K", "256KB", "320KiB", "1MB", "1.5MiB" -> bytes. Units are case-insensitive
 * and may be separated by spaces; the result must be a whole number of bytes.
 */
export function parseByteSize(text: string): number {
  const hint = 'write a size like 4096, 256K, 256KB, 320KiB, 1MB or 1.5MiB (K/KB/KiB all mean 1024)';
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNIT_BYTES[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new TinytrainError(`cannot read "${text}" as a byte size`, hint);
  const bytes = Number(m[1]) * unit;
  if (!Number.isInteger(bytes)) {
    throw new TinytrainError(`byte size "${text}" is ${bytes} bytes, not a whole number`, hint);
  }
  if (!Number.isSafeInteger(bytes)) throw new TinytrainError(`byte size "${text}" is too large`, hint);
  return bytes;
}
