"""attention: F.scaled_dot_product_attention(q, k, v) (default scale 1/sqrt(D)), Tq != Tk too;
causal cases use is_causal=True (top-left aligned: query i sees keys 0..i, also when Tq != Tk)."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("attention")
    sdpa = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)
    f.case("cross", sdpa,
           {"q": randn(2, 3, 5, 8, seed=1), "k": randn(2, 3, 7, 8, seed=2), "v": randn(2, 3, 7, 8, seed=3)})
    f.case("self", sdpa,
           {"q": randn(1, 2, 9, 4, seed=4), "k": randn(1, 2, 9, 4, seed=5), "v": randn(1, 2, 9, 4, seed=6)})
    f.case("scaled", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.7),
           {"q": randn(1, 1, 6, 5, seed=7), "k": randn(1, 1, 11, 5, seed=8), "v": randn(1, 1, 11, 5, seed=9)},
           {"scale": 0.7})
    causal = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    f.case("causal_self", causal,
           {"q": randn(2, 2, 11, 4, seed=10), "k": randn(2, 2, 11, 4, seed=11), "v": randn(2, 2, 11, 4, seed=12)},
           {"causal": True})
    f.case("causal_wide", causal,
           {"q": randn(1, 2, 5, 3, seed=13), "k": randn(1, 2, 8, 3, seed=14), "v": randn(1, 2, 8, 3, seed=15)},
           {"causal": True})
    f.case("causal_tall", causal,
           {"q": randn(1, 1, 9, 6, seed=16), "k": randn(1, 1, 4, 6, seed=17), "v": randn(1, 1, 4, 6, seed=18)},
           {"causal": True})
    f.write()
