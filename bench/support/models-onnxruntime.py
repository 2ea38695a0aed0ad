"""Runs .onnx models on onnxruntime for bench/models.ts (the float reference).

    python models-onnxruntime.py JOBS.json RESULTS.json

JOBS.json: a list of {"model": path, "shape": [1, C, H, W] or [1, N], "inputs": [[...], ...]}
(each input flat, in the model's own layout). RESULTS.json gets, per job, {"outputs": [[...], ...]}:
the first output after each input, flat. One input tensor only, as tinytrain imports.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def run(job):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(job["model"], opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = []
    for x in job["inputs"]:
        y = session.run(None, {name: np.array(x, dtype=np.float32).reshape(job["shape"])})[0]
        outputs.append(np.asarray(y, dtype=np.float64).flatten().tolist())
    return {"outputs": outputs}


def main():
    jobs = json.load(open(sys.argv[1]))
    json.dump([run(j) for j in jobs], open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
