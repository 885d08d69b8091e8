"""The imaging functions on images made in the test."""

import io

import pytest
from PIL import Image, ImageOps

from reports.work import imaging
from reports.work.imaging import ImageOptions, ImageProblem

LIMIT = 50_000_000


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(width=1200, height=800, mode="RGB") -> Image.Image:
    """A picture with a gradient, so encoders have something to compress."""
    gradient = Image.linear_gradient("L").resize((width, height))
    if mode == "L":
        return gradient
    return Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient.rotate(90)))


def decoded(result: imaging.EncodedImage) -> Image.Image:
    return Image.open(io.BytesIO(result.content))


def test_exif_rotated_jpeg_is_turned_upright_and_its_metadata_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (59.0, 54.0, 0.0)}  # GPS
    exif[0x010F] = "CameraMaker"
    source = encoded(photo(600, 400), "JPEG", exif=exif)
    result = imaging.process(source, ImageOptions(), LIMIT)
    assert (result.source_width, result.source_height) == (600, 400)
    assert (result.output.width, result.output.height) == (400, 600)
    out = decoded(result.output)
    assert not out.getexif() and "exif" not in out.info


def test_metadata_is_kept_when_asked_with_orientation_reset():
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    result = imaging.process(encoded(photo(600, 400), "JPEG", exif=exif), ImageOptions(strip_metadata=False), LIMIT)
    kept = decoded(result.output).getexif()
    assert kept[0x010F] == "CameraMaker" and kept[0x0112] == 1


def test_cmyk_jpeg_becomes_rgb():
    result = imaging.process(encoded(photo().convert("CMYK"), "JPEG"), ImageOptions(output_format="WEBP"), LIMIT)
    assert decoded(result.output).mode == "RGB"


def test_png_with_alpha_to_jpeg_is_flattened_on_white():
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (25, 25, 75, 75))
    result = imaging.process(encoded(image, "PNG"), ImageOptions(output_format="JPEG"), LIMIT)
    out = decoded(result.output)
    assert out.mode == "RGB"
    assert out.getpixel((2, 2)) > (245, 245, 245)  # transparent corner: white, not black
    assert out.getpixel((50, 50))[2] > 200


def test_palette_gif_is_converted_to_png_keeping_transparency():
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (16, 16, 48, 48))
    result = imaging.process(encoded(image, "GIF", transparency=0), ImageOptions(output_format="PNG"), LIMIT)
    out = decoded(result.output)
    assert result.source_format == "GIF" and out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((32, 32))[:3] == (255, 0, 0)


def test_gif_kept_as_is_becomes_png_since_gif_is_not_an_output_format():
    result = imaging.process(encoded(Image.new("P", (10, 10)), "GIF"), ImageOptions(), LIMIT)
    assert result.output.format == "PNG"


def test_sixteen_bit_png_is_scaled_not_clipped():
    image = Image.new("I;16", (64, 64))
    image.putdata([i * 1000 for i in range(64)] * 64)
    result = imaging.process(encoded(image, "PNG"), ImageOptions(output_format="JPEG"), LIMIT)
    out = decoded(result.output).convert("L")
    assert 50 < out.getpixel((32, 0)) < 200  # mid-grey, not saturated white


def test_a_tiny_image_survives_every_option():
    options = ImageOptions(
        max_width=500, thumbnail_sizes=(64, 256), grayscale=True, watermark="© Offload", output_format="WEBP"
    )
    result = imaging.process(encoded(Image.new("RGB", (1, 1), "red"), "PNG"), options, LIMIT)
    assert (result.output.width, result.output.height) == (1, 1)  # never enlarged
    assert set(result.thumbnails) == {64, 256}


def test_resize_fits_the_box_and_keeps_the_aspect_ratio():
    result = imaging.process(encoded(photo(3000, 2000), "JPEG"), ImageOptions(max_width=600, max_height=600), LIMIT)
    assert (result.output.width, result.output.height) == (600, 400)


def test_thumbnails_and_preview_have_the_asked_sizes():
    result = imaging.process(encoded(photo(1600, 900), "PNG"), ImageOptions(thumbnail_sizes=(128, 512)), LIMIT)
    assert max(result.thumbnails[128].width, result.thumbnails[128].height) == 128
    assert result.thumbnails[512].width == 512
    assert result.preview.format == "WEBP" and result.preview.width == imaging.PREVIEW_SIZE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "AVIF"])
def test_each_output_format_is_written(fmt):
    result = imaging.process(encoded(photo(300, 200), "PNG"), ImageOptions(output_format=fmt, quality=70), LIMIT)
    assert decoded(result.output).format == fmt


def test_grayscale_and_watermark_change_the_pixels():
    plain = imaging.process(encoded(photo(400, 300), "PNG"), ImageOptions(output_format="PNG"), LIMIT)
    marked = imaging.process(
        encoded(photo(400, 300), "PNG"), ImageOptions(output_format="PNG", grayscale=True, watermark="DRAFT"), LIMIT
    )
    out = decoded(marked.output)
    assert out.mode == "L"
    assert ImageOps.grayscale(decoded(plain.output)).tobytes() != out.tobytes()


def test_a_truncated_file_is_refused_with_a_reason():
    whole = encoded(photo(800, 600), "JPEG")
    with pytest.raises(ImageProblem, match="truncated"):
        imaging.process(whole[: len(whole) // 2], ImageOptions(), LIMIT)


def test_a_pixel_bomb_is_refused_as_an_error_not_a_warning():
    bomb = encoded(Image.new("L", (5000, 5000)), "PNG")  # 25 MP, tiny on disk
    with pytest.raises(ImageProblem, match="too many pixels"):
        imaging.process(bomb, ImageOptions(), max_pixels=10_000_000)


def test_a_text_file_named_jpg_is_not_an_image():
    with pytest.raises(ImageProblem, match="not an image"):
        imaging.process(b"hello, I am a text file pretending to be a photo\n", ImageOptions(), LIMIT)


def test_a_known_format_outside_the_allow_list_is_named():
    icon = encoded(Image.new("RGB", (32, 32)), "ICO")
    with pytest.raises(ImageProblem, match="ICO images are not accepted"):
        imaging.process(icon, ImageOptions(), LIMIT)


def test_options_survive_a_round_trip_through_job_params():
    options = ImageOptions(max_width=800, thumbnail_sizes=(128, 256), output_format="WEBP", watermark="x")
    assert ImageOptions.from_params(options.as_params()) == options
