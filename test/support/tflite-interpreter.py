"""Runs .tflite models on LiteRT's interpreter (ai-edge-litert) for test/tflite-*.test.ts.

    python tflite-interpreter.py JOBS.json RESULTS.json

JOBS.json is a list of jobs, each {"model": path, "inputs": [[...], ...], "tensors": [name, ...] ("@logits": the
input of the last SOFTMAX, or the output),
"ranges": bool, "resolver": "reference" | "builtin", "real": bool, "output": name}: every input (flat, in the input
tensor's own type: real values for float32, the stored integers for int8) is run through the model.
With "real", inputs are real values whatever the input's type (an int8 input quantises them with its
own scale and zero point, round to nearest, clamped) and "outputs" are real values (an int8 output
dequantised): how bench:models compares models with int8 or float edges alike. "output" names the
output tensor to read, for a model with several (default: the first).
RESULTS.json gets, per job: "outputs" (the output tensor after each input, flat, as stored),
"output_quant" ([scale, zero_point] of the output, [0, 0] when float), "tensors" (each named
tensor after each input, as stored, with its [scale, zero_point]) and, with "ranges", the
[min, max] of every float32 tensor over all inputs (to choose int8 quantisation from).

The reference resolver (TFLite's reference kernels, no delegate) is the default; "builtin"
is TFLite's optimised kernels without the XNNPACK delegate; "micro" runs TFLite Micro's own
interpreter (PyPI tflite-micro: the microcontroller runtime, whose FULLY_CONNECTED rounds as
its other kernels do, where LiteRT's reference one rounds once), tensors read by the indices
LiteRT gives their names (the same flatbuffer).
"""
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

RESOLVERS = {"reference": OpResolverType.BUILTIN_REF, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}


def quant_of(detail):
    scale, zero_point = detail["quantization"]
    return [float(scale), int(zero_point)]


def to_input(x, detail, real):
    """The input as the tensor stores it: real values quantised when asked and the tensor is integer."""
    if not real or detail["dtype"] == np.float32:
        return x.astype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(detail["dtype"])


def from_output(y, detail, real):
    """The output as stored, or dequantised to real values when asked and the tensor is integer."""
    if not real or detail["dtype"] == np.float32:
        return y
    scale, zero_point = detail["quantization"]
    return (y.astype(np.float64) - zero_point) * scale


def resolve_names(model, wanted):
    """Tensor names, with "@logits" standing for the input of the model's last SOFTMAX (its output when there is none)."""
    it = Interpreter(model_path=model)
    details = it.get_tensor_details()
    softmax = [op for op in it._get_ops_details() if op["op_name"] == "SOFTMAX"]
    logits = details[softmax[-1]["inputs"][0]]["name"] if softmax else it.get_output_details()[0]["name"]
    return {n: (logits if n == "@logits" else n) for n in wanted}


def run_micro(job):
    """The job on TFLite Micro's interpreter: stored inputs and outputs only (no "real", no "ranges")."""
    from tflite_micro.python.tflite_micro import runtime

    names = Interpreter(model_path=job["model"])
    index = {d["name"]: d["index"] for d in names.get_tensor_details()}
    out = names.get_output_details()[0]
    tm = runtime.Interpreter.from_file(job["model"], intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    detail = tm.get_input_details(0)
    wanted = resolve_names(job["model"], job.get("tensors", []))
    result = {"outputs": [], "output_quant": quant_of(out), "tensors": {n: {"values": [], "quant": [0.0, 0]} for n in wanted}}
    for x in job["inputs"]:
        tm.set_input(np.array(x).astype(detail["dtype"]).reshape(detail["shape"]), 0)
        tm.invoke()
        result["outputs"].append(tm.get_output(0).flatten().tolist())
        for n, name in wanted.items():
            result["tensors"][n]["values"].append(tm.GetTensor(index[name], 0)["tensor_data"].flatten().tolist())
    return result


def run(job):
    if job.get("resolver") == "micro":
        return run_micro(job)
    it = Interpreter(
        model_path=job["model"],
        experimental_op_resolver_type=RESOLVERS[job.get("resolver", "reference")],
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = it.get_output_details()
    out = next(d for d in outs if d["name"] == job["output"]) if "output" in job else outs[0]
    details = it.get_tensor_details()
    by_name = {d["name"]: d for d in details}
    wanted = resolve_names(job["model"], job.get("tensors", []))
    result = {"outputs": [], "output_quant": quant_of(out), "tensors": {n: {"values": [], "quant": quant_of(by_name[name])} for n, name in wanted.items()}}
    ranges = {}
    real = job.get("real", False)
    for x in job["inputs"]:
        it.set_tensor(inp["index"], to_input(np.array(x, dtype=np.float64), inp, real).reshape(inp["shape"]))
        it.invoke()
        y = it.get_tensor(out["index"]).flatten()
        result["outputs"].append(from_output(y, out, real).tolist())
        for n, name in wanted.items():
            result["tensors"][n]["values"].append(it.get_tensor(by_name[name]["index"]).flatten().tolist())
        if job.get("ranges"):
            for d in details:
                if d["dtype"] != np.float32:
                    continue
                try:
                    v = it.get_tensor(d["index"])
                except ValueError:  # a tensor without data (e.g. an unused optional input)
                    continue
                if v.size == 0:
                    continue
                lo, hi = float(v.min()), float(v.max())
                r = ranges.get(d["name"], [lo, hi])
                ranges[d["name"]] = [min(r[0], lo), max(r[1], hi)]
    if job.get("ranges"):
        result["ranges"] = ranges
    return result


def main():
    jobs_path, results_path = sys.argv[1], sys.argv[2]
    with open(jobs_path) as f:
        jobs = json.load(f)
    with open(results_path, "w") as f:
        json.dump([run(j) for j in jobs], f)


if __name__ == "__main__":
    main()
