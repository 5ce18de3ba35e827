"""IPython start-up file of the browser test's kernels: every PNG a figure is rendered to in memory (the
inline backend's pictures, the explorer's ``savefig`` into a buffer) records the height, in the PNG's own
pixels, of the smallest text drawn on it: a ``tEXt`` chunk ``smallest-text-px``.  The browser test reads it
back from the page and scales it by the width the picture is shown at, which is what a student sees.

The size is the font size of each drawn title, label, tick label, legend and annotation (points) times the
renderer's pixels per point (the dpi it is saved at / 72), so a retina picture or a ``dpi=`` argument counts.
Files written to disk are left as they are.
"""

import io
import struct
import zlib

import matplotlib.backend_bases
import matplotlib.text

TEXT_KEY = b"smallest-text-px"
_drawn: list[float] = []
_draw_text = matplotlib.text.Text.draw
_print_figure = matplotlib.backend_bases.FigureCanvasBase.print_figure


def _recording_draw(self, renderer, *args, **kwargs):
    if renderer is not None and self.get_visible() and self.get_text().strip():
        _drawn.append(float(renderer.points_to_pixels(self.get_fontsize())))
    return _draw_text(self, renderer, *args, **kwargs)


def _png_text_chunk(key: bytes, value: str) -> bytes:
    body = b"tEXt" + key + b"\0" + value.encode("latin-1")
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _recording_print_figure(self, filename, *args, **kwargs):
    _drawn.clear()
    result = _print_figure(self, filename, *args, **kwargs)
    if isinstance(filename, io.BytesIO) and _drawn:
        data = filename.getvalue()
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[-8:-4] == b"IEND":  # the IEND chunk is the last 12 bytes
            filename.seek(0)
            filename.truncate()
            filename.write(data[:-12] + _png_text_chunk(TEXT_KEY, f"{min(_drawn):.2f}") + data[-12:])
    return result


matplotlib.text.Text.draw = _recording_draw
matplotlib.backend_bases.FigureCanvasBase.print_figure = _recording_print_figure
