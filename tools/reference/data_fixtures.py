"""Writes the data-pipeline fixtures for Tests/TrainerTests (run: /work/venv/bin/python tools/reference/data_fixtures.py).

Files written to Tests/TrainerTests/Fixtures/:
* `buckets.json`: aspect-ratio bucket lists and bucket assignments following kohya-ss sd-scripts
  (library/model_util.py `make_bucket_resolutions`, library/train_util.py `BucketManager.select_bucket`),
  re-derived here from the rule:
    - square side s = floor(sqrt(area) / step) * step is always a bucket;
    - for w = min_side, min_side + step, ... <= max_side: h = min(max_side, floor(floor(area / w) / step) * step);
      if h >= min_side, (w, h) and (h, w) are buckets;
    - buckets sorted by (width, height);
    - an image whose exact size is a bucket takes it; otherwise the first bucket (in sorted order) with the
      smallest |w/h - W/H|; the image is scaled to cover it (match height when the image is relatively
      wider, else width) and the resized size is int(W * scale + 0.5), int(H * scale + 0.5).
* `rgb.jpg`, `gray.jpg`, `cmyk.jpg`: small JPEGs written by Pillow, with `jpeg.json` holding Pillow's
  own decode (hex RGB8) so the Swift decoder (libjpeg-turbo) is compared against it with a tolerance.
* `gnu_longname.tar` (GNU format, a member name > 100 bytes stored via ././@LongLink) and `pax.tar`
  (PAX format, a long non-ASCII name stored in a `path=` record), written by Python's tarfile; the
  members and their contents are listed in `tars.json`.
"""
import io
import json
import math
import os
import tarfile

from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "TrainerTests", "Fixtures")


def bucket_list(area, min_side, max_side, step):
    out = {(int(math.sqrt(area) // step) * step,) * 2}
    w = min_side
    while w <= max_side:
        h = min(max_side, ((area // w) // step) * step)
        if h >= min_side:
            out.add((w, h))
            out.add((h, w))
        w += step
    return sorted(out)


def assign(buckets, width, height):
    if (width, height) in buckets:
        bucket = (width, height)
    else:
        ar = width / height
        errors = [abs(bw / bh - ar) for bw, bh in buckets]
        bucket = buckets[errors.index(min(errors))]  # first minimum, like numpy argmin
    if width / height > bucket[0] / bucket[1]:
        scale = bucket[1] / height
    else:
        scale = bucket[0] / width
    return bucket, (int(width * scale + 0.5), int(height * scale + 0.5))


def write_buckets():
    configs = [
        dict(area=1024 * 1024, min_side=256, max_side=2048, step=64),
        dict(area=1024 * 1024, min_side=512, max_side=1536, step=64),
        dict(area=512 * 768, min_side=256, max_side=1024, step=64),
        dict(area=768 * 768, min_side=320, max_side=1280, step=32),
    ]
    sizes = [(1024, 1024), (1920, 1080), (1080, 1920), (640, 480), (3000, 2000), (333, 777),
             (4000, 500), (500, 4000), (1216, 832), (1000, 1001), (2048, 1536), (97, 61), (1, 1)]
    cases = []
    for cfg in configs:
        buckets = bucket_list(**cfg)
        cases.append(dict(config=cfg, buckets=[list(b) for b in buckets],
                          assignments=[dict(image=[w, h], bucket=list(b), resized=list(r))
                                       for (w, h) in sizes for (b, r) in [assign(buckets, w, h)]]))
    with open(os.path.join(OUT, "buckets.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("buckets:", [len(c["buckets"]) for c in cases])


def gradient(w, h):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x + y) * 7) % 256)
                 for y in range(h) for x in range(w)])
    return img


def write_jpegs():
    expected = {}
    images = {
        "rgb.jpg": gradient(37, 23),
        "gray.jpg": gradient(16, 12).convert("L"),
        "cmyk.jpg": gradient(9, 8).convert("CMYK"),
    }
    for name, img in images.items():
        path = os.path.join(OUT, name)
        img.save(path, quality=95)
        decoded = Image.open(path).convert("RGB")
        expected[name] = dict(width=decoded.width, height=decoded.height, rgb=decoded.tobytes().hex())
    with open(os.path.join(OUT, "jpeg.json"), "w") as f:
        json.dump(expected, f, indent=1)


def write_tars():
    long_dir = "very/" + "long_directory_name/" * 6
    members = {
        "gnu_longname.tar": (tarfile.GNU_FORMAT, [
            (long_dir + "sample_0001.txt", b"1girl, solo"),
            (long_dir + "sample_0001.json", b'{"tags": ["smile"]}'),
            ("short/b.txt", b"hello"),
        ]),
        "pax.tar": (tarfile.PAX_FORMAT, [
            ("pax/" + "\u00fcnicode_\u540d\u524d_" * 8 + ".txt", b"pax caption"),
            ("pax/plain.txt", b"plain"),
        ]),
    }
    listing = {}
    for name, (fmt, entries) in members.items():
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            d = tarfile.TarInfo("dir_entry")
            d.type = tarfile.DIRTYPE
            tar.addfile(d)
            for path, data in entries:
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mtime = 1700000000
                tar.addfile(info, io.BytesIO(data))
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(buf.getvalue())
        listing[name] = [dict(path=p, data=d.decode()) for p, d in entries]
    with open(os.path.join(OUT, "tars.json"), "w") as f:
        json.dump(listing, f, indent=1, ensure_ascii=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_buckets()
    write_jpegs()
    write_tars()


if __name__ == "__main__":
    main()
