"""Writes the PNG fixtures for Tests/ImagingTests (run: /work/venv/bin/python tools/reference/png_fixtures.py).

Two kinds of files go to Tests/ImagingTests/Fixtures/:
* `*.png` written by a small stdlib-only encoder below (zlib + struct), so every colour type, bit
  depth, tRNS form, filter type, Adam7 interlacing and text-chunk type is covered exactly;
* `pil_*.png` written by Pillow (if installed; tested with Pillow 13.0.0), as real-world files.

`expected.json` maps each file to {"width", "height", "rgb": hex RGB8 row-major, "text": {key: value}}.
The expected RGB8 follows the contract in Sources/Imaging/PNG.swift, computed here from the source
samples (never from a decoder): samples are widened to 16 bits (8-bit v -> v * 257; 1/2/4-bit gray
scaled to 8 bits first, as libpng does: v * 255, v * 85, v * 17), then
    out = round(c16 * a16 / (65535 * 257))
with a16 = 65535 for opaque pixels, i.e. alpha composited on black, 16-bit rounded as v / 257.
When Pillow is available every file is also decoded with Pillow as a cross-check (exact for 8-bit
files; within 2 for 16-bit ones, where Pillow truncates colour and alpha to their high bytes).
"""
import json
import os
import random
import struct
import zlib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "ImagingTests", "Fixtures")

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """Packs one row of samples (ints) at `depth` bits, MSB first, padded to a byte."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, nbits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        nbits += depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    """Applies PNG filter `kind` (0-4) so libpng's unfiltering is exercised too."""
    out = bytearray([kind])
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev else 0
        c = prev[i - bpp] if prev and i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((x - pred) & 0xFF)
    return bytes(out)


def encode_rows(pixels, width, height, channels, depth):
    """Filtered scanlines of a (sub)image; pixels[y][x] is a tuple of `channels` samples."""
    bpp = max(1, channels * depth // 8)
    data, prev = bytearray(), None
    for y in range(height):
        row = pack_row([s for x in range(width) for s in pixels[y][x]], depth)
        data += filter_row((y * 3 + width) % 5, row, prev, bpp)
        prev = row
    return bytes(data)


def write_png(name, pixels, color_type, depth, palette=None, trns=None, interlace=False,
              texts_before=(), texts_after=()):
    """pixels: rows of sample tuples. texts_*: (chunk type, key, value) with type tEXt/zTXt/iTXt/iTXtz."""
    height, width = len(pixels), len(pixels[0])
    channels = CHANNELS[color_type]
    if interlace:
        raw = bytearray()
        for x0, y0, dx, dy in ADAM7:
            sub = [row[x0::dx] for row in pixels[y0::dy]]
            if sub and sub[0]:
                raw += encode_rows(sub, len(sub[0]), len(sub), channels, depth)
    else:
        raw = encode_rows(pixels, width, height, channels, depth)
    png = SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        png += chunk(b"PLTE", b"".join(bytes(p) for p in palette))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    png += b"".join(text_chunk(*t) for t in texts_before)
    idat = zlib.compress(bytes(raw), 9)
    # Two IDAT chunks, so chunk boundaries inside the zlib stream are covered.
    png += chunk(b"IDAT", idat[: len(idat) // 2]) + chunk(b"IDAT", idat[len(idat) // 2:])
    png += b"".join(text_chunk(*t) for t in texts_after)
    png += chunk(b"IEND", b"")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(png)


def text_chunk(kind, key, value):
    k = key.encode("latin-1")
    if kind == "tEXt":
        return chunk(b"tEXt", k + b"\0" + value.encode("latin-1"))
    if kind == "zTXt":
        return chunk(b"zTXt", k + b"\0\0" + zlib.compress(value.encode("latin-1")))
    compressed = kind == "iTXtz"
    body = value.encode("utf-8")
    if compressed:
        body = zlib.compress(body)
    return chunk(b"iTXt", k + b"\0" + bytes([int(compressed), 0]) + b"en\0" + key.encode("utf-8") + b"\0" + body)


# --- expected values (the decoding contract) ---

def widen(v, depth):
    """A sample at `depth` bits as 16 bits, the way libpng's expand + expand_16 does it."""
    if depth == 16:
        return v
    v8 = v * {1: 255, 2: 85, 4: 17, 8: 1}[depth]
    return v8 * 257


def to_rgb8(c16, a16):
    d = 65535 * 257
    return (c16 * a16 + d // 2) // d


def expected_rgb(pixels, color_type, depth, palette=None, trns=None):
    out = bytearray()
    for row in pixels:
        for px in row:
            if color_type == 3:
                r, g, b = (c * 257 for c in palette[px[0]])
                a = (trns[px[0]] * 257) if trns is not None and px[0] < len(trns) else 65535
            elif color_type in (0, 4):
                r = g = b = widen(px[0], depth)
                a = widen(px[1], depth) if color_type == 4 else 65535
                if color_type == 0 and trns is not None and px[0] == struct.unpack(">H", trns)[0]:
                    a = 0
            else:
                r, g, b = (widen(s, depth) for s in px[:3])
                a = widen(px[3], depth) if color_type == 6 else 65535
                if color_type == 2 and trns is not None and tuple(px) == struct.unpack(">HHH", trns):
                    a = 0
            out += bytes(to_rgb8(c, a) for c in (r, g, b))
    return out


def random_pixels(rng, width, height, channels, depth, alpha_extremes=False):
    top = (1 << depth) - 1
    rows = []
    for _ in range(height):
        row = []
        for _ in range(width):
            px = [rng.randint(0, top) for _ in range(channels)]
            if alpha_extremes and channels in (2, 4):
                px[-1] = rng.choice([0, top, rng.randint(0, top)])
            row.append(tuple(px))
        rows.append(row)
    return rows


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(1234)
    expected = {}

    def add(name, pixels, color_type, depth, palette=None, trns=None, interlace=False,
            texts_before=(), texts_after=()):
        write_png(name, pixels, color_type, depth, palette, trns, interlace, texts_before, texts_after)
        text = {}
        for _, k, v in list(texts_before) + list(texts_after):
            text[k] = v
        expected[name] = {"width": len(pixels[0]), "height": len(pixels),
                          "rgb": expected_rgb(pixels, color_type, depth, palette, trns).hex(), "text": text}

    w, h = 9, 5  # 9 is not a multiple of 8: sub-byte rows end with padding bits
    for depth in (1, 2, 4, 8, 16):
        add(f"gray{depth}.png", random_pixels(rng, w, h, 1, depth), 0, depth)
    add("gray8_trns.png", [[(v,) for v in row] for row in
                           [[rng.choice([0, 77, 200]) for _ in range(w)] for _ in range(h)]], 0, 8,
        trns=struct.pack(">H", 77))
    add("gray2_trns.png", random_pixels(rng, w, h, 1, 2), 0, 2, trns=struct.pack(">H", 1))
    for depth in (8, 16):
        add(f"graya{depth}.png", random_pixels(rng, w, h, 2, depth, alpha_extremes=True), 4, depth)
        add(f"rgb{depth}.png", random_pixels(rng, w, h, 3, depth), 2, depth)
        add(f"rgba{depth}.png", random_pixels(rng, w, h, 4, depth, alpha_extremes=True), 6, depth)
    key = (10, 20, 30)
    rgb_trns = [[key if rng.random() < 0.3 else tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(w)]
                for _ in range(h)]
    add("rgb8_trns.png", rgb_trns, 2, 8, trns=struct.pack(">HHH", *key))
    for depth in (1, 2, 4, 8):
        n = min(1 << depth, 37)
        palette = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(n)]
        add(f"palette{depth}.png", random_pixels(rng, w, h, 1, depth) if n == 1 << depth else
            [[(rng.randrange(n),) for _ in range(w)] for _ in range(h)], 3, depth, palette=palette)
    palette = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(12)]
    trns = bytes([0, 128, 255, 3, 250])  # shorter than the palette: the rest are opaque
    add("palette8_trns.png", [[(rng.randrange(12),) for _ in range(w)] for _ in range(h)], 3, 8,
        palette=palette, trns=trns)

    # Adam7: 13x11 so every pass is non-empty; 3x2 where some passes are empty.
    add("rgb8_interlaced.png", random_pixels(rng, 13, 11, 3, 8), 2, 8, interlace=True)
    add("rgba16_interlaced.png", random_pixels(rng, 13, 11, 4, 16, alpha_extremes=True), 6, 16, interlace=True)
    add("gray1_interlaced.png", random_pixels(rng, 13, 11, 1, 1), 0, 1, interlace=True)
    pal4 = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(16)]
    add("palette4_interlaced.png", random_pixels(rng, 13, 11, 1, 4), 3, 4, palette=pal4, interlace=True)
    add("rgb8_interlaced_tiny.png", random_pixels(rng, 3, 2, 3, 8), 2, 8, interlace=True)
    add("rgb8_1x1.png", [[(1, 2, 3)]], 2, 8)

    # Every text chunk type, before and after IDAT, Latin-1 and UTF-8, a repeated key (last wins).
    add("text_chunks.png", random_pixels(rng, 4, 3, 3, 8), 2, 8,
        texts_before=[("tEXt", "parameters", "a caf\u00e9 at dusk\nSteps: 4, Seed: 42"),
                      ("zTXt", "Comment", "compressed Latin-1: \u00e6\u00f8\u00e5 " + "x" * 40),
                      ("iTXt", "sumi", json.dumps({"prompt": "\u732b \U0001F3A8 caf\u00e9", "seed": 7},
                                                  ensure_ascii=False)),
                      ("tEXt", "Repeated", "first")],
        texts_after=[("iTXtz", "Description", "compressed iTXt \u2014 \u00fcber \u6771\u4eac"),
                     ("tEXt", "Repeated", "second")])

    write_pil_fixtures(rng, expected)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    cross_check(expected)
    print(f"wrote {len(expected)} PNG fixtures to {OUT}")


def write_pil_fixtures(rng, expected):
    """Real-world files from Pillow: A1111-style metadata, palette with alpha, LA, 16-bit gray."""
    try:
        from PIL import Image, PngImagePlugin
    except ImportError:
        print("Pillow not installed: pil_*.png left as they are")
        return
    w, h = 7, 5

    def save(name, image, info=None, text=None, **kw):
        image.save(os.path.join(OUT, name), pnginfo=info, **kw)
        expected[name] = {"width": w, "height": h, "rgb": expected_bytes.hex(), "text": text or {}}

    rgb = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(w * h)]
    im = Image.new("RGB", (w, h))
    im.putdata(rgb)
    info = PngImagePlugin.PngInfo()
    parameters = ("a cat in a hat, masterpiece\nNegative prompt: blurry\n"
                  "Steps: 4, Sampler: Euler, CFG scale: 1.0, Seed: 42, Size: 7x5, Model: sdxl")
    sumi = json.dumps({"prompt": "\u732b\u3068\u5e3d\u5b50 \U0001F408", "seed": 42, "steps": 4}, ensure_ascii=False)
    info.add_text("parameters", parameters)
    info.add_itxt("sumi", sumi)
    expected_bytes = bytes(c for px in rgb for c in px)
    save("pil_rgb_parameters.png", im, info, {"parameters": parameters, "sumi": sumi})

    palette = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(6)]
    alphas = [0, 255, 100, 255, 30, 255]
    idx = [rng.randrange(6) for _ in range(w * h)]
    im = Image.new("P", (w, h))
    im.putpalette([c for p in palette for c in p])
    im.putdata(idx)
    im.info["transparency"] = bytes(alphas)
    expected_bytes = bytes(to_rgb8(c * 257, alphas[i] * 257) for i in idx for c in palette[i])
    save("pil_palette_alpha.png", im, transparency=bytes(alphas))

    la = [(rng.randint(0, 255), rng.choice([0, 255, rng.randint(0, 255)])) for _ in range(w * h)]
    im = Image.new("LA", (w, h))
    im.putdata(la)
    expected_bytes = bytes(to_rgb8(l * 257, a * 257) for l, a in la for _ in range(3))
    save("pil_la.png", im)

    rgba = [tuple(rng.randint(0, 255) for _ in range(4)) for _ in range(w * h)]
    im = Image.new("RGBA", (w, h))
    im.putdata(rgba)
    expected_bytes = bytes(to_rgb8(c * 257, p[3] * 257) for p in rgba for c in p[:3])
    save("pil_rgba.png", im)

    g16 = [rng.randint(0, 65535) for _ in range(w * h)]
    im = Image.new("I;16", (w, h))
    im.putdata(g16)
    expected_bytes = bytes(to_rgb8(v, 65535) for v in g16 for _ in range(3))
    save("pil_gray16.png", im)


def pixels_of(im):
    return im.get_flattened_data() if hasattr(im, "get_flattened_data") else im.getdata()


def cross_check(expected):
    """Decodes every fixture with Pillow and compares with the expected bytes."""
    try:
        from PIL import Image
    except ImportError:
        return
    for name, e in sorted(expected.items()):
        if name == "gray2_trns.png":
            continue  # Pillow compares a sub-8-bit tRNS key with the scaled sample; the spec says raw
        im = Image.open(os.path.join(OUT, name))
        im.load()
        sixteen = "16" in name
        if im.mode in ("I;16", "I;16B", "I"):
            px = [min(255, round(v / 257)) for v in pixels_of(im)]
            rgb = bytes(c for v in px for c in (v, v, v))
        else:
            rgba = im.convert("RGBA")
            rgb = bytes(to_rgb8(c * 257, p[3] * 257) for p in pixels_of(rgba) for c in p[:3])
        want = bytes.fromhex(e["rgb"])
        diff = max(abs(a - b) for a, b in zip(rgb, want))
        assert len(rgb) == len(want) and diff <= (2 if sixteen else 0), f"{name}: Pillow differs by {diff}"
        text = dict(getattr(im, "text", {}))
        assert text == e["text"], f"{name}: Pillow text {text} != {e['text']}"


if __name__ == "__main__":
    main()
