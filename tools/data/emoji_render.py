"""Renders Noto Color Emoji glyphs to centred, constant-scale square RGB images.

Noto Color Emoji is a CBDT bitmap font with one strike at 109 ppem: every glyph is a 136x128
bitmap whose artwork fits in 128x128 (measured over all RGI emoji). So the glyph is drawn at its
native size, its inked box is centred (translation only, never scaled on its own, so a small
symbol stays small next to a big face) on a transparent 128 + 2*margin square, composited on
the background, and only then resized with LANCZOS to the requested size. At --size 128 with
margin 0 no resampling happens at all: the pixels are the font's own.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
STRIKE_PPEM = 109     # the font's only bitmap strike
NATIVE_FRAME = 128    # every glyph's artwork fits in this square at STRIKE_PPEM


class CoverageError(Exception):
    """The font cannot draw this emoji as one glyph (missing, blank, tofu or unligated sequence)."""


class EmojiRenderer:
    def __init__(self, font_path: Path = FONT_PATH, size: int = 128, margin: int = 0,
                 background: tuple[int, int, int] = (255, 255, 255)):
        if not features.check("raqm"):
            # Without raqm Pillow does no OpenType shaping: ZWJ sequences, flags and keycaps
            # would come out as several glyphs and all be skipped by the width check below.
            print("warning: Pillow has no raqm; emoji sequences will be skipped")
            layout = ImageFont.Layout.BASIC
        else:
            layout = ImageFont.Layout.RAQM
        self.font = ImageFont.truetype(str(font_path), STRIKE_PPEM, layout_engine=layout)
        self.size = size
        self.margin = margin
        self.background = background
        # One glyph's advance; a sequence that did not ligate is (at least) twice as wide.
        self.advance = self.font.getlength("\U0001F600")
        self.tofu = self._draw("\U0010FFFD")  # a code point no font maps: shows .notdef

    def _draw(self, text: str) -> Image.Image:
        """Text drawn at native size on a transparent canvas with room for three glyphs."""
        w = int(self.advance) * 3 + 32
        im = Image.new("RGBA", (w, NATIVE_FRAME + 48), (0, 0, 0, 0))
        ImageDraw.Draw(im).text((16, 16), text, font=self.font, embedded_color=True)
        return im

    def render_native(self, text: str) -> Image.Image:
        """RGBA, NATIVE_FRAME square, artwork centred. Raises CoverageError."""
        if self.font.getlength(text) > self.advance * 1.5:
            raise CoverageError("not a single glyph (sequence not ligated)")
        im = self._draw(text)
        box = im.getchannel("A").getbbox()
        if box is None:
            raise CoverageError("blank")
        if im.tobytes() == self.tofu.tobytes():
            raise CoverageError("tofu")
        art = im.crop(box)
        if art.width > NATIVE_FRAME or art.height > NATIVE_FRAME:
            raise CoverageError(f"artwork {art.width}x{art.height} larger than {NATIVE_FRAME}")
        frame = Image.new("RGBA", (NATIVE_FRAME, NATIVE_FRAME), (0, 0, 0, 0))
        frame.paste(art, ((NATIVE_FRAME - art.width) // 2, (NATIVE_FRAME - art.height) // 2))
        return frame

    def render(self, text: str) -> Image.Image:
        """RGB, size x size. Raises CoverageError."""
        art = self.render_native(text)
        side = NATIVE_FRAME + 2 * self.margin
        canvas = Image.new("RGBA", (side, side), self.background + (255,))
        canvas.alpha_composite(art, (self.margin, self.margin))
        rgb = canvas.convert("RGB")
        if side != self.size:
            rgb = rgb.resize((self.size, self.size), Image.Resampling.LANCZOS)
        return rgb
