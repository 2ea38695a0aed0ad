"""A tinytrain graph (the resolved JSON of compiler/ir/graph.ts) as a PyTorch forward pass,
shared by the speed peer (torch_step.py) and the accuracy study's float32 check
(bench/study/torch_finetune.py).

Tensors are NCHW, PyTorch's native layout. tinytrain flattens HWC, so a flatten (or a
dense layer reading a 4-D tensor) permutes to NHWC first: the function computed is the
same one tinytrain computes, and dense weights load unchanged.
"""
import torch.nn.functional as F


def activate(x, a):
    if a == "relu":
        return F.relu(x)
    if a == "relu6":
        return F.relu6(x)
    return x


def flatten_hwc(x):
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x


def forward(graph, params, x):
    """Logits [1, classes]; params maps a conv/dense layer name to (weight, bias) in torch layout."""
    t = {"input": x}
    for n in graph["nodes"]:
        a = t[n["inputs"][0]]
        op = n["op"]
        if op == "conv2d":
            w, b = params[n["name"]]
            cv = n["conv"]
            y = F.conv2d(a, w, b, stride=cv["stride"], padding=cv["pad"], groups=a.shape[1] if cv["depthwise"] else 1)
        elif op == "dense":
            w, b = params[n["name"]]
            y = F.linear(flatten_hwc(a), w, b)
        elif op == "add":
            y = a + t[n["inputs"][1]]
        elif op == "avgpool":
            y = F.avg_pool2d(a, n["pool"]["size"], n["pool"]["stride"])
        elif op == "globalavgpool":
            y = a.mean(dim=(2, 3), keepdim=True)
        elif op == "flatten":
            y = flatten_hwc(a)
        elif op in ("relu", "relu6"):
            y = activate(a, op)
        else:
            raise SystemExit(f"torch_graph: op {op} (node {n['name']}) is not supported")
        t[n["name"]] = activate(y, n.get("activation", "none"))
    return t[graph["output"]].reshape(1, -1)
