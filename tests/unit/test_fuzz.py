"""Fuzzing (hypothesis): whatever bytes arrive, the CSV profile and the image functions either
give a result or raise the InputProblem whose sentence the user sees; nothing else escapes."""

import io
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from reports.engine.problems import InputProblem
from reports.work import csv_sample, imaging, profiling
from tests.support import jpeg_bytes

# 150 inputs a test in `make test`; OFFLOAD_FUZZ_EXAMPLES=5000 for a long run.
FUZZ = settings(
    max_examples=int(os.environ.get("OFFLOAD_FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # no .hypothesis folder in the project
)

CSV_ALPHABET = st.sampled_from(list("abc,;\t|\"'\n\r 019.-é") + ["\x00", "\ufeff", "NaN", "2025-01-31", "1e309"])
csv_like_text = st.lists(CSV_ALPHABET, max_size=400).map("".join)
csv_bytes = st.one_of(st.binary(max_size=2000), csv_like_text.map(lambda text: text.encode("utf-8")))


def profile_whole(content: bytes, tmp_path) -> dict | None:
    """What the form and then the worker do with an upload: inspect the sample, load, profile."""
    layout = csv_sample.inspect_sample(content[: csv_sample.SAMPLE_BYTES], is_whole_file=True)
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    return profiling.profile_file(path, layout.separator)


@FUZZ
@given(content=csv_bytes)
@example(content=b"\x01\r\x01")  # found by this test: a lone \r made the form's check raise csv.Error
def test_any_bytes_as_a_csv_give_a_profile_or_a_sentence(content, tmp_path):
    try:
        result = profile_whole(content, tmp_path)
    except InputProblem as problem:
        assert str(problem) and len(str(problem)) < 400
    else:
        assert result["columns"]


def seed_images() -> list[bytes]:
    png = io.BytesIO()
    Image.new("RGBA", (40, 30), (10, 200, 30, 128)).save(png, "PNG")
    gif = io.BytesIO()
    Image.new("P", (20, 20)).save(gif, "GIF")
    return [jpeg_bytes(48, 32), png.getvalue(), gif.getvalue()]


@st.composite
def damaged_images(draw) -> bytes:
    """A real image with some bytes changed, cut short, or both: what a broken upload looks like."""
    data = bytearray(draw(st.sampled_from(seed_images())))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


OPTIONS = st.builds(
    imaging.ImageOptions,
    max_width=st.none() | st.integers(16, 64),
    output_format=st.sampled_from(["", "JPEG", "PNG", "WEBP"]),
    grayscale=st.booleans(),
    watermark=st.sampled_from(["", "© Offload"]),
    thumbnail_sizes=st.sampled_from([(), (16,)]),
)


@FUZZ
@given(content=st.one_of(st.binary(max_size=3000), damaged_images()), options=OPTIONS)
# Found by this test: a JPEG header cut short, and a PNG whose pixel data stops at once.
@example(content=b"\xff\xd8\xff\xda\x00\x03", options=imaging.ImageOptions())
@example(
    content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00(\x00\x00\x00\x1e\x08\x06\x00\x00\x00^\xdd\\\xdd\x00\x00\x00\x02IDAT",
    options=imaging.ImageOptions(),
)
def test_any_bytes_as_an_image_give_an_image_or_a_sentence(content, options):
    try:
        result = imaging.process(content, options, max_pixels=1_000_000)
    except InputProblem as problem:
        assert str(problem) and len(str(problem)) < 400
    else:
        assert result.output.content and result.output.width > 0


@pytest.mark.parametrize("content", seed_images())
def test_the_seed_images_themselves_are_processed(content):
    assert imaging.process(content, imaging.ImageOptions(), max_pixels=1_000_000).output.width > 0
