"""Builds the ONNX models of test/onnx-import.test.ts and runs them on onnxruntime.

    python test/onnx/make_models.py OUTDIR

For every model NAME it writes OUTDIR/NAME.onnx and OUTDIR/NAME.json with the test
inputs (ONNX layout, values p/255 so that the runtime's u8 input path can hold them
exactly) and onnxruntime's outputs for them. Float models are built with onnx.helper;
int8 QDQ models are made from float ones by onnxruntime.quantization.quantize_static
(the usual producer of QDQ models), per-channel symmetric int8 weights, int8 or uint8
activations. Everything is seeded: the same files every run.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(1234)
SAMPLES = 8


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def w(*shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) * (scale or np.sqrt(2.0 / fan_in))).astype(np.float32)


def bn(prefix, c):
    return [
        init(prefix + "_s", rng.uniform(0.5, 1.5, c)), init(prefix + "_b", rng.uniform(-0.2, 0.2, c)),
        init(prefix + "_m", rng.uniform(-0.3, 0.3, c)), init(prefix + "_v", rng.uniform(0.5, 2.0, c)),
    ]


def pixels(shape, n=SAMPLES):
    """Inputs on the p/255 grid (what a u8 image maps to with inputRange [0, 1])."""
    return [(rng.integers(0, 256, size=shape) / 255.0).astype(np.float32) for _ in range(n)]


def model(name, nodes, inp, out, inits, opset=13):
    g = helper.make_graph(nodes, name, [inp], [out], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="tinytrain-test")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def save(name, m, inputs, extra=None, optimize=True):
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(m, path)
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    outputs = [sess.run(None, {iname: x[None]})[0] for x in inputs]
    info = {
        "inputs": [x.ravel().tolist() for x in inputs],
        "inputDims": [1, *inputs[0].shape],
        "outputs": [y.ravel().tolist() for y in outputs],
        "outputDims": list(outputs[0].shape),
    }
    info.update(extra or {})
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(info, f)
    return path


F = TensorProto.FLOAT
V = helper.make_tensor_value_info

# --- mlp: Gemm (transB), Relu, Gemm (alpha/beta, no transB), Softmax ------------------------
save("mlp", model("mlp", [
    helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
    helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
    helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"], alpha=0.5, beta=2.0, name="fc2"),
    helper.make_node("Softmax", ["logits"], ["probs"], axis=1, name="softmax"),
], V("x", F, [1, 20]), V("probs", F, [1, 10]),
    [init("w1", w(16, 20)), init("b1", w(16, scale=0.1)), init("w2", w(16, 10)), init("b2", w(10, scale=0.1))]), pixels((20,)))

# --- cnn: Conv+BN+Relu, depthwise Conv + Clip(0,6), 1x1 Conv, residual Add + Relu, AveragePool,
#     Flatten of a 3x3x8 map (weight columns permuted), Gemm, LogSoftmax. 3 input channels.
save("cnn", model("cnn", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
    helper.make_node("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["bn1"], epsilon=1e-3, name="bn1"),
    helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
    helper.make_node("Conv", ["r1", "dw_w", "dw_b"], ["dw"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8, name="dw"),
    helper.make_node("Clip", ["dw", "zero", "six"], ["dw6"], name="relu6"),
    helper.make_node("Conv", ["dw6", "pw_w", "pw_b"], ["pw"], kernel_shape=[1, 1], name="pw"),
    helper.make_node("Add", ["r1", "pw"], ["res"], name="residual"),
    helper.make_node("Relu", ["res"], ["resr"], name="res_relu"),
    helper.make_node("AveragePool", ["resr"], ["pool"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
    helper.make_node("Flatten", ["pool"], ["flat"], axis=1, name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
    helper.make_node("LogSoftmax", ["logits"], ["out"], axis=-1, name="logsoftmax"),
], V("x", F, [1, 3, 12, 12]), V("out", F, [1, 10]),
    [init("c1_w", w(8, 3, 3, 3)), init("c1_b", w(8, scale=0.1)), *bn("bn1", 8),
     init("dw_w", w(8, 1, 3, 3)), init("dw_b", w(8, scale=0.1)), init("zero", 0.0), init("six", 6.0),
     init("pw_w", w(8, 8, 1, 1)), init("pw_b", w(8, scale=0.1)), init("fc_w", w(10, 72)), init("fc_b", w(10, scale=0.1))]),
    pixels((3, 12, 12)))

# --- viewnet: torch-style x.view(x.size(0), -1) (Shape/Gather/Unsqueeze/Concat/Reshape), MatMul + Add
#     bias, Dropout and Identity, GlobalAveragePool, Clip as ReLU (min only), standalone BatchNormalization
#     on the input (becomes a 1x1 depthwise conv), Add of a per-channel constant, SAME_UPPER padding.
save("viewnet", model("viewnet", [
    helper.make_node("BatchNormalization", ["x", "bn0_s", "bn0_b", "bn0_m", "bn0_v"], ["xn"], name="input_norm"),
    helper.make_node("Conv", ["xn", "c1_w"], ["c1"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", name="conv1"),
    helper.make_node("Add", ["c1", "c1_shift"], ["c1s"], name="shift"),
    helper.make_node("Clip", ["c1s", "zero"], ["r1"], name="clip_relu"),
    helper.make_node("Dropout", ["r1"], ["d1"], name="dropout"),
    helper.make_node("Conv", ["d1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], name="conv2"),
    helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
    helper.make_node("Identity", ["r2"], ["i2"], name="identity"),
    helper.make_node("Shape", ["i2"], ["shape"], name="shape"),
    helper.make_node("Gather", ["shape", "idx0"], ["batch"], axis=0, name="gather"),
    helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
    helper.make_node("Concat", ["batch1", "minus1"], ["newshape"], axis=0, name="concat"),
    helper.make_node("Reshape", ["i2", "newshape"], ["flat"], name="view"),
    helper.make_node("MatMul", ["flat", "fc_w"], ["mm"], name="fc"),
    helper.make_node("Add", ["mm", "fc_b"], ["logits"], name="fc_bias"),
], V("x", F, [1, 2, 10, 10]), V("logits", F, [1, 6]),
    [*bn("bn0", 2), init("c1_w", w(6, 2, 3, 3)), init("c1_shift", w(1, 6, 1, 1, scale=0.2)), init("zero", 0.0),
     init("c2_w", w(12, 6, 3, 3)), init("c2_b", w(12, scale=0.1)),
     numpy_helper.from_array(np.array(0, dtype=np.int64), "idx0"), numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
     numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1"),
     init("fc_w", w(12 * 4 * 4, 6)), init("fc_b", w(6, scale=0.1))]),
    pixels((2, 10, 10)))

# --- gapnet (opset 11): Clip-11 ReLU6 as inputs, GlobalAveragePool, Reshape to [1, -1], Gemm,
#     Softmax-11 (2-D coercion semantics).
save("gapnet", model("gapnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[2, 2], name="conv1"),
    helper.make_node("Clip", ["c1", "zero", "six"], ["r1"], name="relu6"),
    helper.make_node("GlobalAveragePool", ["r1"], ["gap"], name="gap"),
    helper.make_node("Reshape", ["gap", "shape"], ["flat"], name="reshape"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax"),
], V("x", F, [1, 1, 16, 16]), V("probs", F, [1, 5]),
    [init("c1_w", w(10, 1, 5, 5)), init("c1_b", w(10, scale=0.1)), init("zero", 0.0), init("six", 6.0),
     numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape"), init("fc_w", w(5, 10)), init("fc_b", w(5, scale=0.1))],
    opset=11), pixels((1, 16, 16)))


# --- int8 QDQ models, quantised by onnxruntime from a float classifier --------------------------
def classifier():
    return model("qnet", [
        helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "dw_w", "dw_b"], ["dw"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8, name="dw"),
        helper.make_node("Relu", ["dw"], ["dwr"], name="relu_dw"),
        helper.make_node("Conv", ["dwr", "pw_w", "pw_b"], ["pw"], kernel_shape=[1, 1], name="pw"),
        helper.make_node("Add", ["r1", "pw"], ["res"], name="residual"),
        helper.make_node("AveragePool", ["res"], ["pool"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Conv", ["pool", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
    ], V("x", F, [1, 1, 16, 16]), V("logits", F, [1, 10]),
        [init("c1_w", w(8, 1, 3, 3)), init("c1_b", w(8, scale=0.1)), init("dw_w", w(8, 1, 3, 3)), init("dw_b", w(8, scale=0.1)),
         init("pw_w", w(8, 8, 1, 1)), init("pw_b", w(8, scale=0.1)), init("c2_w", w(16, 8, 3, 3)), init("c2_b", w(16, scale=0.1)),
         init("fc_w", w(10, 16)), init("fc_b", w(10, scale=0.1))])


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"x": x[None]} for x in xs])

    def get_next(self):
        return next(self.it, None)


float_path = save("qnet_float", classifier(), pixels((1, 16, 16)))
calib = pixels((1, 16, 16), 64)
for act, tag in [(QuantType.QInt8, "s8"), (QuantType.QUInt8, "u8")]:
    out = os.path.join(OUT, f"qnet_{tag}.onnx")
    quantize_static(float_path, out, Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=act, weight_type=QuantType.QInt8)
    save(f"qnet_{tag}", onnx.load(out), pixels((1, 16, 16)))

# --- poolnet: MaxPool without padding (11x9 -> 5x4), with auto_pad SAME_UPPER (3x3 stride 2:
#     asymmetric along the width), with explicit pads that come to SAME_UPPER (2x2 stride 1,
#     [0, 0, 1, 1]), the unused Indices output of a MaxPool-12 left out. Last, so the random
#     draws of the models above are unchanged.
save("poolnet", model("poolnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
    helper.make_node("Conv", ["p1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
    helper.make_node("MaxPool", ["c2"], ["p2"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", name="pool2"),
    helper.make_node("MaxPool", ["p2"], ["p3"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], name="pool3"),
    helper.make_node("Flatten", ["p3"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 11, 9]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)),
     init("fc_w", w(5, 8 * 3 * 2)), init("fc_b", w(5, scale=0.1))]), pixels((2, 11, 9)))
# --- actnet: the table activations. Sigmoid, HardSigmoid (alpha 0.25, beta 0.4), HardSwish,
#     LeakyRelu (alpha 0.1), and SiLU written out as PyTorch exports nn.SiLU, Mul(x, Sigmoid(x)),
#     once in each operand order. Opset 14 (HardSwish). After poolnet: earlier draws unchanged.
save("actnet", model("actnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1, name="leaky1"),
    helper.make_node("Conv", ["a1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="conv2"),
    helper.make_node("HardSwish", ["c2"], ["a2"], name="hswish2"),
    helper.make_node("Conv", ["a2", "c3_w", "c3_b"], ["c3"], kernel_shape=[1, 1], name="conv3"),
    helper.make_node("Sigmoid", ["c3"], ["s3"], name="sig3"),
    helper.make_node("Mul", ["c3", "s3"], ["a3"], name="silu3"),
    helper.make_node("Conv", ["a3", "c4_w", "c4_b"], ["c4"], kernel_shape=[1, 1], name="conv4"),
    helper.make_node("Sigmoid", ["c4"], ["s4"], name="sig4"),
    helper.make_node("Mul", ["s4", "c4"], ["a4"], name="silu4"),
    helper.make_node("HardSigmoid", ["a4"], ["a5"], alpha=0.25, beta=0.4, name="hsig5"),
    helper.make_node("Flatten", ["a5"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["h"], transB=1, name="fc1"),
    helper.make_node("Sigmoid", ["h"], ["hs"], name="sig_fc1"),
    helper.make_node("Gemm", ["hs", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 8, 8]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)),
     init("c3_w", w(8, 8, 1, 1)), init("c3_b", w(8, scale=0.1)), init("c4_w", w(8, 8, 1, 1)), init("c4_b", w(8, scale=0.1)),
     init("fc1_w", w(16, 8 * 4 * 4)), init("fc1_b", w(16, scale=0.1)), init("fc_w", w(5, 16)), init("fc_b", w(5, scale=0.1))], opset=14), pixels((2, 8, 8)))
# --- padnet: per-side padding. Conv 3x3 stride 2 with pads [0, 0, 1, 1] (what TFLite's SAME
#     pads on an even size: 12 -> 6), AveragePool 3x3 pads 1 count_include_pad 0 (edge
#     windows divide by the inputs they hold), Conv 3x3 stride 2 auto_pad SAME_UPPER (6 -> 3,
#     [0, 0, 1, 1]), AveragePool 2x2 pads [0, 0, 1, 1] count_include_pad 1, MaxPool 3x3
#     stride 2 pads [1, 0, 1, 1] (3x3 -> 2x1), MaxPool 2x2 auto_pad SAME_LOWER (the larger
#     half before). After actnet: earlier draws unchanged.
save("padnet", model("padnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("AveragePool", ["r1"], ["a1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="avg1"),
    helper.make_node("Conv", ["a1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", name="conv2"),
    helper.make_node("AveragePool", ["c2"], ["a2"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1, name="avg2"),
    helper.make_node("MaxPool", ["a2"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], name="pool1"),
    helper.make_node("MaxPool", ["p1"], ["p2"], kernel_shape=[2, 2], auto_pad="SAME_LOWER", name="pool2"),
    helper.make_node("Flatten", ["p2"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 12, 12]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)),
     init("fc_w", w(5, 8 * 2 * 1)), init("fc_b", w(5, scale=0.1))]), pixels((2, 12, 12)))
# --- padopnet: Pad ops folded into what reads them. Pad-13 (pads and constant_value as
#     inputs) of 0 on H/W after a ReLU before a MaxPool (0 is never above a ReLU's window),
#     of 0 before a Conv, of 0 (value omitted) before an AveragePool, whose padded zeros then
#     count (count_include_pad). After padnet: earlier draws unchanged. Run with onnxruntime's
#     graph optimisations off: its PadFusion folds pad3 into avg3 and then divides the
#     bottom-right window by 2 where the padded tensor's window holds 4 values (the
#     unfused graph, the ONNX definition, divides by 4).
def ints(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.int64), name)


save("padopnet", model("padopnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("Pad", ["r1", "pads1", "zero"], ["q1"], name="pad1"),
    helper.make_node("MaxPool", ["q1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], name="pool1"),
    helper.make_node("Pad", ["p1", "pads2", "zero"], ["q2"], name="pad2"),
    helper.make_node("Conv", ["q2", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], name="conv2"),
    helper.make_node("Pad", ["c2", "pads3"], ["q3"], name="pad3"),
    helper.make_node("AveragePool", ["q3"], ["a3"], kernel_shape=[2, 2], strides=[2, 2], name="avg3"),
    helper.make_node("Flatten", ["a3"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 11, 11]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)),
     ints("pads1", [0, 0, 1, 1, 0, 0, 1, 0]), ints("pads2", [0, 0, 1, 1, 0, 0, 1, 1]), ints("pads3", [0, 0, 0, 0, 0, 0, 1, 1]),
     init("zero", np.float32(0)), init("fc_w", w(5, 8 * 3 * 2)), init("fc_b", w(5, scale=0.1))]), pixels((2, 11, 11)), optimize=False)
# --- mulcatnet: Mul and Concat of activations and the constant arithmetic around them.
#     Squeeze-excitation c2 * HardSigmoid(Conv(GlobalAveragePool(c2))) (PyTorch's Hardsigmoid
#     coefficients), a Fire module Concat([e1, e3 - k], axis 1) with Sub of a per-channel
#     constant (folds into e3), Mul by a scalar then Div by a scalar (a 1x1 depthwise conv,
#     the Div folded into it), HardSwish written out as x * HardSigmoid(x) (one hardswish
#     layer), and x * x. After padopnet: earlier draws unchanged.
save("mulcatnet", model("mulcatnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("Conv", ["r1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="conv2"),
    helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
    helper.make_node("Conv", ["g", "se_w", "se_b"], ["se"], kernel_shape=[1, 1], name="se_conv"),
    helper.make_node("HardSigmoid", ["se"], ["gate"], alpha=1.0 / 6, beta=0.5, name="gate"),
    helper.make_node("Mul", ["gate", "c2"], ["sc"], name="excite"),
    helper.make_node("Conv", ["sc", "e1_w", "e1_b"], ["e1"], kernel_shape=[1, 1], name="expand1"),
    helper.make_node("Conv", ["sc", "e3_w", "e3_b"], ["e3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="expand3"),
    helper.make_node("Sub", ["e3", "k3"], ["e3s"], name="shift3"),
    helper.make_node("Concat", ["e1", "e3s"], ["cat"], axis=1, name="fire"),
    helper.make_node("Mul", ["cat", "half"], ["m"], name="scale"),
    helper.make_node("Div", ["m", "two"], ["d"], name="halve"),
    helper.make_node("HardSigmoid", ["d"], ["hs"], alpha=1.0 / 6, beta=0.5, name="hsig"),
    helper.make_node("Mul", ["d", "hs"], ["hw"], name="hswish"),
    helper.make_node("Mul", ["hw", "hw"], ["sq"], name="square"),
    helper.make_node("Flatten", ["sq"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 8, 8]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)),
     init("se_w", w(8, 8, 1, 1)), init("se_b", w(8, scale=0.1)), init("e1_w", w(4, 8, 1, 1)), init("e1_b", w(4, scale=0.1)),
     init("e3_w", w(4, 8, 3, 3)), init("e3_b", w(4, scale=0.1)), init("k3", w(4, 1, 1, scale=0.2)),
     init("half", np.array(0.5, dtype=np.float32)), init("two", np.array(2.0, dtype=np.float32)),
     init("fc_w", w(5, 8 * 4 * 4)), init("fc_b", w(5, scale=0.1))]), pixels((2, 8, 8)))
# --- prelunet: PRelu with the slopes PyTorch exports. nn.PReLU(6) after conv1 (slope [6, 1, 1]),
#     nn.PReLU() after conv2 (one slope, [1]), a per-channel slope [1, 8, 1, 1] with a negative
#     one after conv3. After mulcatnet: earlier draws unchanged.
save("prelunet", model("prelunet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    helper.make_node("PRelu", ["c1", "a1"], ["p1"], name="prelu1"),
    helper.make_node("Conv", ["p1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="conv2"),
    helper.make_node("PRelu", ["c2", "a2"], ["p2"], name="prelu2"),
    helper.make_node("Conv", ["p2", "c3_w", "c3_b"], ["c3"], kernel_shape=[1, 1], name="conv3"),
    helper.make_node("PRelu", ["c3", "a3"], ["p3"], name="prelu3"),
    helper.make_node("Flatten", ["p3"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 2, 8, 8]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 2, 3, 3)), init("c1_b", w(6, scale=0.1)), init("a1", rng.uniform(0.0, 0.5, (6, 1, 1))),
     init("c2_w", w(8, 6, 3, 3)), init("c2_b", w(8, scale=0.1)), init("a2", np.array([0.25])),
     init("c3_w", w(8, 8, 1, 1)), init("c3_b", w(8, scale=0.1)), init("a3", rng.uniform(-0.3, 0.6, (1, 8, 1, 1))),
     init("fc_w", w(5, 8 * 4 * 4)), init("fc_b", w(5, scale=0.1))]), pixels((2, 8, 8)))
# --- seqnet: a 1-D model on a [1, 3, 40] sequence (an accelerometer window), as PyTorch exports
#     Conv1d/MaxPool1d/AvgPool1d: Conv k5 pads [2, 2] + Relu, MaxPool k3 s3 (40 -> 13), Conv k3
#     stride 2 pads [1, 0] (13 -> 6), AveragePool k2 pads [0, 1] count_include_pad 0 (the last
#     window divides by 1), MaxPool k3 s2 auto_pad SAME_UPPER (6 -> 3, padded after), Flatten
#     (C-major over L), Gemm. tinytrain runs it as maps of one row. After prelunet: earlier
#     draws unchanged.
save("seqnet", model("seqnet", [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], kernel_shape=[5], pads=[2, 2], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3], strides=[3], name="pool1"),
    helper.make_node("Conv", ["p1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3], strides=[2], pads=[1, 0], name="conv2"),
    helper.make_node("AveragePool", ["c2"], ["a2"], kernel_shape=[2], pads=[0, 1], name="avg2"),
    helper.make_node("MaxPool", ["a2"], ["p3"], kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER", name="pool3"),
    helper.make_node("Flatten", ["p3"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
], V("x", F, [1, 3, 40]), V("logits", F, [1, 5]),
    [init("c1_w", w(6, 3, 5)), init("c1_b", w(6, scale=0.1)), init("c2_w", w(8, 6, 3)), init("c2_b", w(8, scale=0.1)),
     init("fc_w", w(5, 8 * 3)), init("fc_b", w(5, scale=0.1))]), pixels((3, 40)))
print("ok")
