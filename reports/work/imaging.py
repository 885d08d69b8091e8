"""Image processing for the image batch: decode safely, orient, resize, convert, watermark.

Pure functions on bytes and paths; the tasks store what they return.
"""

import io
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError, features

from reports.engine.problems import InputProblem

# Decoded by content with only these plugins; anything else is refused, whatever its name says.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP")
OUTPUT_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}
PREVIEW_SIZE = 360


def avif_supported() -> bool:
    return features.check("avif") is True


class ImageProblem(InputProblem):
    """An image that cannot be processed, with a reason its owner understands."""


@dataclass(frozen=True)
class ImageOptions:
    max_width: int | None = None
    max_height: int | None = None
    thumbnail_sizes: tuple[int, ...] = ()
    output_format: str = ""  # "" keeps the original's format where it can be written
    quality: int = 85
    grayscale: bool = False
    watermark: str = ""
    strip_metadata: bool = True

    def as_params(self) -> dict:
        return {**self.__dict__, "thumbnail_sizes": list(self.thumbnail_sizes)}

    @classmethod
    def from_params(cls, params: dict) -> "ImageOptions":
        return cls(**{**params, "thumbnail_sizes": tuple(params.get("thumbnail_sizes", ()))})


@dataclass
class EncodedImage:
    content: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return OUTPUT_FORMATS[self.format]


@dataclass
class ProcessedImage:
    source_format: str
    source_width: int
    source_height: int
    output: EncodedImage
    preview: EncodedImage
    thumbnails: dict[int, EncodedImage] = field(default_factory=dict)


def open_image(source: Path | bytes, max_pixels: int) -> Image.Image:
    """Open and fully decode an image, or raise ImageProblem saying why not."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; here it is an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
            try:
                return Image.open(stream, formats=ACCEPTED_FORMATS)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        stream.close()
        raise ImageProblem(f"The image has too many pixels; the limit is {max_pixels / 1e6:g} megapixels.") from None
    except UnidentifiedImageError:
        stream.close()
        raise ImageProblem(unidentified_reason(source)) from None
    except DAMAGED_DATA as error:
        # A recognised format whose header is broken or cut short.
        stream.close()
        raise damaged(error) from None


def unidentified_reason(source: Path | bytes) -> str:
    """Tell a known but refused format from something that is not an image at all."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as other:
            return f"{other.format} images are not accepted; use JPEG, PNG, GIF, WebP, AVIF, TIFF or BMP."
    except Exception:
        return "This file is not an image (or not one we can read)."


def decode(image: Image.Image, box: tuple[int, int] | None) -> Image.Image:
    """Decode the pixels, letting JPEG decode at a reduced scale when we will shrink anyway."""
    if box and image.format == "JPEG":
        orientation = image.getexif().get(0x0112, 1)
        # draft() picks the smallest scale (1/2, 1/4, 1/8) still at least this big.
        image.draft(
            image.mode if image.mode in ("RGB", "L", "CMYK") else "RGB",
            box[::-1] if orientation in (5, 6, 7, 8) else box,
        )
    image.load()
    return image


# What Pillow's decoders raise for broken data, at whichever step first reads it.
DAMAGED_DATA = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError)


def damaged(error: Exception) -> ImageProblem:
    if "truncated" in str(error) or "broken data stream" in str(error):
        return ImageProblem("The file is cut short (truncated). Upload the complete file again.")
    return ImageProblem(f"The image data is damaged ({str(error)[:150]}).")


def normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA, L or LA: the modes every output format and drawing step can handle."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit: scale to 8 bits rather than clip everything above 255 to white.
        return image.point(lambda value: value / 256).convert("L")
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def add_watermark(image: Image.Image, text: str) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, min(base.size) // 18)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = size // 2
    position = (base.width - (right - left) - margin, base.height - (bottom - top) - margin - top)
    draw.text((position[0] + 1, position[1] + 1), text, font=font, fill=(0, 0, 0, 110))
    draw.text(position, text, font=font, fill=(255, 255, 255, 170))
    combined = Image.alpha_composite(base, layer)
    return combined if image.mode in ("RGBA", "LA") else combined.convert(image.mode if image.mode != "L" else "L")


def output_format_for(source_format: str, requested: str) -> str:
    if requested:
        return requested
    return source_format if source_format in OUTPUT_FORMATS else "PNG"


def encode(image: Image.Image, fmt: str, quality: int, exif: bytes | None, icc: bytes | None) -> EncodedImage:
    if fmt == "JPEG" and image.mode in ("RGBA", "LA"):
        # JPEG has no transparency: flatten onto white instead of black.
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    options = {"optimize": True} if fmt in ("JPEG", "PNG") else {}
    if fmt in ("JPEG", "WEBP", "AVIF"):
        options["quality"] = quality
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return EncodedImage(buffer.getvalue(), fmt, image.width, image.height)


def shrunk(image: Image.Image, size: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return copy


def process(source: Path | bytes, options: ImageOptions, max_pixels: int) -> ProcessedImage:
    """One image, or an ImageProblem saying what is wrong with it."""
    image = open_image(source, max_pixels)
    try:
        return transform(image, options)
    except ImageProblem:
        raise
    except DAMAGED_DATA as error:
        # Pillow reads lazily: metadata, pixels or EXIF may be where broken data first shows.
        raise damaged(error) from None
    finally:
        image.close()


def transform(image: Image.Image, options: ImageOptions) -> ProcessedImage:
    """Apply the options to an opened image: orient by EXIF, resize, grey, watermark, convert."""
    source_format, (source_width, source_height) = image.format, image.size
    box = None
    if options.max_width or options.max_height:
        box = (options.max_width or source_width, options.max_height or source_height)
    exif = image.getexif()
    icc = image.info.get("icc_profile")
    image = decode(image, box)
    image = ImageOps.exif_transpose(image)  # the pixels now stand as the camera meant
    image = normalise_mode(image)
    if options.grayscale:
        image = image.convert("LA" if image.mode in ("RGBA", "LA") else "L")
    if box:
        image.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if options.watermark:
        image = add_watermark(image, options.watermark)
    fmt = output_format_for(source_format, options.output_format)
    kept_exif = None
    if not options.strip_metadata and exif:
        exif[0x0112] = 1  # already rotated
        kept_exif = exif.tobytes()
    output = encode(image, fmt, options.quality, kept_exif, None if options.strip_metadata else icc)
    # A small output is its own preview: every output format shows in a browser.
    small = max(output.width, output.height) <= 2 * PREVIEW_SIZE
    preview = output if small else encode(shrunk(image, PREVIEW_SIZE), "WEBP", 80, None, None)
    thumbnails = {
        size: encode(shrunk(image, size), fmt, options.quality, None, None) for size in options.thumbnail_sizes
    }
    return ProcessedImage(source_format, source_width, source_height, output, preview, thumbnails)
