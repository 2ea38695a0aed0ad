"""PyTorch peer of the step-time bench (bench/speed.ts): the same network and the same
batch-1 SGD training step as a tinytrain artifact, in float32 on the CPU.

    python torch_step.py JOB.json THREADS     -> one JSON line on stdout (a PeerResult)

JOB.json is a PeerJob (bench/peers/job.ts): the resolved graph (HWC shapes) and, per
conv/dense layer, whether its bias trains and how many leading input channels of its
weights train. PyTorch lays tensors out NCHW, its native CPU layout: this is a speed
peer, not a numerics check, so each framework runs in the layout it is fastest in.

Sparse schemes: a parameter that does not train gets requires_grad=False, so autograd
prunes the backward graph as our compiler does. PyTorch cannot train a fraction of a
tensor, so a layer that trains only its first k input channels computes the whole
weight gradient and has it masked before the update (the mask costs one multiply; the
gradient is computed in full, which is what PyTorch would do in practice).
"""
import json
import resource
import sys
import time

import torch_graph  # the shared graph walk (this script's folder is on sys.path)


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss():
    # VmHWM, not ru_maxrss: Linux counts the pre-exec address space (a fork of the bench
    # process) in the child's ru_maxrss.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    job = json.load(open(sys.argv[1]))
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    import torch
    import torch.nn.functional as F

    if threads > 0:
        torch.set_num_threads(threads)
    base_rss = rss_now()
    torch.manual_seed(job["seed"])
    g = job["graph"]
    train = job["train"]

    params = {}  # layer -> (weight, bias, mask or None)
    trained = []
    masks = []
    for n in g["nodes"]:
        if n["op"] not in ("conv2d", "dense"):
            continue
        cin = n["inShapes"][0][2]
        cout = n["outShape"][2]
        if n["op"] == "dense":
            h, w, c = n["inShapes"][0]
            shape = (cout, h * w * c)
            fan_in = h * w * c
        else:
            cv = n["conv"]
            per_group = 1 if cv["depthwise"] else cin
            shape = (cout, per_group, cv["kh"], cv["kw"])
            fan_in = per_group * cv["kh"] * cv["kw"]
        t = train.get(n["name"], {"bias": False, "channels": 0, "splitChannels": 1})
        weight = (torch.randn(shape) * (2.0 / fan_in) ** 0.5).requires_grad_(t["channels"] > 0)
        bias = torch.zeros(cout).requires_grad_(bool(t["bias"]))
        mask = None
        if 0 < t["channels"] < t["splitChannels"]:
            mask = torch.zeros(shape)
            k = t["channels"]
            if n["op"] == "conv2d" and n["conv"]["depthwise"]:
                mask[:k] = 1  # depthwise: the split is along channels = output channels
            else:
                mask[:, :k] = 1  # input channels (dense: flattened inputs)
        if t["channels"] > 0:
            trained.append(weight)
            masks.append((weight, mask))
        if t["bias"]:
            trained.append(bias)
        params[n["name"]] = (weight, bias)

    def forward(x):
        return torch_graph.forward(g, params, x)

    h, w, c = g["inputShape"]
    lo, hi = g["inputRange"]
    xs = [torch.rand(1, c, h, w) * (hi - lo) + lo for _ in range(job["samples"])]
    ys = [torch.randint(0, g["classes"], (1,)) for _ in range(job["samples"])]
    opt = torch.optim.SGD(trained, lr=job["lr"])
    last_loss = [float("nan")]

    def step(i):
        k = i % len(xs)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(xs[k]), ys[k])
        loss.backward()
        for wt, m in masks:
            if m is not None:
                wt.grad.mul_(m)
        opt.step()
        last_loss[0] = loss.item()  # also a sync point: the step is really finished

    for i in range(job["warmup"]):
        step(i)
    times = []
    start = time.perf_counter()
    for i in range(job["steps"]):
        t0 = time.perf_counter()
        step(job["warmup"] + i)
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= job["minSteps"] and time.perf_counter() - start > job["maxSeconds"]:
            break
    s = sorted(times)
    at = lambda q: s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]
    mid = len(s) // 2
    median = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    partial = [name for name, t in train.items() if 0 < t["channels"] < t["splitChannels"]]
    print(json.dumps({
        "peer": "pytorch",
        "measured": True,
        "note": ("weights of %s train on a fraction of their input channels: PyTorch computes the whole "
                 "weight gradient and masks it" % ", ".join(partial)) if partial else None,
        "medianMs": median, "p10Ms": at(0.1), "p90Ms": at(0.9), "steps": len(s), "timesMs": times,
        "peakRssBytes": peak_rss(),
        "baseRssBytes": base_rss,
        "info": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                 "params": sum(w.numel() + b.numel() for w, b in params.values()),
                 "trainedTensors": len(trained), "lastLoss": last_loss[0]},
    }))


if __name__ == "__main__":
    main()
