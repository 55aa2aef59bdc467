"""Which emoji exist, what they are called, and which keywords describe them.

Sources (all from Debian packages, read from disk, nothing downloaded at run time):
  - unicode-data:      /usr/share/unicode/emoji/emoji-test.txt — the RGI emoji list with CLDR short
                       names, group/subgroup and the Emoji version each one appeared in.
  - unicode-cldr-core: /usr/share/unicode/cldr/common/annotations{,Derived}/en.xml — CLDR English
                       keywords ("face | grin | grinning face") for single emoji and for derived
                       sequences (ZWJ, flags, keycaps, skin tones).
  - Python's unicodedata: the formal Unicode character name of single code points, added as an
                       extra tag when it differs from the CLDR short name.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
CLDR_ANNOTATIONS = Path("/usr/share/unicode/cldr/common/annotations/en.xml")
CLDR_DERIVED = Path("/usr/share/unicode/cldr/common/annotationsDerived/en.xml")

VS16 = 0xFE0F
ZWJ = 0x200D
SKIN_TONES = frozenset(range(0x1F3FB, 0x1F400))

# CLDR uses typographic punctuation; captions are kept plain ASCII so they are easy to type
# in a prompt (the original name is kept untouched in the .json "name" field).
_PUNCT = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u2026": "..."})


@dataclasses.dataclass(frozen=True)
class Emoji:
    """One RGI emoji as listed in emoji-test.txt."""

    codepoints: tuple[int, ...]
    name: str            # CLDR short name, as written ("flag: Japan")
    group: str           # "Smileys & Emotion"
    subgroup: str        # "face-smiling"
    version: str         # Emoji version it appeared in, "E1.0"

    @property
    def text(self) -> str:
        return "".join(chr(c) for c in self.codepoints)

    @property
    def hex(self) -> str:
        """Lower-case code points joined by "-": "1f468-200d-1f469"."""
        return "-".join(f"{c:x}" for c in self.codepoints)

    @property
    def is_single(self) -> bool:
        """One code point, optionally followed by the emoji presentation selector."""
        return len([c for c in self.codepoints if c != VS16]) == 1

    @property
    def has_skin_tone(self) -> bool:
        return any(c in SKIN_TONES for c in self.codepoints)

    @property
    def is_zwj(self) -> bool:
        return ZWJ in self.codepoints


_LINE = re.compile(r"^([0-9A-F ]+?)\s*;\s*([a-z-]+)\s*#\s*\S+\s+(E\d+\.\d+)\s+(.+)$")


def read_emoji_test(path: Path = EMOJI_TEST) -> tuple[str, list[Emoji]]:
    """(file's "Version:" value, fully-qualified emoji in file order). Components and the
    minimally-/un-qualified duplicates are left out."""
    version = "?"
    group = subgroup = ""
    out: list[Emoji] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("# Version:"):
            version = line.split(":", 1)[1].strip()
        elif line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            m = _LINE.match(line)
            if not m:
                raise ValueError(f"unparsed emoji-test line: {raw!r}")
            cps, status, ever, name = m.groups()
            if status != "fully-qualified":
                continue
            out.append(Emoji(tuple(int(h, 16) for h in cps.split()), name.strip(), group, subgroup, ever))
    return version, out


def read_cldr_keywords(*paths: Path) -> dict[str, list[str]]:
    """CLDR keyword lists by emoji string (FE0F removed, as CLDR stores them). Later files do not
    override earlier ones."""
    out: dict[str, list[str]] = {}
    for path in paths:
        root = ET.parse(path).getroot()
        for node in root.iter("annotation"):
            if node.get("type") == "tts" or not node.text:
                continue
            cp = node.get("cp", "")
            if cp in out:
                continue
            out[cp] = [k.strip() for k in node.text.split("|") if k.strip()]
    return out


def normalise_tag(tag: str) -> str:
    """Lower-case ASCII tag without commas (commas separate tags): "Côte d’Ivoire" → "cote d'ivoire",
    "family: man, woman, girl" → "family: man woman girl", 'Japanese “secret” button' →
    "japanese secret button"."""
    t = tag.translate(_PUNCT)
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode("ascii")
    t = t.replace(",", " ").replace('"', "").replace("_", " ").lower()
    return " ".join(t.split())


_SUBGROUP_WORDS = {"alphanum": "alphanumeric", "av": "audio video"}


def subgroup_tag(subgroup: str) -> str:
    """A coarse category tag from the CLDR subgroup: "animal-mammal" → "animal mammal",
    "other-symbol" → "symbol", "alphanum" → "alphanumeric"."""
    words = [_SUBGROUP_WORDS.get(w, w) for w in subgroup.split("-") if w != "other"]
    return " ".join(words)


def tags_for(e: Emoji, keywords: dict[str, list[str]], with_subgroup: bool = True) -> list[str]:
    """Caption tags, name first: CLDR short name, CLDR keywords, the formal Unicode name (single
    code points only, when it differs), then the subgroup category (see `subgroup_tag`)."""
    bare = "".join(chr(c) for c in e.codepoints if c != VS16)
    raw: list[str] = [e.name]
    raw += keywords.get(e.text) or keywords.get(bare) or []
    if e.is_single:
        try:
            raw.append(unicodedata.name(bare))
        except ValueError:  # newer than this Python's Unicode database
            pass
    if with_subgroup:
        raw.append(subgroup_tag(e.subgroup))
    seen: set[str] = set()
    tags: list[str] = []
    for r in raw:
        t = normalise_tag(r)
        if t and t not in seen:
            seen.add(t)
            tags.append(t)
    return tags


def select(emoji: list[Emoji], singles_only: bool, with_skin_tones: bool) -> list[Emoji]:
    """Filters by kind and sorts by code point sequence (the dataset order)."""
    chosen = [e for e in emoji
              if (not singles_only or e.is_single) and (with_skin_tones or not e.has_skin_tone)]
    return sorted(chosen, key=lambda e: e.codepoints)
