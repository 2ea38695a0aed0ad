"""Independent float32 check for the accuracy study (bench/study.ts): the same network,
the same pretrained weights, the same samples in the same order and the same SGD step as
tinytrain's float path, but trained and evaluated by PyTorch.

    python torch_finetune.py JOB_DIR      -> one JSON line on stdout

JOB_DIR holds job.json (the resolved graph in tinytrain's HWC layout, the float
parameters as base64 little-endian float32 in tinytrain's layouts, lr, the sample order)
and four raw files: train-images.u8, train-labels.u8, test-images.u8, test-labels.u8.

PyTorch runs NCHW; weights are permuted from tinytrain's [Cout, KH, KW, Cin/groups], and
the graph walk (bench/peers/torch_graph.py) flattens in HWC order as tinytrain does, so
the function computed is the same one. Summation orders differ, so results agree to float32
rounding per step, not bit for bit.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from torch_graph import forward  # noqa: E402  (the shared graph walk, found via the path above)


def f32(b64, shape):
    return torch.from_numpy(np.frombuffer(base64.b64decode(b64), dtype="<f4").copy().reshape(shape))


def load_params(graph, params):
    out = {}
    for n in graph["nodes"]:
        if n["op"] not in ("conv2d", "dense"):
            continue
        p = params[n["name"]]
        cout = n["outShape"][2]
        h, w, c = n["inShapes"][0]
        if n["op"] == "dense":
            weight = f32(p["weight"], (cout, h * w * c))
        else:
            cv = n["conv"]
            per_group = 1 if cv["depthwise"] else c
            weight = f32(p["weight"], (cout, cv["kh"], cv["kw"], per_group)).permute(0, 3, 1, 2).contiguous()
        out[n["name"]] = (weight.requires_grad_(True), f32(p["bias"], (cout,)).requires_grad_(True))
    return out


def images(path, count, shape, lo, hi):
    raw = np.fromfile(path, dtype=np.uint8).reshape(count, *shape)  # N, H, W, C
    x = lo + raw.astype(np.float32) * np.float32((hi - lo) / 255)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def main():
    d = sys.argv[1]
    job = json.load(open(os.path.join(d, "job.json")))
    torch.set_num_threads(1)
    g = job["graph"]
    lo, hi = g["inputRange"]
    shape = g["inputShape"]
    xtr = images(os.path.join(d, "train-images.u8"), job["trainCount"], shape, lo, hi)
    ytr = np.fromfile(os.path.join(d, "train-labels.u8"), dtype=np.uint8)
    xte = images(os.path.join(d, "test-images.u8"), job["testCount"], shape, lo, hi)
    yte = np.fromfile(os.path.join(d, "test-labels.u8"), dtype=np.uint8)
    params = load_params(g, job["params"])
    flat = [p for pair in params.values() for p in pair]
    opt = torch.optim.SGD(flat, lr=job["lr"], momentum=0)
    losses = []
    for i in job["order"]:
        opt.zero_grad()
        loss = F.cross_entropy(forward(g, params, xtr[i : i + 1]), torch.tensor([int(ytr[i])]))
        loss.backward()
        opt.step()
        if len(losses) < job["keepLosses"]:
            losses.append(float(loss))
    correct = 0
    with torch.no_grad():
        for i in range(job["testCount"]):
            correct += int(int(forward(g, params, xte[i : i + 1]).argmax()) == int(yte[i]))
    print(json.dumps({"accuracy": correct / job["testCount"], "losses": losses, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
