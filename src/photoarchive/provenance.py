"""Provenance: IPTC digital source types in words, AI flags, C2PA manifests read and validated."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

# c2pa-python ships no py.typed; its API is used through the few calls below.

# The IPTC NewsCodes Digital Source Type vocabulary (http://cv.iptc.org/newscodes/digitalsourcetype/,
# release 2024-10-23: 20 concepts, three of them retired but still met in older files), short
# code -> the words the desk sees. Words follow IPTC's names, shortened.
DIGITAL_SOURCE_TYPES: dict[str, str] = {
    "digitalCapture": "digital capture",
    "computationalCapture": "computational capture (multi-frame, e.g. HDR)",
    "negativeFilm": "scan of a film negative",
    "positiveFilm": "scan of a film positive",
    "print": "scan of a print",
    "minorHumanEdits": "minor human edits",  # retired 2024, replaced by humanEdits
    "humanEdits": "human-edited",
    "algorithmicallyEnhanced": "algorithmically enhanced",
    "softwareImage": "created by software",  # retired 2022, the 2008 vocabulary's fifth term
    "digitalArt": "digital art",  # retired 2024, replaced by digitalCreation
    "digitalCreation": "digital creation",
    "dataDrivenMedia": "data-driven media",
    "trainedAlgorithmicMedia": "AI-generated",
    "algorithmicMedia": "purely algorithmic (no AI)",
    "screenCapture": "screen capture",
    "virtualRecording": "virtual event recording",
    "composite": "composite",
    "compositeCapture": "composite of captures",
    "compositeSynthetic": "composite including generative AI elements",
    "compositeWithTrainedAlgorithmicMedia": "composite with AI elements",
}

# Values the C2PA specification adds for c2pa.actions (namespace http://c2pa.org/digitalsourcetype/).
C2PA_SOURCE_TYPES: dict[str, str] = {
    "empty": "empty (blank canvas)",
    "trainedAlgorithmicData": "AI-generated data",
}

# Generative AI made all or part of the content. IPTC's 2024 definitions: trainedAlgorithmicMedia
# is made by a model trained on sampled content; compositeWithTrainedAlgorithmicMedia is media
# edited with such a model (inpainting, outpainting); compositeSynthetic is now named "Composite
# including generative AI elements". Not AI: algorithmicMedia is defined as made "purely by an
# algorithm not based on any sampled training data", and virtualRecording may or may not involve
# generative AI, so claiming it would be a guess.
AI_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",
        "trainedAlgorithmicData",
    }
)

# Pillow format name -> the MIME type c2pa is told (MPO is Pillow's name for multi-picture JPEG).
MIME: dict[str, str] = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}

# The states read_c2pa reports, from best to worst news.
C2PA_STATES = ("valid", "untrusted", "invalid", "unreadable", "absent")

_IPTC_PREFIX = "cv.iptc.org/newscodes/digitalsourcetype/"
_C2PA_PREFIX = "c2pa.org/digitalsourcetype/"
_QCODE_PREFIX = "digsrctype:"
_BY_LOWER = {code.lower(): code for code in (*DIGITAL_SOURCE_TYPES, *C2PA_SOURCE_TYPES)}

# UUID of a C2PA manifest store's JUMBF description box ("c2pa" + the ISO suffix); finding it in a
# file the library cannot read tells a damaged manifest from a file that never had one.
_STORE_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
_SCAN_CHUNK = 1 << 20
# Keep problem lines short enough for a table cell or a log line.
_MAX_PROBLEM = 200
# Failure codes that say nothing against the manifest's integrity.
_UNTRUSTED = "signingCredential.untrusted"

# Reading never touches the network: no remote manifests, no OCSP, and an empty host allow-list so
# nothing else the library might resolve (CAWG identity did:web, timestamps) is fetched either.
_OFFLINE_SETTINGS: dict[str, Any] = {
    "verify": {
        "verify_after_reading": True,
        "verify_trust": True,
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
    },
    "core": {"allowed_network_hosts": []},
}


def normalise_source_type(value: str | None) -> str | None:
    """Return the canonical short code for a digital source type given as the IPTC URI (http or
    https, with or without trailing slash), the QCode (digsrctype:...), the C2PA URI or the bare
    code in any case; None for empty or unrecognised values.

    Unknown values give None rather than themselves, so a caller never mistakes a misspelling
    for a vocabulary term; keep the raw value beside it, and source_type_words() shows it."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().rstrip("/")
    lower = text.lower()
    for scheme in ("https://", "http://"):
        if lower.startswith(scheme):
            lower = lower[len(scheme) :]
            break
    if lower.startswith("www."):
        lower = lower[4:]
    for prefix in (_IPTC_PREFIX, _C2PA_PREFIX, _QCODE_PREFIX):
        if lower.startswith(prefix):
            lower = lower[len(prefix) :]
            break
    else:
        if "/" in lower or ":" in lower:  # some other vocabulary's URI or QCode
            return None
    return _BY_LOWER.get(lower)


def source_type_words(value: str | None) -> str:
    """Return the words for a digital source type (code, URI or QCode); an unrecognised value is
    shown as it was written, flagged, rather than hidden."""
    code = normalise_source_type(value)
    if code is not None:
        return DIGITAL_SOURCE_TYPES.get(code) or C2PA_SOURCE_TYPES[code]
    if not value or not value.strip():
        return "not stated"
    return f"unrecognised source type ({value.strip()[:_MAX_PROBLEM]})"


def is_ai(value: str | None) -> bool:
    """True when the source type says generative AI made all or part of the picture."""
    return normalise_source_type(value) in AI_SOURCE_TYPES


def is_screen_capture(value: str | None) -> bool:
    """True when the source type says the picture is a capture of a screen."""
    return normalise_source_type(value) == "screenCapture"


@dataclass(frozen=True)
class C2paReport:
    """What a picture's C2PA manifest says and whether it holds up.

    state is one of C2PA_STATES: "absent" (no manifest), "valid" (intact and signed by a
    certificate that chains to a trust anchor we were given), "untrusted" (intact, but the signer
    is not on a trust list), "invalid" (a hash, signature or structure check failed: edited
    after signing, or the manifest is damaged), "unreadable" (the file could not be read, or its
    manifest is stored remotely and was not fetched)."""

    state: str
    #: Who signed: the organisation named in the signing certificate (what c2pa calls the
    #: "issuer" of the claim, e.g. "Adobe Inc."), else the certificate's common name.
    signer: str | None = None
    #: Common name of the signing certificate (often the product that signed).
    common_name: str | None = None
    #: When a time-stamp authority vouched for the signature (ISO 8601), else None.
    signed_at: str | None = None
    claim_generator: str | None = None
    #: Canonical short code of the declared digital source type (see source_type_words).
    source_type: str | None = None
    #: A c2pa.actions assertion (here or in an ingredient's manifest) declares generative AI.
    ai_generated: bool = False
    #: Action names of the active manifest in order, e.g. ("c2pa.created", "c2pa.edited").
    actions: tuple[str, ...] = ()
    #: Validation failures ("code: explanation") or why the file could not be read.
    problems: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """False only when the file was read and carries no manifest."""
        return self.state != "absent"

    @property
    def warning(self) -> str | None:
        """A one-line warning for the desk when the manifest does not hold up, else None."""
        if self.state == "invalid":
            return "C2PA manifest fails validation: " + "; ".join(self.problems[:2])
        if self.state == "unreadable":
            return "C2PA manifest could not be checked: " + "; ".join(self.problems[:1])
        return None

    def source_type_words(self) -> str | None:
        """The declared source type in words, None when the manifest declares none."""
        return source_type_words(self.source_type) if self.source_type else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        out["actions"] = list(self.actions)
        out["problems"] = list(self.problems)
        return out


def read_c2pa(
    source: bytes | Path, mime: str | None = None, *, trust_anchors: str | None = None
) -> C2paReport:
    """Read and validate the C2PA manifest of an image given as bytes or a path; never raises.

    mime is a hint (see MIME); the library checks it against the bytes. trust_anchors is PEM text
    of CA certificates to trust (for example the C2PA trust list, saved locally): without it no
    signer is trusted, so an intact manifest reports "untrusted". No network access is made."""
    # Imported here: searches and verdicts use this module's vocabulary, and the library
    # (a native extension) costs 20 ms to load.
    import c2pa  # type: ignore[import-untyped]

    if isinstance(source, bytearray | memoryview):  # tolerated: any bytes-like buffer
        source = bytes(source)
    settings = dict(_OFFLINE_SETTINGS)
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    try:
        with (
            _open(source) as stream,
            c2pa.Context.from_dict(settings) as context,
            c2pa.Reader(mime or None, stream, None, context) as reader,
        ):
            store = json.loads(reader.json())
    except Exception as exc:  # C2paError and its subclasses; OSError for a path
        return _failure(source, exc)
    if not isinstance(store, dict):
        return C2paReport(state="unreadable", problems=("the manifest store is not a JSON object",))
    return _report(store)


def _open(source: bytes | Path) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return Path(source).open("rb")


def _failure(source: bytes | Path, exc: Exception) -> C2paReport:
    """Map what the library raised to a state: no manifest, a damaged one, or an unreadable file."""
    import c2pa

    message = _short(str(exc) or type(exc).__name__)
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return C2paReport(state="absent")
    # The library words a remote reference it may not fetch as "Remote: ..." (no subclass).
    if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote:"):
        return C2paReport(
            state="unreadable",
            problems=(f"the manifest is stored remotely and was not fetched ({message})",),
        )
    if isinstance(exc, c2pa.C2paError) and _has_manifest_store(source):
        # The file carries a manifest store the library cannot parse or verify: tampered or
        # damaged, which the C2PA specification counts as an invalid manifest.
        return C2paReport(state="invalid", problems=(f"manifest damaged: {message}",))
    return C2paReport(state="unreadable", problems=(message,))


def _has_manifest_store(source: bytes | Path) -> bool:
    try:
        if isinstance(source, bytes):
            return _STORE_UUID in source
        tail = b""
        with Path(source).open("rb") as fh:
            while chunk := fh.read(_SCAN_CHUNK):
                if _STORE_UUID in tail + chunk:
                    return True
                tail = chunk[-(len(_STORE_UUID) - 1) :]
    except (OSError, TypeError, ValueError):
        pass
    return False


def _report(store: dict[str, Any]) -> C2paReport:
    manifests = store.get("manifests")
    if not isinstance(manifests, dict):
        manifests = {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) if isinstance(active_label, str) else None
    if not isinstance(active, dict):
        return C2paReport(state="invalid", problems=("the manifest store has no active manifest",))
    failures = _failures(store)
    state = _state(store.get("validation_state"), failures)
    signature = active.get("signature_info")
    signature = signature if isinstance(signature, dict) else {}
    common_name = _text(signature.get("common_name"))
    # signature_info "issuer" is the organisation in the signing certificate's subject (c2pa-rs
    # cose_validator.rs), i.e. who issued the claim, not the CA.
    organisation = _text(signature.get("issuer"))
    actions = list(_actions(active))
    names = tuple(dict.fromkeys(name for name, _ in actions if name))
    declared = [code for _, code in actions if code]
    source_type = _pick_source_type(actions) or _metadata_source_type(active)
    # Ingredients' manifests count for the AI flag: a picture made from an AI image contains one.
    history = [
        code
        for label, manifest in manifests.items()
        if label != active_label and isinstance(manifest, dict)
        for _, code in _actions(manifest)
        if code
    ]
    ai = any(code in AI_SOURCE_TYPES for code in (*declared, *history, source_type))
    # Integrity failures first: they are what a one-line warning should show.
    failures.sort(key=lambda s: s["code"] == _UNTRUSTED)
    problems = tuple(dict.fromkeys(_problem(s) for s in failures))
    return C2paReport(
        state=state,
        signer=organisation or common_name,
        common_name=common_name,
        signed_at=_text(signature.get("time")),
        claim_generator=_claim_generator(active),
        source_type=source_type,
        ai_generated=ai,
        actions=names,
        problems=problems,
    )


def _failures(store: dict[str, Any]) -> list[dict[str, Any]]:
    """Failure statuses of the active manifest and its ingredients (validation_results), or the
    older flat validation_status list when results are missing."""
    results = store.get("validation_results")
    found: list[Any] = []
    if isinstance(results, dict):
        active = results.get("activeManifest")
        if isinstance(active, dict):
            found.extend(active.get("failure") or [])
        for delta in results.get("ingredientDeltas") or []:
            deltas = delta.get("validationDeltas") if isinstance(delta, dict) else None
            if isinstance(deltas, dict):
                found.extend(deltas.get("failure") or [])
    else:
        found.extend(store.get("validation_status") or [])
    return [s for s in found if isinstance(s, dict) and isinstance(s.get("code"), str)]


def _state(validation_state: Any, failures: list[dict[str, Any]]) -> str:
    codes = {s["code"] for s in failures}
    if validation_state == "Trusted":
        return "valid"
    if validation_state == "Valid":
        # Intact; c2pa-rs also tolerates CAWG identity failures here, which leave a trusted
        # signer trusted.
        return "untrusted" if _UNTRUSTED in codes else "valid"
    if validation_state == "Invalid":
        return "invalid"
    # No state from the library: judge by the codes as c2pa-rs does.
    if codes - {_UNTRUSTED}:
        return "invalid"
    return "untrusted" if codes else "valid"


def _actions(manifest: dict[str, Any]) -> Iterator[tuple[str | None, str | None]]:
    """(action name, canonical source type) for every action of the c2pa.actions assertions."""
    for assertion in _assertions(manifest):
        label = assertion.get("label")
        if not (isinstance(label, str) and label.split(".v")[0] == "c2pa.actions"):
            continue
        data = assertion.get("data")
        entries = data.get("actions") if isinstance(data, dict) else None
        for action in entries if isinstance(entries, list) else []:
            if not isinstance(action, dict):
                continue
            params = action.get("parameters")
            # v1 actions could carry the source type only among the parameters.
            raw = action.get("digitalSourceType") or (
                params.get("digitalSourceType") if isinstance(params, dict) else None
            )
            name = action.get("action")
            yield (name if isinstance(name, str) else None), normalise_source_type(_text(raw))


def _pick_source_type(actions: list[tuple[str | None, str | None]]) -> str | None:
    """The source type to report: an AI one wherever it appears (an edit with generative fill
    makes the picture "composite with AI elements" whatever it was created as), else the one
    c2pa.created declares, else the first declared."""
    for _, code in actions:
        if code in AI_SOURCE_TYPES:
            return code
    for name, code in actions:
        if name == "c2pa.created" and code:
            return code
    return next((code for _, code in actions if code), None)


def _metadata_source_type(manifest: dict[str, Any]) -> str | None:
    """Iptc4xmpExt:DigitalSourceType from a signed metadata assertion (stds.iptc, c2pa.metadata)."""
    for assertion in _assertions(manifest):
        data = assertion.get("data")
        if isinstance(data, dict):
            code = normalise_source_type(_text(data.get("Iptc4xmpExt:DigitalSourceType")))
            if code:
                return code
    return None


def _assertions(manifest: dict[str, Any]) -> Iterable[dict[str, Any]]:
    found = manifest.get("assertions")
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name = _text(info[0].get("name"))
        version = _text(info[0].get("version"))
        if name:
            return f"{name} {version}" if version else name
    return _text(manifest.get("claim_generator"))


def _problem(status: dict[str, Any]) -> str:
    code = status["code"]
    explanation = _text(status.get("explanation"))
    return _short(f"{code}: {explanation}" if explanation else code)


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_PROBLEM else text[: _MAX_PROBLEM - 1] + "…"
