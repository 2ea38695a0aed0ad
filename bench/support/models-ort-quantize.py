"""onnxruntime's own post-training int8 quantisation of a float .onnx model, as a peer for
bench/models.ts: the file quantised by onnxruntime.quantization.quantize_static on the
calibration inputs tinytrain calibrates on, then run on the checked inputs.

    python models-ort-quantize.py JOB.json RESULT.json

JOB.json: {"model": path, "shape": [1, C, H, W], "calibration": [[...], ...], "inputs": [[...], ...]}
(flat, in the model's own layout). RESULT.json: {"outputs": [[...], ...], "settings": str,
"onnxruntime": version}. The settings are the ones closest to tinytrain's: QDQ, int8
activations (per tensor) and int8 weights per output channel, min/max ranges.
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

# Per-channel DequantizeLinear (its `axis`) exists from opset 13.
PER_CHANNEL_OPSET = 13
SETTINGS = "quantize_static: QDQ, int8 activations per tensor, int8 weights per output channel, min/max calibration"


class Inputs(CalibrationDataReader):
    def __init__(self, name, shape, xs):
        self.items = iter([{name: np.array(x, dtype=np.float32).reshape(shape)} for x in xs])

    def get_next(self):
        return next(self.items, None)


def pinned(path, shape, out):
    """The model with its input pinned to `shape` and at least PER_CHANNEL_OPSET."""
    m = onnx.load(path)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, shape):
        d.dim_value = v
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), PER_CHANNEL_OPSET)
    if opset < PER_CHANNEL_OPSET:
        m = onnx.version_converter.convert_version(m, PER_CHANNEL_OPSET)
    onnx.save(m, out)


def main():
    job = json.load(open(sys.argv[1]))
    with tempfile.TemporaryDirectory() as d:
        fixed, pre, quant = (os.path.join(d, f) for f in ("fixed.onnx", "pre.onnx", "q.onnx"))
        pinned(job["model"], job["shape"], fixed)
        # Symbolic shape inference asserts on some exporters' Concat; ONNX's own inference suffices with the input pinned.
        quant_pre_process(fixed, pre, skip_symbolic_shape=True)
        name = onnx.load(pre).graph.input[0].name
        quantize_static(
            pre, quant, Inputs(name, job["shape"], job["calibration"]),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        session = ort.InferenceSession(quant, providers=["CPUExecutionProvider"])
        outputs = [
            np.asarray(session.run(None, {name: np.array(x, dtype=np.float32).reshape(job["shape"])})[0], dtype=np.float64).flatten().tolist()
            for x in job["inputs"]
        ]
    json.dump({"outputs": outputs, "settings": SETTINGS, "onnxruntime": ort.__version__}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
