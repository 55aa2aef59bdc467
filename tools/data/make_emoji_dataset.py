#!/usr/bin/env python3
"""Builds the emoji text-to-image dataset (WebDataset tar shards) from Debian's Noto Color Emoji.

    python tools/data/make_emoji_dataset.py --out DIR --size 128 --shard-size 500

Writes DIR/emoji-000.tar ... (members <key>.png, <key>.txt, <key>.json), DIR/index.json
(key -> caption), DIR/manifest.json (sources, options, counts, skipped emoji, shard hashes) and
DIR/contact.png (the first samples in a grid, for eyeballing). Same inputs, same bytes.
See tools/data/README.md for the packages it reads.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
import time
from pathlib import Path

from PIL import Image

import emoji_catalog as catalog
from emoji_render import FONT_PATH, CoverageError, EmojiRenderer
from wds_writer import ShardWriter

BACKGROUNDS = {"white": (255, 255, 255), "gray": (128, 128, 128), "black": (0, 0, 0)}


def parse_background(s: str) -> tuple[int, int, int]:
    if s in BACKGROUNDS:
        return BACKGROUNDS[s]
    parts = [int(p) for p in s.split(",")]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise argparse.ArgumentTypeError(f"background {s!r}: a name ({', '.join(BACKGROUNDS)}) or R,G,B")
    return tuple(parts)  # type: ignore[return-value]


def debian_version(package: str) -> str:
    """Package version from its Debian changelog (no dpkg call, so it also works in a chroot copy)."""
    path = Path(f"/usr/share/doc/{package}/changelog.Debian.gz")
    if not path.exists():
        return "not installed"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        m = re.search(r"\(([^)]+)\)", f.readline())
    return m.group(1) if m else "?"


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def contact_sheet(images: list[Image.Image], thumb: int, columns: int) -> Image.Image:
    gap = 2
    rows = max(1, (len(images) + columns - 1) // columns)
    sheet = Image.new("RGB", (columns * (thumb + gap) + gap, rows * (thumb + gap) + gap), (190, 190, 190))
    for i, im in enumerate(images):
        t = im if im.width == thumb else im.resize((thumb, thumb), Image.Resampling.LANCZOS)
        sheet.paste(t, (gap + (i % columns) * (thumb + gap), gap + (i // columns) * (thumb + gap)))
    return sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="output directory (created; old outputs replaced)")
    ap.add_argument("--size", type=int, default=128, help="image side in pixels (default 128 = the font's native scale)")
    ap.add_argument("--shard-size", type=int, default=500, help="samples per tar shard (default 500)")
    ap.add_argument("--margin", type=int, default=0,
                    help="extra native pixels of background around the 128 px art frame before resizing (default 0)")
    ap.add_argument("--background", type=parse_background, default=(255, 255, 255),
                    help="white (default), gray, black or R,G,B")
    ap.add_argument("--singles-only", action="store_true", help="only single code point emoji (no ZWJ, flags, keycaps)")
    ap.add_argument("--with-skin-tones", action="store_true", help="also the skin-tone variants (default: left out)")
    ap.add_argument("--no-subgroup-tag", action="store_true", help="leave the CLDR subgroup out of the tags")
    ap.add_argument("--limit", type=int, default=0, help="stop after this many samples (for a quick try)")
    ap.add_argument("--contact-count", type=int, default=200, help="samples on contact.png, 0 for none (default 200)")
    ap.add_argument("--contact-thumb", type=int, default=64, help="contact sheet cell size (default 64)")
    ap.add_argument("--font", type=Path, default=FONT_PATH)
    args = ap.parse_args(argv)
    if args.size <= 0 or args.margin < 0:
        ap.error("--size must be > 0 and --margin >= 0")

    start = time.monotonic()
    for p in (args.font, catalog.EMOJI_TEST, catalog.CLDR_ANNOTATIONS, catalog.CLDR_DERIVED):
        if not p.exists():
            print(f"missing {p}: see tools/data/README.md for the apt-get line", file=sys.stderr)
            return 1

    emoji_version, all_emoji = catalog.read_emoji_test()
    keywords = catalog.read_cldr_keywords(catalog.CLDR_ANNOTATIONS, catalog.CLDR_DERIVED)
    chosen = catalog.select(all_emoji, args.singles_only, args.with_skin_tones)
    renderer = EmojiRenderer(args.font, args.size, args.margin, args.background)
    if args.size > 128 + 2 * args.margin:
        print(f"note: --size {args.size} is above the font's native scale; images are upscaled")

    args.out.mkdir(parents=True, exist_ok=True)
    for old in list(args.out.glob("emoji-*.tar")) + [args.out / n for n in ("index.json", "manifest.json", "contact.png")]:
        old.unlink(missing_ok=True)

    # Render first so shard count (and so the file-name width) is known before writing.
    samples: list[tuple[catalog.Emoji, Image.Image]] = []
    skipped: list[dict] = []
    for e in chosen:
        try:
            samples.append((e, renderer.render(e.text)))
        except CoverageError as err:
            skipped.append({"codepoints": e.hex, "name": e.name, "reason": str(err)})
        if args.limit and len(samples) == args.limit:
            break

    shards = max(1, (len(samples) + args.shard_size - 1) // args.shard_size)
    width = max(3, len(str(shards - 1)))
    writer = ShardWriter(args.out, f"emoji-{{:0{width}d}}.tar", args.shard_size)
    key_width = max(5, len(str(len(samples) - 1)))
    index: dict[str, str] = {}
    counts = {"single": 0, "zwj": 0, "flag": 0, "keycap": 0, "other sequence": 0}
    for i, (e, im) in enumerate(samples):
        key = f"{i:0{key_width}d}_{e.hex}"
        tags = catalog.tags_for(e, keywords, with_subgroup=not args.no_subgroup_tag)
        caption = ", ".join(tags)
        meta = {
            "name": e.name,
            "codepoints": [f"U+{c:04X}" for c in e.codepoints],
            "tags": tags,
            "caption": caption,
            "group": e.group,
            "subgroup": e.subgroup,
            "emoji_version": e.version,
        }
        writer.write(key, {
            "png": png_bytes(im),
            "txt": caption.encode("utf-8"),
            "json": json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        })
        index[key] = caption
        kind = ("single" if e.is_single else "zwj" if e.is_zwj else
                "flag" if e.group == "Flags" else "keycap" if 0x20E3 in e.codepoints else "other sequence")
        counts[kind] += 1
    writer.close()

    (args.out / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                         encoding="utf-8")
    if args.contact_count > 0 and samples:
        contact_sheet([im for _, im in samples[: args.contact_count]], args.contact_thumb, 20).save(
            args.out / "contact.png", optimize=True)

    shard_info = []
    for p in writer.paths:
        shard_info.append({"file": p.name, "bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()})
    manifest = {
        "samples": len(samples),
        "kinds": counts,
        "shards": shard_info,
        "options": {"size": args.size, "shard_size": args.shard_size, "margin": args.margin,
                    "background": list(args.background), "singles_only": args.singles_only,
                    "with_skin_tones": args.with_skin_tones, "subgroup_tag": not args.no_subgroup_tag,
                    "limit": args.limit},
        "sources": {
            "font": {"file": str(args.font), "debian_package": "fonts-noto-color-emoji",
                     "version": debian_version("fonts-noto-color-emoji"), "license": "OFL-1.1"},
            "emoji_list": {"file": str(catalog.EMOJI_TEST), "debian_package": "unicode-data",
                           "version": debian_version("unicode-data"), "emoji_version": emoji_version,
                           "license": "Unicode-DFS-2016"},
            "keywords": {"files": [str(catalog.CLDR_ANNOTATIONS), str(catalog.CLDR_DERIVED)],
                         "debian_package": "unicode-cldr-core", "version": debian_version("unicode-cldr-core"),
                         "license": "Unicode-DFS-2016"},
            "unicode_names": {"python_unicodedata": __import__("unicodedata").unidata_version},
        },
        "skipped": skipped,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    total = sum(s["bytes"] for s in shard_info)
    print(f"{len(samples)} emoji ({', '.join(f'{v} {k}' for k, v in counts.items() if v)}), "
          f"{len(skipped)} skipped, {len(writer.paths)} shards, {total / 1e6:.1f} MB, "
          f"{time.monotonic() - start:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
