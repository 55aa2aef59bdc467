"""CLIP tokenizer fixtures and data for the Swift `CLIPTokenizer` / prompt-weighting tests.

Usage (reference venv with open_clip_torch, ftfy and transformers installed):
    python tools/reference/tokenizer_fixtures.py                  # writes the JSON fixtures
    python tools/reference/tokenizer_fixtures.py --write-merges   # rewrites models/tokenizer/clip-merges.txt
    python tools/reference/tokenizer_fixtures.py --write-entities # rewrites Sources/Diffusion/Tokenizer/HTMLEntities.swift

Reference: open_clip's `SimpleTokenizer` (a copy of OpenAI CLIP's `simple_tokenizer.py`): ftfy.fix_text,
html.unescape twice, whitespace collapse, lowercase, regex pre-split, byte-level BPE. Each prompt's ids are
cross-checked against transformers' (slow) `CLIPTokenizer` built from the same vocabulary and merges.

The Swift clean-up implements ftfy's deterministic fixers but not its mojibake repair (`fix_encoding`) and
knows HTML 4's named entities rather than all of HTML5's. To find the prompts where that matters, each prompt
is also tokenized with exactly those two limitations (ftfy with fix_encoding=False, entity tables cut down);
a prompt whose ids change is written with `"excluded"` set to the reason and the Swift test skips it.
"""
import argparse
import contextlib
import gzip
import html
import html.entities
import json
import os
import tempfile

import ftfy
import ftfy.fixes
import open_clip
from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode, default_bpe


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "tokenizer")
MERGES = os.path.join(REPO, "models", "tokenizer", "clip-merges.txt")
ENTITIES_SWIFT = os.path.join(REPO, "Sources", "Diffusion", "Tokenizer", "HTMLEntities.swift")


# --- prompts ----------------------------------------------------------------------------------------------------

_TAGS = ("1girl, solo, long hair, looking at viewer, smile, open mouth, blue eyes, blonde hair, shirt, "
         "long sleeves, dress, bow, holding, hair between eyes, very long hair, closed mouth, standing, "
         "full body, flower, outdoors, sky, day, cloud, blue sky, white dress, masterpiece, best quality, "
         "very aesthetic, absurdres")

PROMPTS = [
    # plain English, case, whitespace
    "", " ", "   \t\n  ", "a", "A", "cat", "a photo of a cat", "A Photo Of A Cat", "A PHOTO OF A CAT",
    "  leading and trailing spaces  ", "multiple   spaces    between", "tabs\tbetween\twords",
    "new\nlines\r\nand\rcarriage returns", "mixed \t \n whitespace\u3000ideographic", "non\u00a0breaking\u00a0space",
    "em\u2003space and thin\u2009space", "line\u2028separator\u2029paragraph", "zero\u200bwidth\u200bspace",
    "word", "words, separated, by, commas", "hello world", "Hello, World!", "the quick brown fox jumps over the lazy dog",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "aaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababab", "xyzzy plugh", "qwertyuiop asdfghjkl zxcvbnm",
    # apostrophes and contractions
    "it's", "don't", "you're", "we've", "i'm", "we'll", "he'd", "IT'S", "Don't Stop", "'s", "'t", "'re",
    "the cat's toy", "the cats' toys", "rock 'n' roll", "'quoted'", "''double single''", "o'clock", "'stop'",
    "can't won't shouldn't", "it\u2019s curly", "\u2018single curly\u2019 and \u201cdouble curly\u201d",
    "modifier\u02bcletter apostrophe", "girl's 'smile'", "'ll'd'm've",
    # digits and numbers
    "1", "42", "1024x1024", "3.14", "1,000", "1,000,000 dollars", "2023-11-26", "12:30pm", "v1.5", "sdxl 1.0",
    "4k", "8k uhd", "1girl", "2boys", "100%", "$9.99", "#1", "0.5x", "1e-5", "-273.15", "+42", "1/2", "x^2",
    "\u00bd \u00be \u2153", "\u2460\u2461\u2462", "\u0661\u0662\u0663 arabic-indic digits", "\u0967\u0968\u0969 devanagari digits",
    "\u2167 roman numeral", "\u00b2 superscript two", "\uff11\uff12\uff13 fullwidth digits",
    # punctuation runs and symbols
    "!!!", "???", "...", "!?!?", "hello...world", "wait---what", "a--b", "(parens)", "[brackets]", "{braces}",
    "<angle>", "a < b > c", "a<b", "@user", "#hashtag", "snake_case_name", "kebab-case-name", "CamelCaseName",
    "path/to/file.png", "https://example.com/image?id=1&size=2", "email@example.com", "a*b*c", "~tilde~",
    "`backticks`", "\"double quotes\"", "back\\slash", "semi;colon", "col:on", "under__score", "pipe|pipe",
    "^_^", ":)", ":-(", "<3", "\u00a9 \u00ae \u2122", "\u2026 ellipsis", "\u2014 em dash \u2013 en dash",
    "\u00ab guillemets \u00bb", "\u00bfqu\u00e9?", "\u00a1hola!", "\u00a7 section \u00b6 pilcrow", "\u00b0C temperature",
    "\u2192 \u2190 \u2191 \u2193 arrows", "\u2605\u2606 stars", "\u266a\u266b music", "\u2022 bullet",
    # accents and Latin-1 / Latin Extended
    "caf\u00e9", "CAF\u00c9", "cafe\u0301 decomposed", "na\u00efve r\u00e9sum\u00e9", "\u00fcber stra\u00dfe", "STRASSE \u1e9e",
    "se\u00f1or pi\u00f1ata", "\u00e5ngstr\u00f6m", "\u0142\u00f3d\u017a", "\u010de\u0161tina", "\u0153uvre \u00e6sthetic",
    "\u0130stanbul", "\u0131\u0131", "\u00d8resund", "fa\u00e7ade", "\u0100\u0101\u0112\u0113",
    "\ufb01nal \ufb02ower \ufb00", "\u0132sselmeer", "\u01c4 \u01c5 \u01c6",
    # Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai
    "\u03b1\u03b2\u03b3", "\u039f\u0394\u039f\u03a3", "\u03a3\u03a3 \u03a3", "\u0391\u03b8\u03ae\u03bd\u03b1",
    "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u041c\u041e\u0421\u041a\u0412\u0410",
    "\u0434\u0435\u0432\u0443\u0448\u043a\u0430 \u0441 \u043a\u043e\u0448\u043a\u043e\u0439", "\u0451\u0436",
    "\u0562\u0561\u0580\u0565\u0582", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0644\u063a\u0629", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
    # CJK, kana, Hangul, fullwidth
    "\u732b", "\u4e00\u53ea\u732b", "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0", "\u3072\u3089\u304c\u306a", "\u30ab\u30bf\u30ab\u30ca",
    "\u521d\u97f3\u30df\u30af", "\u4e2d\u6587\u63d0\u793a\u8bcd\uff0c\u9ad8\u8d28\u91cf", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5",
    "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", "\uff76\uff9e\uff77\uff9e halfwidth kana",
    "\u3001\u3002\u300c\u300d", "mixed \u65e5\u672c english", "\u732b\u732b\u732b\u732b\u732b\u732b\u732b\u732b",
    # emoji
    "\U0001f600", "\U0001f600\U0001f603\U0001f604", "cat \U0001f431", "\U0001f44d\U0001f3fd", "\U0001f44b\U0001f3ff\U0001f44b\U0001f3fb",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0001f1ef\U0001f1f5", "\U0001f1fa\U0001f1f8\U0001f1ec\U0001f1e7", "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "\u2764\ufe0f", "\u2764", "1\ufe0f\u20e3", "#\ufe0f\u20e3", "\U0001f9d1\u200d\U0001f4bb", "\U0001f469\U0001f3fe\u200d\U0001f680",
    "\u2728 sparkles \u2728", "\U0001f525\U0001f525\U0001f525", "girl with \U0001f338 flowers", "\u263a\ufe0f smile",
    "\U0001f600!", "a\U0001f600b", "\U0001f1ef\U0001f1f5\U0001f1ef\U0001f1f5",
    # HTML entities and markup
    "&amp;", "salt &amp; pepper", "&lt;tag&gt;", "&quot;quoted&quot;", "&#39;single&#39;", "&#x27;hex&#x27;",
    "&apos;", "&nbsp;space", "caf&eacute;", "&EACUTE;", "&copy; 2024", "&hellip;", "&mdash;dash",
    "&amp;amp;", "&amp;amp;amp;amp;", "&amp", "&ampx", "&notit", "&#128;", "&#0;", "&#x1F600;", "&#9999999;",
    "&#65", "&unknownentity;", "&", "& and &&", "<b>bold</b> &amp; text", "a < b &amp; c", "&check;",
    "line1 &amp;\nline2 <b> &amp;",
    # control characters, terminal escapes, C1, BOM, odd code points
    "\u0000nul", "bell\u0007char", "esc\u001b[31mred\u001b[0m", "\ufeffbom", "soft\u00adhyphen", "c1\u0085char",
    "c1\u0080euro", "c1\u0093quote\u0094", "tag\U000e0041char", "rtl\u200fmark", "zwj\u200dword", "zwnj\u200cword",
    "\u206aarabic control", "tag\U000e0067\u0301 accent (Foundation's NFC composed this to \u01f5)", "\ufffcobject", "replacement\ufffdchar", "private\ue000use",
    "\U0001d400 math bold", "\U0001d7d8 math digit", "\u2163", "\u2070",
    # mojibake (ftfy repairs these; expected to be excluded)
    "caf\u00c3\u00a9", "\u00e2\u20ac\u0153smart quotes\u00e2\u20ac\u009d", "s\u00c3\u00b3",
    # anime tag prompts (Animagine style)
    "1girl, solo", "1girl, 1boy, couple", _TAGS, "masterpiece, best quality, very aesthetic, absurdres",
    "lowres, (bad), text, error, fewer, extra, missing, worst quality, jpeg artifacts, low quality, watermark, "
    "unfinished, displeasing, oldest, early, chromatic aberration, signature, extra digits, artistic error, "
    "username, scan, [abstract]",
    "hatsune miku, vocaloid, twintails, aqua hair, aqua eyes, detached sleeves, necktie, skirt, thighhighs",
    "souryuu asuka langley, neon genesis evangelion, plugsuit, red hair, blue eyes, hair ornament",
    "artist:wlop, 1girl, cinematic lighting, depth of field, bokeh",
    "score_9, score_8_up, score_7_up, source_anime, rating_safe",
    "newest, year 2023, highres, safe, sensitive, nsfw, explicit",
    # weighted / escaped prompts (the tokenizer sees the raw text)
    "(masterpiece:1.2), best quality", "((cat))", "[abstract]", "\\(escaped\\) parens", "(a (b:1.5) c)",
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", "(unbalanced", "unbalanced)", "a BREAK b",
    "embedding:easynegative, lowres",
    # long prompts
    _TAGS + ", " + _TAGS, (_TAGS + ", ") * 3, "a photo of " + "a very " * 40 + "big cat",
    " ".join(str(i) for i in range(200)), "word " * 160, "\U0001f600" * 100,
    ", ".join(["(masterpiece:1.2)"] * 30),
]


def _fuzz_prompts(n=80, seed=1234):
    """Seeded random strings over characters that exercise the clean-up and the pre-split scanner."""
    import random
    rng = random.Random(seed)
    pool = (list("aAzZ09 ,.;:#&'!?()[]_-x\t\n") + ["&amp;", "&#39;", "&#x41;", "&lt", "&eacute;", "'s", "'ll",
            "\u03a3", "\u0130", "\u017f", "\u0301", "\u00e9", "\uff21", "\uff01", "\u3000", "\u00a0",
            "\u2019", "\u201c", "\u0085", "\u0093", "\u001b[0m", "\ufb01", "\u00bd", "\u0663", "\u732b",
            "\U0001f600", "\U0001f3fd", "\u200d", "\ufe0f", "\u0000", "\ufeff", "\u2028", "BREAK", "<"])
    return ["".join(rng.choice(pool) for _ in range(rng.randint(3, 30))) for _ in range(n)]


PROMPTS += _fuzz_prompts()


# --- prompt weighting: hand-written expectations ----------------------------------------------------------------
# [text, weight] pairs; ["BREAK", -1] marks a forced chunk break. Comfy: `(x:w)` replaces the weight, only
# parentheses are special, `\(` `\)` escape, unbalanced text stays literal. A1111: `(x:w)` and `(x)` multiply
# the enclosing weight, `[x]` divides by 1.1, unclosed brackets still apply, runs of equal weight merge.
# BREAK (uppercase, whole word, eating surrounding whitespace) splits in both modes and is never weighted.

_W = 1.1
_D = 1 / 1.1
WEIGHTING_CASES = [
    # ComfyUI
    {"syntax": "comfy", "text": "a cat", "segments": [["a cat", 1.0]]},
    {"syntax": "comfy", "text": "(cat)", "segments": [["cat", _W]]},
    {"syntax": "comfy", "text": "((cat))", "segments": [["cat", _W * _W]]},
    {"syntax": "comfy", "text": "(((masterpiece))), best quality",
     "segments": [["masterpiece", _W * _W * _W], [", best quality", 1.0]]},
    {"syntax": "comfy", "text": "(cat:1.2)", "segments": [["cat", 1.2]]},
    {"syntax": "comfy", "text": "a (cat:1.2) on a mat", "segments": [["a ", 1.0], ["cat", 1.2], [" on a mat", 1.0]]},
    {"syntax": "comfy", "text": "((cat:1.5))", "segments": [["cat", 1.5]]},
    {"syntax": "comfy", "text": "(a (b:1.5) c)", "segments": [["a ", _W], ["b", 1.5], [" c", _W]]},
    {"syntax": "comfy", "text": "((a) b)", "segments": [["a", _W * _W], [" b", _W]]},
    {"syntax": "comfy", "text": "(a)(b)", "segments": [["a", _W], ["b", _W]]},
    {"syntax": "comfy", "text": "(a:0.5), (b:1.3)", "segments": [["a", 0.5], [", ", 1.0], ["b", 1.3]]},
    {"syntax": "comfy", "text": "[abstract]", "segments": [["[abstract]", 1.0]]},
    {"syntax": "comfy", "text": "1girl, (solo:1.1), [abstract], (bad)",
     "segments": [["1girl, ", 1.0], ["solo", 1.1], [", [abstract], ", 1.0], ["bad", _W]]},
    {"syntax": "comfy", "text": "\\(cat\\)", "segments": [["(cat)", 1.0]]},
    {"syntax": "comfy", "text": "(\\(cat\\):1.3)", "segments": [["(cat)", 1.3]]},
    {"syntax": "comfy", "text": "\\[cat\\]", "segments": [["\\[cat\\]", 1.0]]},
    {"syntax": "comfy", "text": "(cat", "segments": [["(cat", 1.0]]},
    {"syntax": "comfy", "text": "(cat:1.2", "segments": [["(cat:1.2", 1.0]]},
    {"syntax": "comfy", "text": "cat)", "segments": [["cat)", 1.0]]},
    {"syntax": "comfy", "text": "a) (b)", "segments": [["a) (b)", 1.0]]},
    {"syntax": "comfy", "text": "(a (b) c", "segments": [["(a (b) c", 1.0]]},
    {"syntax": "comfy", "text": "(cat:abc)", "segments": [["cat:abc", _W]]},
    {"syntax": "comfy", "text": "(:1.2)", "segments": [[":1.2", _W]]},
    {"syntax": "comfy", "text": "(cat: 1.25 )", "segments": [["cat", 1.25]]},
    {"syntax": "comfy", "text": "(cat:1.2:1.3)", "segments": [["cat:1.2", 1.3]]},
    {"syntax": "comfy", "text": "(cat:-1)", "segments": [["cat", -1.0]]},
    {"syntax": "comfy", "text": "(cat:1e1)", "segments": [["cat", 10.0]]},
    {"syntax": "comfy", "text": "a () b", "segments": [["a ", 1.0], [" b", 1.0]]},
    {"syntax": "comfy", "text": "a BREAK b", "segments": [["a", 1.0], ["BREAK", -1], ["b", 1.0]]},
    {"syntax": "comfy", "text": "(a BREAK b)", "segments": [["a", _W], ["BREAK", -1], ["b", _W]]},
    {"syntax": "comfy", "text": "a BREAKfast, break", "segments": [["a BREAKfast, break", 1.0]]},
    {"syntax": "comfy", "text": "", "segments": []},
    # A1111 (the first six are the examples in A1111's modules/prompt_parser.py docstring)
    {"syntax": "a1111", "text": "normal text", "segments": [["normal text", 1.0]]},
    {"syntax": "a1111", "text": "an (important) word", "segments": [["an ", 1.0], ["important", _W], [" word", 1.0]]},
    {"syntax": "a1111", "text": "(unbalanced", "segments": [["unbalanced", _W]]},
    {"syntax": "a1111", "text": "\\(literal\\]", "segments": [["(literal]", 1.0]]},
    {"syntax": "a1111", "text": "(unnecessary)(parens)", "segments": [["unnecessaryparens", _W]]},
    {"syntax": "a1111", "text": "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     "segments": [["a ", 1.0], ["house", 1.3 * _W * _W], [" ", _W], ["on", _D * _W], [" a ", _W],
                  ["hill", 0.5 * _W], [", sun, ", _W], ["sky", _W * _W * _W * _W], [".", _W]]},
    {"syntax": "a1111", "text": "[abstract]", "segments": [["abstract", _D]]},
    {"syntax": "a1111", "text": "[[a]]", "segments": [["a", _D * _D]]},
    {"syntax": "a1111", "text": "[a", "segments": [["a", _D]]},
    {"syntax": "a1111", "text": "(a:1.5) b", "segments": [["a", 1.5], [" b", 1.0]]},
    {"syntax": "a1111", "text": "((a:1.5))", "segments": [["a", 1.5 * _W]]},
    {"syntax": "a1111", "text": "(a (b:1.5) c)", "segments": [["a ", _W], ["b", 1.5 * _W], [" c", _W]]},
    {"syntax": "a1111", "text": "(a: 0.8 )", "segments": [["a", 0.8]]},
    {"syntax": "a1111", "text": "(a:-0.5)", "segments": [["a", -0.5]]},
    {"syntax": "a1111", "text": "a:b", "segments": [["a:b", 1.0]]},
    {"syntax": "a1111", "text": "(a:b)", "segments": [["a:b", _W]]},
    {"syntax": "a1111", "text": "a \\\\ b", "segments": [["a \\ b", 1.0]]},
    {"syntax": "a1111", "text": "a \\ b", "segments": [["a  b", 1.0]]},
    {"syntax": "a1111", "text": "a) b", "segments": [["a) b", 1.0]]},
    {"syntax": "a1111", "text": "]a[", "segments": [["]a", 1.0]]},
    {"syntax": "a1111", "text": "", "segments": [["", 1.0]]},
    {"syntax": "a1111", "text": "a BREAK b", "segments": [["a", 1.0], ["BREAK", -1], ["b", 1.0]]},
    {"syntax": "a1111", "text": "(a BREAK b)", "segments": [["a", _W], ["BREAK", -1], ["b", _W]]},
    {"syntax": "a1111", "text": "(a:1.2) BREAK (b:0.8)",
     "segments": [["a", 1.2], ["", 1.0], ["BREAK", -1], ["", 1.0], ["b", 0.8]]},
    {"syntax": "a1111", "text": "1girl, solo, (masterpiece:1.2), [abstract], (bad), BREAK detailed background",
     "segments": [["1girl, solo, ", 1.0], ["masterpiece", 1.2], [", ", 1.0], ["abstract", _D], [", ", 1.0],
                  ["bad", _W], [",", 1.0], ["BREAK", -1], ["detailed background", 1.0]]},
]


def merges():
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    return lines[1:49152 - 256 - 2 + 1]


def write_merges():
    with open(MERGES, "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n" + "\n".join(merges()) + "\n")
    print(f"wrote {MERGES}")


# --- the HTML entity subset the Swift cleaner knows -----------------------------------------------------------

def subset_names():
    """HTML 4 entity names (what html.entities.name2codepoint lists) plus `apos`."""
    return set(html.entities.name2codepoint) | {"apos"}


def swift_entity_tables():
    """(semicolon, legacy, ftfy_upper): name -> replacement, for the subset.

    semicolon: `&name;` forms known to html.unescape and ftfy; legacy: forms html.unescape also accepts without
    `;` (all 106 of HTML5's); ftfy_upper: ftfy's extra all-caps spellings (`&EACUTE;` -> `É`).
    """
    h5 = html.entities.html5
    names = subset_names()
    semicolon = {k[:-1]: v for k, v in h5.items() if k.endswith(";") and (k[:-1] in names or k[:-1].lower() in names)}
    legacy = {k: v for k, v in h5.items() if not k.endswith(";")}
    upper = {}
    for name, char in list(semicolon.items()):
        if name == name.lower():
            ent = "&" + name.upper() + ";"
            if html.unescape(ent) == ent:
                upper[name.upper()] = char.upper()
    return semicolon, legacy, upper


def write_entities():
    semicolon, legacy, upper = swift_entity_tables()

    def enc(v):
        return " ".join("%X" % ord(c) for c in v)

    rows = [f"S {k} {enc(v)}" for k, v in sorted(semicolon.items())]
    rows += [f"L {k} {enc(v)}" for k, v in sorted(legacy.items())]
    rows += [f"U {k} {enc(v)}" for k, v in sorted(upper.items())]
    body = "\n".join(rows)
    src = f'''// Generated by tools/reference/tokenizer_fixtures.py --write-entities; do not edit.
// The HTML 4 named character references (plus `apos`) out of Python's `html.entities.html5`.

/// Named HTML character references known to `CLIPTextCleaner` (a subset of HTML5's 2 231).
enum HTMLEntities {{
    /// One per line: kind, name, replacement as hex code points. Kinds: `S` = `&name;` (HTML5 with semicolon),
    /// `L` = legacy name `html.unescape` also accepts without `;`, `U` = ftfy's extra all-caps `&NAME;` spelling.
    static let table = """
{body}
"""
}}
'''
    with open(ENTITIES_SWIFT, "w", encoding="utf-8") as f:
        f.write(src)
    print(f"wrote {ENTITIES_SWIFT} ({len(rows)} rows)")


@contextlib.contextmanager
def limited_entities():
    """Temporarily restricts ftfy's and html.unescape's entity tables to the Swift subset."""
    semicolon, legacy, upper = swift_entity_tables()
    h5 = {k + ";": v for k, v in semicolon.items()}
    h5.update(legacy)
    ftfy_table = {"&" + k + ";": v for k, v in semicolon.items()}
    ftfy_table.update({"&" + k + ";": v for k, v in upper.items()})
    saved = (html._html5, ftfy.fixes.HTML_ENTITIES)
    html._html5, ftfy.fixes.HTML_ENTITIES = h5, ftfy_table
    try:
        yield
    finally:
        html._html5, ftfy.fixes.HTML_ENTITIES = saved


def hf_tokenizer():
    from transformers import CLIPTokenizer
    d = tempfile.mkdtemp()
    b = list(bytes_to_unicode().values())
    vocab = b + [v + "</w>" for v in b] + ["".join(m.split()) for m in merges()]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges()) + "\n")
    tok = CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
    assert tok.fix_text is not None, "ftfy must be installed for the transformers cross-check"
    return tok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--write-merges", action="store_true")
    p.add_argument("--write-entities", action="store_true")
    a = p.parse_args()
    if a.write_merges:
        write_merges()
        return
    if a.write_entities:
        write_entities()
        return

    ref = SimpleTokenizer()
    hf = hf_tokenizer()
    assert len(ref.encoder) == 49408 and ref.sot_token_id == 49406 and ref.eot_token_id == 49407

    cases, n_excluded, n_hf_diff = [], 0, 0
    seen = set()
    for text in PROMPTS:
        assert text not in seen, f"duplicate prompt {text!r}"
        seen.add(text)
        ids = ref.encode(text)
        case = {"text": text, "ids": ids}
        hf_ids = hf(text, add_special_tokens=False)["input_ids"]
        if hf_ids != ids:
            # transformers skips the html.unescape pass (and splits special tokens first).
            case["transformers_ids"] = hf_ids
            n_hf_diff += 1
        # Re-tokenize with the Swift cleaner's limitations; a fresh tokenizer avoids the word cache.
        sub = SimpleTokenizer()
        sub.clean_fn = lambda t: " ".join(
            html.unescape(html.unescape(ftfy.fix_text(t, fix_encoding=False))).strip().split()).lower()
        with limited_entities():
            subset_ids = sub.encode(text)
        if subset_ids != ids:
            no_enc = SimpleTokenizer()
            no_enc.clean_fn = lambda t: " ".join(
                html.unescape(html.unescape(ftfy.fix_text(t, fix_encoding=False))).strip().split()).lower()
            reason = "ftfy mojibake repair (fix_encoding)" if no_enc.encode(text) != ids else \
                "HTML5 entity outside the HTML 4 subset"
            case["excluded"] = reason
            n_excluded += 1
        cases.append(case)

    os.makedirs(OUT_DIR, exist_ok=True)
    meta = {"generator": f"tools/reference/tokenizer_fixtures.py (open_clip {open_clip.__version__}, "
                         f"ftfy {ftfy.__version__})",
            "reference": "open_clip.tokenizer.SimpleTokenizer().encode(text) (no BOS/EOS)",
            "bos": 49406, "eos": 49407}
    path = os.path.join(OUT_DIR, "clip_prompts.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "cases": cases}, f, ensure_ascii=False, indent=0)
    print(f"wrote {path}: {len(cases)} prompts, {n_excluded} excluded, {n_hf_diff} differ in transformers")
    for c in cases:
        if "excluded" in c:
            print("  excluded:", repr(c["text"])[:80], "-", c["excluded"])
        if "transformers_ids" in c:
            print("  transformers differs:", repr(c["text"])[:80])

    path = os.path.join(OUT_DIR, "prompt_weighting.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"meta": {"generator": "hand-written expectations in tools/reference/tokenizer_fixtures.py"},
                   "cases": WEIGHTING_CASES}, f, ensure_ascii=False, indent=1)
    print(f"wrote {path}: {len(WEIGHTING_CASES)} weighting cases")


if __name__ == "__main__":
    main()
