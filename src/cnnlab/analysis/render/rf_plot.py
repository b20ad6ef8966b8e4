"""Receptive field per stage, and a picture of one unit's field on a real image (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from cnnlab.analysis.render.report import Report
from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError

__all__ = ["stage_fields", "draw_receptive_field", "letterbox", "unit_box"]


def _text(values: tuple) -> str:
    return "x".join(str(v) for v in values)


def stage_fields(report: Report) -> list[tuple[str, str, str, str]]:
    """(path, output size, r, j) at each change of resolution, i.e. at the end of each stage; r shows
    ``r_min-r`` where the units of a map differ."""
    rows = [r for r in report.rows if r.rf_size and r.output_shape and len(r.output_shape) == 4]
    out = []
    for row, nxt in zip(rows, [*rows[1:], None], strict=False):
        if nxt is None or nxt.output_shape[2:] != row.output_shape[2:]:
            size = _text(row.rf_size) if row.rf_size_min == row.rf_size else \
                "x".join(f"{a}-{b}" for a, b in zip(row.rf_size_min, row.rf_size, strict=True))
            out.append((row.path, _text(row.output_shape[2:]), size, _text(row.rf_jump)))
    return out


def unit_box(report: Report, unit: tuple[int, int] | None) -> dict:
    """Input-pixel box of output unit (i, j) of the last spatial map: its exact theoretical field
    (pixel i spans [i, i + 1), so a field of pixels first..last spans [first, last + 1])."""
    rf = report.receptive_field
    if rf is None or len(rf.feature_size) != 2:
        raise ConfigError(f"{report.model} has no 2-D feature map to take a receptive field from")
    h, w = rf.feature_size
    i, j = unit if unit is not None else (h // 2, w // 2)
    if not (0 <= i < h and 0 <= j < w):
        raise ConfigError(f"--unit {i},{j} is outside the {h}x{w} map of {rf.layer}")
    box_h, box_w = rf.box((i, j))
    if box_h is None or box_w is None:
        raise ConfigError(f"unit {i},{j} of {rf.layer} reads no input pixel")
    rows, cols = (box_h[0], box_h[1] + 1), (box_w[0], box_w[1] + 1)
    return {"unit": (i, j), "rows": rows, "cols": cols, "centre": (sum(rows) / 2, sum(cols) / 2)}


def _open_picture(image: Path, grey: bool):  # noqa: ANN202 - a PIL image
    """The file ``image`` as an RGB (or, for a one-channel network, grey) picture; ConfigError if it is
    missing, not an image, truncated or too large to decode safely."""
    from PIL import Image

    if not Path(image).is_file():
        raise ConfigError(f"--image {image} does not exist" if not Path(image).exists()
                          else f"--image {image} is not a file")
    try:
        with Image.open(image) as picture:
            return picture.convert("L" if grey else "RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"--image {image} cannot be read as an image: {exc}") from None


def letterbox(picture, width: int, height: int) -> tuple[object, str]:  # noqa: ANN001 - PIL images
    """``picture`` scaled to fit ``width`` x ``height`` with its aspect kept, centred on grey bars (the
    way a photo is usually fed to a square network without distorting it); and a sentence saying so."""
    from PIL import Image

    w, h = picture.size
    scale = min(width / w, height / h)
    fitted = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = Image.new(picture.mode, (width, height), 128 if picture.mode == "L" else (128, 128, 128))
    canvas.paste(picture.resize(fitted, Image.BILINEAR), ((width - fitted[0]) // 2, (height - fitted[1]) // 2))
    if fitted == (width, height):
        how = f"image {w}x{h} scaled to {width}x{height}"
    else:
        bars = "left and right" if fitted[0] < width else "top and bottom"
        how = f"image {w}x{h} letterboxed to {width}x{height} (aspect kept, grey bars {bars})"
    return canvas, how


def draw_receptive_field(report: Report, image: Path, out: Path, unit: tuple[int, int] | None = None) -> dict:
    """Fit ``image`` into the report's input size with its aspect kept (:func:`letterbox`), draw the unit's
    field (clipped part dashed), save a PNG; the box, with ``"fit"`` saying how the image was fitted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    channels = report.input_size[1] if len(report.input_size) == 4 else 3
    picture = _open_picture(image, grey=channels == 1)
    box = unit_box(report, unit)
    height, width = report.input_size[-2:]
    picture, box["fit"] = letterbox(picture, width, height)
    fig, ax = plt.subplots(figsize=(6, 6 * height / width))
    ax.imshow(picture, extent=(0, width, height, 0), cmap="gray" if picture.mode == "L" else None)
    (top, bottom), (left, right) = box["rows"], box["cols"]
    ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color="yellow", lw=2))
    ax.plot([box["centre"][1]], [box["centre"][0]], "r+", ms=12)
    ax.set_xlim(min(0, left) - 2, max(width, right) + 2)
    ax.set_ylim(max(height, bottom) + 2, min(0, top) - 2)
    rf = report.receptive_field
    ax.set_title(f"{report.model}: unit {box['unit']} of {rf.layer}, r={rf.size[0]}, j={rf.jump[0]}\n{box['fit']}",
                 fontsize=10)
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    finally:
        plt.close(fig)
    return box
