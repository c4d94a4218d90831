"""Reader quirks, each on a file another tool wrote (exiftool, exiv2, ImageMagick, Photo
Mechanic): what that tool put there is read as exiftool reads it, or better where exiftool
is wrong. Files are made with the tools at test time (skipped where a tool is missing:
scripts/test.sh installs exiftool and exiv2) or taken from the shared corpus."""

from __future__ import annotations

import base64
import io
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoarchive import Archive
from photoarchive.metadata import extract_metadata
from photoarchive.store import original_key
from tests.conftest import CORPUS

EXIFTOOL = shutil.which("exiftool")
EXIV2 = shutil.which("exiv2")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (scripts/test.sh installs Debian's libimage-exiftool-perl)",
)
needs_exiv2 = pytest.mark.skipif(
    EXIV2 is None, reason="exiv2 is not installed (scripts/test.sh installs Debian's exiv2)"
)


def carrier(path: Path, fmt: str = "JPEG") -> Path:
    """A small picture with no metadata, for another tool to write into."""
    Image.new("RGB", (48, 32), (180, 60, 40)).save(path, fmt)
    return path


def exiftool(path: Path, *args: str) -> Path:
    subprocess.run(
        [EXIFTOOL or "exiftool", "-q", "-overwrite_original", *args, str(path)],
        check=True,
        capture_output=True,
    )
    return path


def exiftool_reads(path: Path, *tags: str) -> dict[str, Any]:
    out = subprocess.run(
        [EXIFTOOL or "exiftool", "-j", "-G1", "-a", "-n", *tags, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, Any] = json.loads(out)[0]
    return found


def exiv2(path: Path, *commands: str) -> Path:
    args = [f"-M{c}" for c in commands]
    subprocess.run([EXIV2 or "exiv2", *args, str(path)], check=True, capture_output=True)
    return path


def read(path: Path) -> dict[str, Any]:
    """The merged values our readers give for a file."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        return extract_metadata(im, data).merged.values


def ingested(archive: Archive, path: Path) -> Any:
    outcome = archive.ingest([path]).outcomes[0]
    assert outcome.status == "new", outcome.reason
    return archive.get(outcome.id or "")


# -- e. IIM values of NUL bytes ------------------------------------------------------------


@needs_exiftool
def test_iim_values_of_nul_bytes_are_empty(tmp_path: Path, archive: Archive) -> None:
    (tmp_path / "nul").write_bytes(b"\x00")
    (tmp_path / "nul-space").write_bytes(b"\x00 \x00")
    (tmp_path / "padded").write_bytes(b"Kyiv Independent\x00\x00")
    photo = exiftool(
        carrier(tmp_path / "nul.jpg"),
        f"-IPTC:Credit<={tmp_path / 'nul'}",
        f"-IPTC:Source<={tmp_path / 'nul-space'}",
        f"-IPTC:Headline<={tmp_path / 'padded'}",
        f"-IPTC:Keywords<={tmp_path / 'nul'}",
        "-IPTC:Keywords+=Kharkiv",
        "-IPTC:Caption-Abstract=Shelling damaged the station",
    )
    # exiftool wrote the bytes as given, and reads the NUL-only values as empty.
    theirs = exiftool_reads(photo, "-IPTC:all")
    assert theirs["IPTC:Credit"] == "" and theirs["IPTC:Headline"] == "Kyiv Independent"
    values = read(photo)
    assert "credit" not in values and "source" not in values
    assert values["headline"] == "Kyiv Independent"
    assert values["keywords"] == ["Kharkiv"]
    record = ingested(archive, photo)
    assert record.credit is None and record.source is None
    assert record.caption == "Shelling damaged the station"


# -- d. IIM dates and times with separators ------------------------------------------------


@needs_exiv2
@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        ("2022-09-11", "10:11:12+03:00", "2022-09-11T10:11:12+03:00"),
        ("2022-09-11", "10:11:12", "2022-09-11T10:11:12"),
        ("2022-09-11", None, "2022-09-11"),
        ("2022:09:11", "101112-0530", "2022-09-11T10:11:12-05:30"),
        ("20220911", "10:11:12+0300", "2022-09-11T10:11:12+03:00"),
    ],
)
def test_iim_dates_with_separators_are_read(
    tmp_path: Path, date: str, time: str | None, expected: str
) -> None:
    # exiv2 writes the dataset as the text given when told its type is String (exiftool
    # always rewrites dates as CCYYMMDD, so it cannot make this file).
    commands = [f"set Iptc.Application2.DateCreated String {date}"]
    if time is not None:
        commands.append(f"set Iptc.Application2.TimeCreated String {time}")
    photo = exiv2(carrier(tmp_path / "dated.jpg"), *commands)
    assert read(photo)["date_created"] == expected
    if EXIFTOOL:  # exiftool reads the same moment
        theirs = exiftool_reads(photo, "-IPTC:DateCreated", "-IPTC:TimeCreated")
        assert theirs["IPTC:DateCreated"] == expected[:10].replace("-", ":")


@needs_exiv2
def test_iim_dates_that_are_not_dates_are_still_refused(tmp_path: Path) -> None:
    photo = exiv2(
        carrier(tmp_path / "bad.jpg"),
        "set Iptc.Application2.DateCreated String 2022-13-45",
        "set Iptc.Application2.Caption String Dated nonsense",
    )
    values = read(photo)
    assert values["caption"] == "Dated nonsense" and "date_created" not in values


# -- a. GPS held only in XMP ---------------------------------------------------------------


@needs_exiftool
def test_gps_only_in_xmp_is_read(tmp_path: Path, archive: Archive) -> None:
    # exiftool writes XMP's own form, "49,59.1228N" and "36,15.0W".
    photo = exiftool(
        carrier(tmp_path / "xmp-gps.jpg"),
        "-XMP-exif:GPSLatitude=49.98538",
        "-XMP-exif:GPSLongitude=36.25 W",
    )
    packet = exiftool_reads(photo, "-b", "-XMP")["XMP:XMP"]
    assert "49,59.1228N" in packet and "36,15.0W" in packet
    theirs = exiftool_reads(photo, "-XMP-exif:GPSLatitude", "-XMP-exif:GPSLongitude")
    values = read(photo)
    assert values["gps_lat"] == pytest.approx(theirs["XMP-exif:GPSLatitude"], abs=1e-6)
    assert values["gps_lon"] == pytest.approx(theirs["XMP-exif:GPSLongitude"], abs=1e-6)
    assert (values["gps_lat"], values["gps_lon"]) == pytest.approx((49.98538, -36.25))
    record = ingested(archive, photo)
    assert (record.gps_lat, record.gps_lon) == pytest.approx((49.98538, -36.25))


@needs_exiv2
@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("49.98538N", "36.25E", (49.98538, 36.25)),
        ("-33.8688", "151.2093", (-33.8688, 151.2093)),
        ("33,52,7.68S", "151,12,33.48E", (-33.8688, 151.2093)),
    ],
)
def test_gps_in_xmp_in_other_writers_forms(
    tmp_path: Path, lat: str, lon: str, expected: tuple[float, float]
) -> None:
    photo = exiv2(
        carrier(tmp_path / "forms.jpg"),
        f"set Xmp.exif.GPSLatitude {lat}",
        f"set Xmp.exif.GPSLongitude {lon}",
    )
    values = read(photo)
    assert (values["gps_lat"], values["gps_lon"]) == pytest.approx(expected, abs=1e-6)
    if EXIFTOOL:  # exiftool reads the same position
        theirs = exiftool_reads(photo, "-XMP-exif:GPSLatitude", "-XMP-exif:GPSLongitude")
        assert (theirs["XMP-exif:GPSLatitude"], theirs["XMP-exif:GPSLongitude"]) == pytest.approx(
            expected, abs=1e-6
        )


@needs_exiftool
def test_exif_gps_outranks_xmp_gps(tmp_path: Path) -> None:
    photo = exiftool(
        carrier(tmp_path / "both.jpg"),
        "-EXIF:GPSLatitude=50.45",
        "-EXIF:GPSLatitudeRef=N",
        "-EXIF:GPSLongitude=30.5233",
        "-EXIF:GPSLongitudeRef=E",
        "-XMP-exif:GPSLatitude=49.98538",
        "-XMP-exif:GPSLongitude=36.25",
    )
    data = photo.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        merged = extract_metadata(im, data).merged
    assert (merged.values["gps_lat"], merged.values["gps_lon"]) == pytest.approx((50.45, 30.5233))
    assert merged.origin["gps_lat"] == "exif"
    assert merged.sources["gps_lat"]["xmp"] == pytest.approx(49.98538)


@needs_exiftool
def test_gps_of_a_place_shown_is_not_the_cameras(tmp_path: Path) -> None:
    photo = exiftool(
        carrier(tmp_path / "shown.jpg"),
        "-XMP-iptcExt:LocationShownGPSLatitude=48.8584",
        "-XMP-iptcExt:LocationShownGPSLongitude=2.2945",
        "-XMP-iptcExt:LocationShownCity=Paris",
    )
    values = read(photo)
    assert "gps_lat" not in values and "gps_lon" not in values


@needs_exiftool
def test_an_xmp_position_that_is_not_one_is_a_warning(tmp_path: Path) -> None:
    photo = exiftool(carrier(tmp_path / "bad-gps.jpg"), "-XMP-dc:Title=Somewhere")
    data = photo.read_bytes()
    packet = exiftool_reads(photo, "-b", "-XMP")["XMP:XMP"]
    broken = packet.replace(
        "<dc:title>",
        "<exif:GPSLatitude xmlns:exif='http://ns.adobe.com/exif/1.0/'>north-ish</exif:GPSLatitude>"
        "<exif:GPSLongitude xmlns:exif='http://ns.adobe.com/exif/1.0/'>36,15E</exif:GPSLongitude>"
        "<dc:title>",
    )
    assert broken != packet
    (tmp_path / "packet.xmp").write_text(broken, encoding="utf-8")
    exiftool(photo, f"-XMP<={tmp_path / 'packet.xmp'}")
    data = photo.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        extracted = extract_metadata(im, data)
    assert "gps_lat" not in extracted.merged.values
    assert any("XMP GPS position not read" in w for w in extracted.warnings)


# -- c. XMP in an APP1 segment headed "XMP\0" ------------------------------------------------

_ADOBE_XMP = b"http://ns.adobe.com/xap/1.0/\x00"


def with_variant_header(path: Path) -> Path:
    """Give the file's XMP segment the "XMP\\0" header AFP's and Getty's systems write."""
    data = path.read_bytes()
    at = data.index(_ADOBE_XMP)
    length = int.from_bytes(data[at - 2 : at], "big") - len(_ADOBE_XMP) + 4
    path.write_bytes(
        data[: at - 2] + length.to_bytes(2, "big") + b"XMP\x00" + data[at + len(_ADOBE_XMP) :]
    )
    return path


@needs_exiftool
def test_xmp_under_the_variant_segment_header_is_read(tmp_path: Path, archive: Archive) -> None:
    photo = exiftool(
        carrier(tmp_path / "afp.jpg"),
        "-EXIF:Make=Canon",
        "-XMP-dc:Description=Firefighters at the scene in Kharkiv",
        "-XMP-photoshop:Credit=AFP",
        "-XMP-dc:Creator=Sergey Bobok",
        "-XMP-photoshop:DateCreated=2022:09:11 10:11:12+03:00",
    )
    with_variant_header(photo)
    assert _ADOBE_XMP not in photo.read_bytes()
    # exiftool reads the segment as XMP.
    theirs = exiftool_reads(photo, "-XMP-dc:Description", "-XMP-photoshop:Credit")
    assert theirs["XMP-dc:Description"] == "Firefighters at the scene in Kharkiv"
    values = read(photo)
    assert values["caption"] == "Firefighters at the scene in Kharkiv"
    assert values["credit"] == "AFP" and values["byline"] == "Sergey Bobok"
    assert values["date_created"] == "2022-09-11T10:11:12+03:00"
    record = ingested(archive, photo)
    assert record.credit == "AFP" and record.camera_make == "Canon"


@needs_exiftool
def test_adobes_xmp_segment_outranks_the_variant(tmp_path: Path) -> None:
    variant = with_variant_header(
        exiftool(carrier(tmp_path / "v.jpg"), "-XMP-dc:Description=Variant caption")
    )
    standard = exiftool(carrier(tmp_path / "s.jpg"), "-XMP-dc:Description=Adobe caption")
    data, other = standard.read_bytes(), variant.read_bytes()
    # The variant segment (with its marker) copied in after the standard one.
    at = other.index(b"XMP\x00") - 4
    length = int.from_bytes(other[at + 2 : at + 4], "big")
    both = data[:2] + data[2:].replace(b"\xff\xdb", other[at : at + 2 + length] + b"\xff\xdb", 1)
    (tmp_path / "both.jpg").write_bytes(both)
    assert read(tmp_path / "both.jpg")["caption"] == "Adobe caption"


def test_a_variant_segment_search_stops_at_the_image_data() -> None:
    from photoarchive.metadata.xmp import _jpeg_variant_xmp

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "JPEG")
    data = buf.getvalue()
    # "XMP\0" inside the image data, after the start of scan, is not a segment.
    fake = data[:-2] + b"\xff\xe1\x00\x10XMP\x00<x:xmpmeta/>" + data[-2:]
    assert _jpeg_variant_xmp(fake) is None
    # A segment length that runs past the end of the file ends the search too.
    assert _jpeg_variant_xmp(data[:2] + b"\xff\xe1\xff\xff" + b"XMP\x00abc") is None
    assert _jpeg_variant_xmp(data[:2] + b"\xff\xe1\x00\x01") is None


# -- b. EXIF, IIM and XMP in PNG "Raw profile type ..." chunks ------------------------------

# What ImageMagick 6.9.11 (`convert photo.jpg -define png:exclude-chunk=date,time,tEXt,bKGD,
# cHRM,pHYs photo.png`) wrote from an 8x8 JPEG carrying EXIF Make, IIM caption, credit and
# by-line, and XMP title and headline: zTXt "Raw profile type 8bim", "... iptc" and
# "... xmp" in hex, EXIF in an eXIf chunk after the image data. Kept here because test
# machines have no ImageMagick (Debian's convert is not installed by scripts/test.sh).
IMAGEMAGICK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAIAQMAAAD+wSzIAAAAA1BMVEXKKCa0EgUbAAAAjnpUWHRSYXcgcHJvZmls"
    "ZSB0eXBlIDhiaW0AAAiZRU3LDcNQCLszRUcAHhjeOCVJpR66/7WQQ2vEx7JsKOv9oceNTFppattOtq4frORg8Wef"
    "S0rdYvgt6cjN1IcdvuChCOq1lU3xwvQEKK4JMDE4D49klrBCQtpU2AHlWKjYOLBxwUm5Retp4SON8f+Zmb7V2yna"
    "g6BbUwAAAIZ6VFh0UmF3IHByb2ZpbGUgdHlwZSBpcHRjAAAImSVNwQ3DQAj7M0VHMByY3Di9UyL110f2V6C1ZEvG"
    "WJbP997y+iFDdEPjDWDosvBsj4YVvZxFux2DkcYsnQY3Xmyu/uAJCIarM9CHPABNXzyoVVqcSUMOrpzcnDwZhsq8"
    "1DM66V4vyX9ZHig8JKIMlhWgAAAC7XpUWHRSYXcgcHJvZmlsZSB0eXBlIHhtcAAAWIXVWVuSozAM/Pcp9gjGsiU4"
    "Dg/7b6r2c4+/LTsECMmEDFW7JlQmBMtSd0tNqgbz5+u3+YUXuS4YGilJK5YbJh44iHeWHQcW7jjS5CSmYRiSE1zv"
    "2OuVIBT8RNZPYj0htuXO+FZ6wcZA0vsYPOMTCYmwyQkliranUVrqpWVs5EmLceOsfueRo5CuGa0ANJ6T4qC+LNzD"
    "M5IlDa4NusN3iGiAGjuo9wGJAJeDpkk8OksNORcJ8ICmYHEowtQH573nBxxlTaG0RjwOSz1qJ8kvFwVRLnJCoLiE"
    "5J0eOLMok8jh71SS4JMEWoo33EjrJq2A9YzC9kB2RwIY0BbKOe4ytQ7YI5Dd1kHQoWQAIoXmRLdvgSOQCuwNaoum"
    "OchwR6xxLhk0b8Qb4ipA4AIVqJRlVnyansactM+4Ajh4TTKvFvzmJiWmQZplaU0OhTqKOcJpn6Rz1rvc5YQejk6R"
    "QaN76JK/LO0L6MorbGYD/amwWwq3FjQ8Qt0VA7OlMMudvzUcWVTu3FcUYQaGoClUPz/AGg12DyjLQAQMA2ZhVG9x"
    "gKOa7Devllo0+F4C35g1xJUG35KcpdDreKPrFM0R/kfomyP8j9AzjwgWemvgxTYrTXbUzcz9Zw5bDGYeHYZbV4sQ"
    "HTTKZ3bvt2zxuNzFcE6KaFIrPm6/ec5uPfekTO/zlKvXOlXIN2BTdHgZPMc+S2vuoa16h/08mEh9G0kMZxJWy8Ks"
    "+27ekplN3V2y992am2U2Xs/35XKvxtXdL8d6SB8P82rh0+PfJXpN5oLUjpK5BLWfkamT2up3rRJEJxK9aswlqR2b"
    "sotQ+4llqqV23v/1UJu51IPoRKLnjbkotSNTdhlqn1umYmpn/V8TtcKlJkQnEj1rzGWpvZ+yC1H71DJVUzvn/7qo"
    "KZe6EJ1ItG/M/0Z0ItG7KbsUtc8sUzm1M/6vjVr+H9uTRz6BY3m4I1Ke1pi/1YBMhPDDVq4AAAALSURBVAjXY2BA"
    "BQAAEAABocUhwQAAAGBlWElmTU0AKgAAAAgABQEPAAIAAAAGAAAASgEaAAUAAAABAAAAUAEbAAUAAAABAAAAWAEo"
    "AAMAAAABAAEAAAITAAMAAAABAAEAAAAAAABOaWtvbgAAAAABAAAAAQAAAAEAAAABL8J5OAAAABh6VFh0ZXhpZjpN"
    "YWtlAAAImfPLzM7PAwAFvAIAqo1bvgAAACB6VFh0ZXhpZjpZQ2JDclBvc2l0aW9uaW5nAAAImTMEAAAyADKQSuFb"
    "AAAAHXpUWHRwaG90b3Nob3A6Q3JlZGl0AAAImXN0CwAAAaIA2FJtuaUAAAAtelRYdHBob3Rvc2hvcDpIZWFkbGlu"
    "ZQAACJlzKS3OVsgvSy1S8M5ILMrOLAMAOAkGZFi/dwMAAAAASUVORK5CYII="
)


def _expect_imagemagick_values(values: dict[str, Any]) -> None:
    assert values["caption"] == "Kharkiv skyline at dusk"
    assert values["credit"] == "AFP" and values["byline"] == "Sergey Bobok"
    assert values["title"] == "Kharkiv" and values["headline"] == "Dusk over Kharkiv"
    assert values["camera_make"] == "Nikon"


def test_imagemagick_raw_profiles_are_read(tmp_path: Path, archive: Archive) -> None:
    photo = tmp_path / "imagemagick.png"
    photo.write_bytes(IMAGEMAGICK_PNG)
    data = photo.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        extracted = extract_metadata(im, data)
    _expect_imagemagick_values(extracted.merged.values)
    # Title and headline exist only in the raw xmp profile, the caption in IIM and XMP.
    assert extracted.merged.origin["title"] == "xmp"
    assert extracted.merged.sources["caption"]["iim"] == "Kharkiv skyline at dusk"
    assert extracted.warnings == []
    record = ingested(archive, photo)
    assert record.headline == "Dusk over Kharkiv" and record.credit == "AFP"
    if EXIFTOOL:  # exiftool reads the same from the file
        theirs = exiftool_reads(photo, "-IPTC:Credit", "-XMP-dc:Title")
        assert theirs["IPTC:Credit"] == "AFP" and theirs["XMP-dc:Title"] == "Kharkiv"


def _real_imagemagick() -> str | None:
    convert = shutil.which("convert")
    if convert is None:
        return None
    out = subprocess.run([convert, "-version"], capture_output=True, text=True, check=False)
    return convert if "ImageMagick" in out.stdout else None


@needs_exiftool
def test_imagemagick_conversion_keeps_what_we_read(tmp_path: Path) -> None:
    convert = _real_imagemagick()
    if convert is None:
        pytest.skip("ImageMagick is not installed (Debian: imagemagick)")
    source = exiftool(
        carrier(tmp_path / "source.jpg"),
        "-EXIF:Make=Nikon",
        "-IPTC:CodedCharacterSet=UTF8",
        "-IPTC:Caption-Abstract=Kharkiv skyline at dusk",
        "-IPTC:Credit=AFP",
        "-IPTC:By-line=Sergey Bobok",
        "-XMP-dc:Title=Kharkiv",
        "-XMP-photoshop:Headline=Dusk over Kharkiv",
    )
    photo = tmp_path / "converted.png"
    subprocess.run([convert, str(source), str(photo)], check=True, capture_output=True)
    assert b"Raw profile type xmp" in photo.read_bytes()
    _expect_imagemagick_values(read(photo))


@needs_exiv2
def test_exiv2_raw_exif_and_iptc_profiles_are_read(tmp_path: Path) -> None:
    # exiv2 keeps EXIF ("Exif\0\0" first) and IIM (in an 8BIM block) as zTXt raw profiles.
    photo = exiv2(
        carrier(tmp_path / "exiv2.png", "PNG"),
        "set Exif.Image.Make Canon",
        "set Exif.Image.Model Canon EOS R5",
        "set Exif.Photo.DateTimeOriginal 2022:09:11 10:11:12",
        "set Exif.GPSInfo.GPSLatitude 49/1 59/1 737/100",
        "set Exif.GPSInfo.GPSLatitudeRef N",
        "set Exif.GPSInfo.GPSLongitude 36/1 15/1 0/1",
        "set Exif.GPSInfo.GPSLongitudeRef E",
        "set Iptc.Application2.Caption Shelling damaged the station",
        "set Iptc.Application2.Credit Reuters",
    )
    data = photo.read_bytes()
    assert b"Raw profile type exif" in data and b"Raw profile type iptc" in data
    values = read(photo)
    assert values["camera_make"] == "Canon" and values["camera_model"] == "Canon EOS R5"
    assert values["date_created"] == "2022-09-11T10:11:12"
    assert values["caption"] == "Shelling damaged the station" and values["credit"] == "Reuters"
    if EXIFTOOL:
        theirs = exiftool_reads(
            photo, "-Composite:GPSLatitude", "-Composite:GPSLongitude", "-IPTC:Credit"
        )
        assert theirs["IPTC:Credit"] == "Reuters"
        assert values["gps_lat"] == pytest.approx(theirs["Composite:GPSLatitude"], abs=1e-6)
        assert values["gps_lon"] == pytest.approx(theirs["Composite:GPSLongitude"], abs=1e-6)


@needs_exiftool
def test_exiftools_png_iptc_profile_is_read(tmp_path: Path) -> None:
    # exiftool writes IIM into a PNG as zTXt "Raw profile type iptc" headed "IPTC profile".
    photo = exiftool(
        carrier(tmp_path / "exiftool.png", "PNG"),
        "-IPTC:Caption-Abstract=Flooded street in Odesa",
        "-IPTC:Keywords=flood",
        "-IPTC:Keywords+=Odesa",
        "-IPTC:DateCreated=2023:06:07",
    )
    assert b"Raw profile type iptc" in photo.read_bytes()
    values = read(photo)
    assert values["caption"] == "Flooded street in Odesa"
    assert values["keywords"] == ["flood", "Odesa"] and values["date_created"] == "2023-06-07"


def test_photo_mechanics_binary_iptc_profile_is_read() -> None:
    # Photo Mechanic wrote the IIM as binary, not hex, into zTXt "Raw profile type iptc"
    # (exiftool shows it as an undecoded PNG:IPTC_Profile); its XMP says the same.
    photo = CORPUS / "php-image-metadata-parser/tests/Fixtures/metapm.png"
    if not photo.is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    data = photo.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        merged = extract_metadata(im, data).merged
    assert merged.sources["caption"]["iim"] == "Caption"
    assert merged.sources["headline"]["iim"] == "Headline"
    assert merged.sources["keywords"]["iim"] == ["Keywords"]
    assert merged.sources["date_created"]["iim"] == "2014-12-09T15:11:04+00:00"
    assert merged.values["caption"] == "Caption"
    assert merged.values["date_created"] == "2014-12-09T15:11:04+00:00"


def _png_with(*chunks: tuple[bytes, bytes]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(buf, "PNG")
    data = buf.getvalue()
    extra = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )
    return data[:-12] + extra + data[-12:]  # after the image data, where Pillow looks later


def test_hostile_raw_profiles_are_refused_with_a_warning() -> None:
    from photoarchive.metadata.png_profiles import MAX_PROFILE, read_png_profiles

    # A header claiming a gigabyte, hex that is not hex, and a zTXt bomb (64 MB of zeros
    # compressed to 64 KB): each refused without inflating past the limit.
    claims = b"Raw profile type exif\x00\nexif\n 1073741824\n4578696600\n"
    not_hex = b"Raw profile type iptc\x00\niptc\n      4\nzzzzzzzz\n"
    deflate = zlib.compressobj(9)
    bomb = b"".join(deflate.compress(b"0" * (1 << 20)) for _ in range(64)) + deflate.flush()
    ztxt = b"Raw profile type xmp\x00\x00" + bomb
    data = _png_with((b"tEXt", claims), (b"tEXt", not_hex), (b"zTXt", ztxt))
    found = read_png_profiles(data)
    assert (found.exif, found.iim, found.xmp) == (None, None, None)
    assert len(found.warnings) == 3
    assert any(f"over {MAX_PROFILE:,} bytes" in w for w in found.warnings)
    # ...and a file that carries them is still read (its other metadata) and ingested.
    with Image.open(io.BytesIO(data)) as im:
        assert extract_metadata(im, data).warnings == found.warnings


def test_a_raw_profile_header_of_spaces_is_read_in_linear_time() -> None:
    import time

    from photoarchive.metadata.png_profiles import decode_raw_profile

    started = time.perf_counter()
    assert decode_raw_profile(b"\n" + b" " * 4_000_000) is None
    assert decode_raw_profile(b" " * 4_000_000 + b"\n") is None
    assert time.perf_counter() - started < 1.0
    assert decode_raw_profile(b"\nIPTC profile\n      3 \n1c0200\n") == b"\x1c\x02\x00"


# -- f. A PNG with a large, valid ICC profile ----------------------------------------------


def large_icc_profile(grid: int = 65) -> bytes:
    """A valid ICC v2 RGB display profile of about 1.6 MB: matrix and curves, plus an A2B0
    lut16 whose 65x65x65 grid makes it large, as print and proofing profiles are."""
    import numpy as np

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + s15(x) + s15(y) + s15(z)

    name = b"Large test RGB profile\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(name)) + name + b"\x00" * 79
    primaries = np.array(
        [[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606], [0.0139, 0.0971, 0.7141]]
    )
    steps = np.linspace(0.0, 1.0, grid)
    rgb = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    table = np.clip(np.rint(rgb @ primaries.T * 32768), 0, 65535).astype(">u2")
    curve = np.rint(65535 * np.linspace(0.0, 1.0, 256) ** 2.2).astype(">u2").tobytes()
    lut = b"mft2\x00\x00\x00\x00" + bytes([3, 3, grid, 0])
    lut += b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut += (
        struct.pack(">HH", 256, 2) + curve * 3 + table.tobytes() + struct.pack(">HH", 0, 65535) * 3
    )
    gamma = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00\x00"
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\x00\x00\x00\x00No copyright, test data\x00"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(*primaries[:, 0])),
        (b"gXYZ", xyz(*primaries[:, 1])),
        (b"bXYZ", xyz(*primaries[:, 2])),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
        (b"A2B0", lut),
    ]
    offset = 128 + 4 + 12 * len(tags)
    directory, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        body += b"\x00" * (-(offset + len(body)) % 4)
        directory += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    body += b"\x00" * (-(offset + len(body)) % 4)
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms\x02\x40\x00\x00mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acspAPPL"
        + b"\x00" * 24
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + directory + body


@needs_exiftool
def test_a_png_with_a_large_valid_icc_profile_is_ingested(tmp_path: Path, archive: Archive) -> None:
    from PIL import ImageCms

    profile = large_icc_profile()
    assert 1_500_000 < len(profile) < 1_800_000
    (tmp_path / "large.icc").write_bytes(profile)
    photo = exiftool(
        carrier(tmp_path / "icc.png", "PNG"),
        f"-ICC_Profile<={tmp_path / 'large.icc'}",
        "-XMP-dc:Description=Proof print scan",
    )
    # exiftool wrote it into the iCCP chunk and finds nothing wrong; LittleCMS uses it.
    theirs = exiftool_reads(photo, "-validate", "-ICC_Profile:ProfileDescription")
    assert theirs["ExifTool:Validate"] == "0 0 0"  # errors, warnings, minor warnings
    assert theirs["ICC_Profile:ProfileDescription"] == "Large test RGB profile"
    lcms = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    to_srgb = ImageCms.buildTransform(lcms, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    assert ImageCms.applyTransform(Image.new("RGB", (1, 1), (200, 100, 50)), to_srgb) is not None
    record = ingested(archive, photo)
    assert record.caption == "Proof print scan"
    assert archive.store.read(original_key(record.sha256, "png")) == photo.read_bytes()


def test_an_icc_profile_that_inflates_to_400_mb_is_still_refused(
    tmp_path: Path, archive: Archive
) -> None:
    deflate = zlib.compressobj(9)
    zeros = b"\x00" * (1 << 20)
    bomb = b"".join(deflate.compress(zeros) for _ in range(400)) + deflate.flush()
    assert len(bomb) < 1_000_000
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    data = buf.getvalue()
    body = b"bomb\x00\x00" + bomb
    chunk = (
        struct.pack(">I", len(body))
        + b"iCCP"
        + body
        + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    )
    (tmp_path / "bomb.png").write_bytes(data[:33] + chunk + data[33:])
    outcome = archive.ingest([tmp_path / "bomb.png"]).outcomes[0]
    assert outcome.status == "rejected"
    assert "ICC profile chunks inflate to more than 4 MB" in (outcome.reason or "")


def test_a_large_icc_profile_travels_in_exports_and_web_copies(
    tmp_path: Path, archive: Archive
) -> None:
    from photoarchive.editing import edit_photo
    from photoarchive.export import ExportOptions, export_photos

    (tmp_path / "large.icc").write_bytes(large_icc_profile())
    photo = exiftool(
        carrier(tmp_path / "icc.png", "PNG"),
        f"-ICC_Profile<={tmp_path / 'large.icc'}",
        "-XMP-dc:Description=Proof print scan",
    )
    record = ingested(archive, photo)
    edit_photo(archive, record.id, {"caption": "Proof print scan, Kharkiv"}, "desk")
    for options in (ExportOptions(pattern="{id}"), ExportOptions(pattern="web", max_size=64)):
        [done] = export_photos(archive, [archive.get(record.id)], tmp_path / "out", options).done
        theirs = exiftool_reads(done.path, "-XMP-dc:Description", "-ICC_Profile:ProfileDescription")
        assert theirs["XMP-dc:Description"] == "Proof print scan, Kharkiv"
        assert theirs["ICC_Profile:ProfileDescription"] == "Large test RGB profile"
