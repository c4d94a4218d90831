"""Provenance: digital source types in words, and C2PA manifests signed here, read, tampered."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from photoarchive.provenance import (
    AI_SOURCE_TYPES,
    C2PA_STATES,
    DIGITAL_SOURCE_TYPES,
    MIME,
    C2paReport,
    is_ai,
    is_screen_capture,
    normalise_source_type,
    read_c2pa,
    source_type_words,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SIGNER_NAME = "Photo Desk Test Signer"
SIGNER_ORG = "Photoarchive Tests"
# Signing must not reach out either: no thumbnails to make, nothing to fetch.
BUILD_SETTINGS = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"allowed_network_hosts": []},
    "builder": {"thumbnail": {"enabled": False}},
}


# --- digital source type vocabulary -------------------------------------------------------


def test_vocabulary_is_iptcs_2024_release() -> None:
    assert len(DIGITAL_SOURCE_TYPES) == 20
    for code in (
        "digitalCapture",
        "computationalCapture",
        "screenCapture",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",
        "softwareImage",
        "minorHumanEdits",
        "digitalArt",
    ):
        assert code in DIGITAL_SOURCE_TYPES
    assert DIGITAL_SOURCE_TYPES["trainedAlgorithmicMedia"] == "AI-generated"
    assert DIGITAL_SOURCE_TYPES["compositeWithTrainedAlgorithmicMedia"] == (
        "composite with AI elements"
    )
    assert DIGITAL_SOURCE_TYPES["screenCapture"] == "screen capture"
    assert DIGITAL_SOURCE_TYPES["digitalCapture"] == "digital capture"


@pytest.mark.parametrize(
    "value",
    [
        "trainedAlgorithmicMedia",
        "TRAINEDALGORITHMICMEDIA",
        "  trainedalgorithmicmedia ",
        f"{IPTC}trainedAlgorithmicMedia",
        f"{IPTC}trainedAlgorithmicMedia/",
        "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "HTTPS://CV.IPTC.ORG/newscodes/digitalsourcetype/trainedalgorithmicmedia/",
        "digsrctype:trainedAlgorithmicMedia",
    ],
)
def test_normalise_accepts_uri_qcode_and_short_forms(value: str) -> None:
    assert normalise_source_type(value) == "trainedAlgorithmicMedia"


def test_normalise_legacy_and_c2pa_values() -> None:
    assert normalise_source_type(f"{IPTC}softwareImage") == "softwareImage"
    assert normalise_source_type("minorhumanedits") == "minorHumanEdits"
    assert normalise_source_type("http://c2pa.org/digitalsourcetype/empty") == "empty"
    assert normalise_source_type("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData") == (
        "trainedAlgorithmicData"
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "madeUpCode",
        f"{IPTC}madeUpCode",
        "http://example.com/digitalsourcetype/trainedAlgorithmicMedia",
        "other:trainedAlgorithmicMedia",
    ],
)
def test_normalise_empty_or_unknown_is_none(value: str | None) -> None:
    assert normalise_source_type(value) is None


def test_words_for_codes_uris_and_unknowns() -> None:
    assert source_type_words(f"{IPTC}trainedAlgorithmicMedia") == "AI-generated"
    assert source_type_words("compositeWithTrainedAlgorithmicMedia") == (
        "composite with AI elements"
    )
    assert source_type_words("screenCapture") == "screen capture"
    assert source_type_words("https://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture/") == (
        "digital capture"
    )
    assert source_type_words("http://c2pa.org/digitalsourcetype/empty") == "empty (blank canvas)"
    # An unknown value is shown, flagged, not dropped.
    assert source_type_words("someVendorCode") == "unrecognised source type (someVendorCode)"
    assert source_type_words(None) == "not stated"
    assert source_type_words("") == "not stated"


def test_ai_flags_follow_iptc_definitions() -> None:
    assert is_ai(f"{IPTC}trainedAlgorithmicMedia")
    assert is_ai("compositeWithTrainedAlgorithmicMedia")
    assert is_ai("compositeSynthetic")  # IPTC 2024: "composite including generative AI elements"
    assert is_ai("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData")
    # "Purely by an algorithm not based on any sampled training data": not AI.
    assert not is_ai("algorithmicMedia")
    for code in ("digitalCapture", "screenCapture", "humanEdits", "virtualRecording", None, "x"):
        assert not is_ai(code)
    assert AI_SOURCE_TYPES.issubset({*DIGITAL_SOURCE_TYPES, "trainedAlgorithmicData"})


def test_screen_capture_flag() -> None:
    assert is_screen_capture(f"{IPTC}screenCapture")
    assert is_screen_capture("SCREENCAPTURE")
    assert not is_screen_capture("digitalCapture")
    assert not is_screen_capture(None)


def test_mime_for_pillow_formats() -> None:
    assert MIME["JPEG"] == "image/jpeg"
    assert MIME["PNG"] == "image/png"
    assert MIME["TIFF"] == "image/tiff"
    assert MIME["WEBP"] == "image/webp"
    assert MIME["HEIF"] == "image/heic"
    supported = set(c2pa.Reader.get_supported_mime_types())
    assert set(MIME.values()) <= supported


# --- a signing certificate chain made here -------------------------------------------------


@dataclass(frozen=True)
class Pki:
    chain_pem: bytes  # end-entity certificate, then the CA that issued it
    key_pem: bytes
    ca_pem: str


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_pki() -> Pki:
    """An ES256 root CA and an end-entity signing certificate with the profile C2PA checks
    (c2pa-rs certificate_profile.rs): v3, leaf not a CA and not self-signed, digitalSignature
    key usage, an allowed EKU (emailProtection), authority and subject key identifiers."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Photoarchive Test Root CA", "Photoarchive Test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(SIGNER_NAME, SIGNER_ORG))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ca_pem = ca.public_bytes(pem)
    return Pki(leaf.public_bytes(pem) + ca_pem, key_pem, ca_pem.decode())


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def make_image(fmt: str = "JPEG", colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    im = Image.new("RGB", (64, 48), colour)
    for x in range(0, 64, 4):  # some detail, so the scan data is not all one run
        im.putpixel((x, x % 48), (x * 4, 255 - x * 4, 90))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def manifest_for(*actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "photoarchive-tests", "version": "1.0"}],
        "title": "test image",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": list(actions)}}],
    }


def created(source_type: str) -> dict[str, Any]:
    return {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}


def sign(
    pki: Pki, image: bytes, mime: str, manifest: dict[str, Any], *, remote_url: str | None = None
) -> bytes:
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki.chain_pem, pki.key_pem, None)
    )
    out = io.BytesIO()
    with c2pa.Context.from_dict(BUILD_SETTINGS) as context:
        builder = c2pa.Builder(manifest, context)
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, mime, io.BytesIO(image), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def ai_jpeg(pki: Pki) -> bytes:
    return sign(pki, make_image(), "image/jpeg", manifest_for(created("trainedAlgorithmicMedia")))


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset, total length) of each JPEG segment up to and including SOS."""
    found = []
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((marker, pos, 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return found


# --- reading C2PA ---------------------------------------------------------------------------


def test_signed_ai_jpeg_is_intact_but_untrusted(ai_jpeg: bytes) -> None:
    # Our CA is on no trust list, so the manifest is intact ("Valid" to c2pa, with the single
    # failure signingCredential.untrusted) and the desk sees "untrusted", not "valid".
    report = read_c2pa(ai_jpeg, "image/jpeg")
    assert report.state == "untrusted"
    assert report.signer == SIGNER_ORG
    assert report.common_name == SIGNER_NAME
    assert report.signed_at is None  # no time-stamp authority was asked (that needs a network)
    assert report.claim_generator == "photoarchive-tests 1.0"
    assert report.source_type == "trainedAlgorithmicMedia"
    assert report.source_type_words() == "AI-generated"
    assert report.ai_generated is True
    assert report.actions == ("c2pa.created",)
    assert report.problems == ("signingCredential.untrusted: signing certificate untrusted",)
    assert report.warning is None
    assert report.present


def test_signed_jpeg_is_valid_when_its_ca_is_a_trust_anchor(pki: Pki, ai_jpeg: bytes) -> None:
    report = read_c2pa(ai_jpeg, "image/jpeg", trust_anchors=pki.ca_pem)
    assert report.state == "valid"
    assert report.problems == ()
    assert report.signer == SIGNER_ORG


def test_path_source_reads_like_bytes(ai_jpeg: bytes, tmp_path: Path) -> None:
    path = tmp_path / "signed.jpg"
    path.write_bytes(ai_jpeg)
    assert read_c2pa(path, "image/jpeg") == read_c2pa(ai_jpeg, "image/jpeg")
    # The mime is a hint: a wrong one, or none, still reads the JPEG.
    assert read_c2pa(path).state == "untrusted"
    assert read_c2pa(ai_jpeg, "image/png").source_type == "trainedAlgorithmicMedia"


def test_changed_scan_data_is_invalid_with_hash_mismatch(ai_jpeg: bytes) -> None:
    marker, offset, length = jpeg_segments(ai_jpeg)[-1]
    assert marker == 0xDA
    tampered = bytearray(ai_jpeg)
    tampered[offset + length + 10] ^= 0xFF  # a byte of entropy-coded pixel data
    report = read_c2pa(bytes(tampered), "image/jpeg")
    assert report.state == "invalid"
    assert any("dataHash.mismatch" in p for p in report.problems)
    assert "dataHash.mismatch" in (report.warning or "")
    # What the manifest claims is still reported.
    assert report.ai_generated and report.signer == SIGNER_ORG


def test_reencoded_pixels_under_the_original_manifest_are_invalid(ai_jpeg: bytes) -> None:
    # Keep the signed APP11 (JUMBF) segments where they were; replace everything else with a
    # re-encoding of different pixels.
    app11 = b"".join(ai_jpeg[o : o + n] for m, o, n in jpeg_segments(ai_jpeg) if m == 0xEB)
    assert app11
    other = make_image(colour=(30, 200, 30))
    first = jpeg_segments(other)[0]
    assert first[0] == 0xE0  # Pillow's JFIF APP0, as in the signed file
    end_app0 = first[1] + first[2]
    forged = other[:end_app0] + app11 + other[end_app0:]
    report = read_c2pa(forged, "image/jpeg")
    assert report.state == "invalid"
    assert any("dataHash.mismatch" in p for p in report.problems)


def test_edited_assertion_is_invalid(ai_jpeg: bytes) -> None:
    # Rewrite what the manifest says (the source type) without re-signing it.
    word = b"trainedAlgorithmicMedia"
    assert ai_jpeg.count(word) == 1
    forged = ai_jpeg.replace(word, b"trainedAlgorithmicMediX")
    report = read_c2pa(forged, "image/jpeg")
    assert report.state == "invalid"
    assert any("hashedURI.mismatch" in p for p in report.problems)


def test_damaged_manifest_is_invalid_not_a_crash(ai_jpeg: bytes, tmp_path: Path) -> None:
    # Break the JUMBF structure itself: the library cannot parse the manifest and raises.
    at = ai_jpeg.index(b"jumd")
    damaged = ai_jpeg[:at] + b"jumX" + ai_jpeg[at + 4 :]
    report = read_c2pa(damaged, "image/jpeg")
    assert report.state == "invalid"
    assert report.problems and report.problems[0].startswith("manifest damaged:")
    assert report.warning and report.warning.startswith("C2PA manifest fails validation")
    path = tmp_path / "damaged.jpg"
    path.write_bytes(damaged)
    assert read_c2pa(path, "image/jpeg") == report
    assert read_c2pa(bytearray(damaged), "image/jpeg") == report  # type: ignore[arg-type]


def test_every_single_byte_flip_in_the_manifest_is_handled(ai_jpeg: bytes) -> None:
    _, offset, length = next(s for s in jpeg_segments(ai_jpeg) if s[0] == 0xEB)
    for pos in range(offset, offset + length, 7):
        flipped = bytearray(ai_jpeg)
        flipped[pos] ^= 0x01
        report = read_c2pa(bytes(flipped), "image/jpeg")
        # Flips in bytes no hash covers (segment headers, padding) may leave it intact.
        assert report.state in C2PA_STATES
        if report.state == "invalid":
            assert report.problems


def test_plain_jpeg_has_no_manifest() -> None:
    report = read_c2pa(make_image(), "image/jpeg")
    assert report == C2paReport(state="absent")
    assert not report.present and report.warning is None


@pytest.mark.parametrize("data", [b"", b"garbage" * 50, b"\xff\xd8\xff" + b"\x00" * 40])
def test_garbage_does_not_raise(data: bytes) -> None:
    report = read_c2pa(data, "image/jpeg")
    assert report.state in {"unreadable", "absent"}
    assert report.ai_generated is False


def test_truncated_signed_file_is_reported(ai_jpeg: bytes) -> None:
    report = read_c2pa(ai_jpeg[: len(ai_jpeg) * 2 // 3], "image/jpeg")
    # The manifest is there but cannot be checked against a file cut short.
    assert report.state == "invalid"
    assert report.problems


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    report = read_c2pa(tmp_path / "nope.jpg", "image/jpeg")
    assert report.state == "unreadable"
    assert "No such file" in report.problems[0]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_other_formats_sign_and_read(pki: Pki, fmt: str) -> None:
    signed = sign(pki, make_image(fmt), MIME[fmt], manifest_for(created("digitalCapture")))
    report = read_c2pa(signed, MIME[fmt])
    assert report.state == "untrusted"
    assert report.source_type == "digitalCapture"
    assert report.ai_generated is False
    assert read_c2pa(make_image(fmt), MIME[fmt]).state == "absent"


def test_png_with_changed_pixels_is_invalid(pki: Pki) -> None:
    signed = sign(pki, make_image("PNG"), "image/png", manifest_for(created("screenCapture")))
    assert read_c2pa(signed, "image/png").source_type == "screenCapture"
    at = signed.index(b"IDAT") + 20
    tampered = signed[:at] + bytes([signed[at] ^ 0xFF]) + signed[at + 1 :]
    report = read_c2pa(tampered, "image/png")
    assert report.state == "invalid"
    assert report.problems


def test_edit_with_generative_ai_reports_the_ai_source_type(pki: Pki) -> None:
    manifest = manifest_for(
        created("digitalCapture"),
        {
            "action": "c2pa.edited",
            "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia",
        },
    )
    report = read_c2pa(sign(pki, make_image(), "image/jpeg", manifest), "image/jpeg")
    assert report.actions == ("c2pa.created", "c2pa.edited")
    assert report.source_type == "compositeWithTrainedAlgorithmicMedia"
    assert report.source_type_words() == "composite with AI elements"
    assert report.ai_generated is True


def test_camera_capture_is_not_ai(pki: Pki) -> None:
    manifest = manifest_for(created("digitalCapture"), {"action": "c2pa.cropped"})
    report = read_c2pa(sign(pki, make_image(), "image/jpeg", manifest), "image/jpeg")
    assert report.source_type == "digitalCapture"
    assert report.source_type_words() == "digital capture"
    assert report.ai_generated is False
    assert report.actions == ("c2pa.created", "c2pa.cropped")


def test_remote_manifest_is_not_fetched(pki: Pki) -> None:
    # 192.0.2.1 is TEST-NET: a fetch would hang or fail slowly; the reader must not try.
    signed = sign(
        pki,
        make_image(),
        "image/jpeg",
        manifest_for(created("digitalCapture")),
        remote_url="http://192.0.2.1/manifest.c2pa",
    )
    report = read_c2pa(signed, "image/jpeg")
    assert report.state == "unreadable"
    assert "remote" in report.problems[0] and "192.0.2.1" in report.problems[0]


def test_to_dict_is_plain_json(ai_jpeg: bytes) -> None:
    out = read_c2pa(ai_jpeg, "image/jpeg").to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["state"] == "untrusted"
    assert out["actions"] == ["c2pa.created"]
    assert out["ai_generated"] is True


def test_c2pa_runs_from_the_wheel_without_downloads() -> None:
    # The native library ships inside the installed package; the downloader used when building
    # the wheel is never imported.
    libs = Path(c2pa.__file__).parent / "libs"
    assert any(p.name.startswith(("libc2pa_c.", "c2pa_c.")) for p in libs.iterdir())
    assert "c2pa.build" not in sys.modules
    assert c2pa.sdk_version()
