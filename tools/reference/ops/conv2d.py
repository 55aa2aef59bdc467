"""conv2d: F.conv2d(x, weight, bias, stride, padding) on odd shapes (groups = 1).

Covers 1x1, 3x3 (stride 1/2, padding 0/1), 4x4 stride 4 (patch-embed-like), with and without bias,
and a stride-2 case on odd H/W so the last input row/column is never read.
"""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("conv2d")
    cases = [
        # name, (B, C, H, W), (O, kh, kw), stride, padding, bias
        ("k1_s1_p0", (2, 3, 7, 9), (5, 1, 1), 1, 0, True),
        ("k3_s1_p1", (2, 3, 7, 9), (5, 3, 3), 1, 1, True),
        ("k3_s2_p1", (2, 3, 7, 9), (5, 3, 3), 2, 1, True),
        ("k4_s4_p0", (2, 3, 8, 12), (5, 4, 4), 4, 0, True),
        ("k3_s1_p0_nobias", (2, 3, 7, 9), (5, 3, 3), 1, 0, False),
        ("k3_s2_p0_droprow", (2, 3, 10, 9), (5, 3, 3), 2, 0, True),
        ("k4_s4_p0_ragged", (1, 4, 10, 11), (6, 4, 4), 4, 0, True),
    ]
    for i, (name, xs, (o, kh, kw), stride, padding, bias) in enumerate(cases):
        c = xs[1]
        inputs = {"x": randn(*xs, seed=10 * i + 1),
                  "weight": randn(o, c, kh, kw, seed=10 * i + 2, scale=0.3)}
        if bias:
            inputs["bias"] = randn(o, seed=10 * i + 3)
            fn = lambda x, weight, bias, s=stride, p=padding: F.conv2d(x, weight, bias, s, p)
        else:
            fn = lambda x, weight, s=stride, p=padding: F.conv2d(x, weight, None, s, p)
        f.case(name, fn, inputs, options={"stride": stride, "padding": padding}, seed=i)
    f.write()
