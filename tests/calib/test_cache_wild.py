"""Every calibration cache of reference/wild/caches/ (TensorRT 5.1 to 10.7, and one look-alike that is not a cache)
through the reader a build uses (``check_cache``), bit for bit against an independent decode
(``int(hex, 16)`` as IEEE-754 float32 bits, as trtexec reads them); the forms TensorRT and other writers produce
(unpadded ``0``, upper case, CRLF, no final newline, repeated names); and properties: any text gives a cache or
one ``TrtforgeError``, and what the project writes round-trips byte for byte."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trtforge.calib.cache import (
    CACHE_FORMAT,
    CacheKey,
    cache_from_ranges,
    check_cache,
    ranges_from_cache,
    read_cache,
    sidecar_path,
    text_from_cache,
    version_number,
    version_text,
)
from trtforge.calib.ranges import Ranges

from trtforge.artifacts import sha256_file, write_json
from trtforge.cli import main
from trtforge.errors import TrtforgeError

WILD = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "wild" / "caches"
CACHES = sorted(p for p in WILD.glob("*") if p.suffix in (".cache", ".table") and not p.name.startswith("not_"))
LOOK_ALIKES = sorted(WILD.glob("not_*"))
pytestmark = pytest.mark.skipif(not WILD.is_dir(), reason=f"the wild corpus is not at {WILD}")


def independent_decode(text: str) -> tuple[str, dict[str, bytes]]:
    """Header and tensor -> float32 bytes, decoded the way trtexec does, without the project's reader."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    scales = {}
    for line in lines[1:]:
        if line.strip():
            name, _sep, value = line.rpartition(":")
            scales[name] = struct.pack(">f", struct.unpack(">f", int(value.strip(), 16).to_bytes(4, "big"))[0])
    return lines[0].strip(), scales


def _bits(values: dict[str, float]) -> dict[str, bytes]:
    return {name: struct.pack(">f", value) for name, value in values.items()}


def _served(tmp_path: Path, source: Path) -> Path:
    """A corpus cache copied beside a key sidecar that says what it was made for, as `trtforge calib` writes one."""
    path = tmp_path / source.name
    shutil.copyfile(source, path)
    header = path.read_text().split("\n")[0].strip()
    _trt, number, algorithm = header.split("-", 2)
    key = {"onnx_sha256": "o" * 64, "data_sha256": "d" * 64, "method": "entropy", "trt_version": int(number),
           "algorithm": algorithm, "target": "dla"}
    write_json(sidecar_path(path), {"format": CACHE_FORMAT, "key": key, "cache_sha256": sha256_file(path)})
    return path


def test_the_corpus_is_there() -> None:
    assert len(CACHES) == 14 and len(LOOK_ALIKES) == 1


@pytest.mark.parametrize("source", CACHES, ids=lambda p: p.name)
def test_every_wild_cache_reads_bit_for_bit_through_the_build_check(source: Path, tmp_path: Path) -> None:
    path = _served(tmp_path, source)
    header, expected = independent_decode(source.read_text())
    key = CacheKey(**json.loads(sidecar_path(path).read_text())["key"])
    parsed = check_cache(path, key, tensors=expected)  # the calibrator's check, on the same reader
    assert parsed.header == header and parsed.warnings == ()
    assert _bits(parsed.scales) == expected
    assert _bits({n: a / 127.0 for n, a in parsed.amax.items()}) == expected
    shown = parsed.to_json()
    assert set(shown) == {"header", "version", "algorithm", "scales", "warnings"}
    assert version_number(shown["version"]) == parsed.version and shown["header"] == header


@pytest.mark.parametrize("source", CACHES, ids=lambda p: p.name)
def test_a_wild_cache_written_again_keeps_every_tensor_and_value(source: Path) -> None:
    parsed = read_cache(source)
    again = ranges_from_cache(text_from_cache(parsed))
    assert list(again.bits.items()) == list(parsed.bits.items()) and again.header == parsed.header
    canonical = text_from_cache(parsed)
    assert text_from_cache(again) == canonical  # canonical text is a fixed point


@pytest.mark.parametrize("source", LOOK_ALIKES, ids=lambda p: p.name)
def test_a_look_alike_gets_one_clear_error(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TrtforgeError, match=r"starting with TRT-<N>-<algorithm>.*'<name> <amax>' text table"):
        read_cache(source)
    assert main(["cache", "show", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trtforge: error: a TensorRT calibration cache")


def test_forms_other_writers_produce_read_the_same() -> None:
    """Unpadded (``0``, ``3c0102``), upper case, CRLF, no final newline: as trtexec's int(hex, 16) reads them."""
    source = next(p for p in CACHES if p.name.startswith("trt8501"))
    text = source.read_text()
    header, expected = independent_decode(text)
    lines = text.split("\n")
    odd = [lines[0]] + [f"{n}: {v.strip().lstrip('0').upper() or '0'}" for n, _s, v in
                        (line.rpartition(":") for line in lines[1:] if line)]
    variant = "\r\n".join(odd)  # CRLF and no final newline
    parsed = ranges_from_cache(variant)
    assert _bits(parsed.scales) == expected and parsed.header == header
    zero = ranges_from_cache("TRT-100300-EntropyCalibration2\r\nzero: 0\r\ntiny: 3c0102\r\nup: 3C010204")
    assert _bits(zero.scales) == {"zero": bytes(4), "tiny": bytes.fromhex("003c0102"),
                                  "up": bytes.fromhex("3c010204")}
    assert text_from_cache(zero) == "TRT-100300-EntropyCalibration2\nzero: 00000000\ntiny: 003c0102\nup: 3c010204\n"
    bom_nul = ranges_from_cache("\ufeffTRT-100900-MinMaxCalibration\n0x3c010204: 0x3C010204 \n\x00\x00")
    assert bom_nul.bits == {"0x3c010204": 0x3C010204} and bom_nul.to_json()["version"] == "10.9.0"


def test_repeated_names_warn_when_equal_and_fail_when_not() -> None:
    same = ranges_from_cache("TRT-8502-EntropyCalibration2\na: 3c010204\nb: 3f800000\na: 3C010204\n")
    assert list(same.bits) == ["a", "b"]
    assert same.warnings == ("'a' is repeated (lines 2 and 4) with the same value",)
    with pytest.raises(TrtforgeError, match=r"one scale per tensor.*'a' with 3c010204 \(line 2\) and 3c010205 "
                                            r"\(line 3\)"):
        ranges_from_cache("TRT-8502-EntropyCalibration2\na: 3c010204\na: 3c010205\n")


@pytest.mark.parametrize("algorithm", ["EntropyCalibration2", "EntropyCalibration", "MinMaxCalibration",
                                       "LegacyCalibration"])
def test_every_calibrator_header(algorithm: str) -> None:
    parsed = ranges_from_cache(f"TRT-100700-{algorithm}\nx: 3c010204\n")
    assert parsed.algorithm == algorithm and parsed.to_json()["version"] == "10.7.0"


def test_unknown_algorithm_and_binary_files_are_one_error(tmp_path: Path) -> None:
    with pytest.raises(TrtforgeError, match="algorithm among"):
        ranges_from_cache("TRT-100700-PercentileCalibration\nx: 3c010204\n")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"ftrt\x00\x00\xff\xfe" * 10)
    with pytest.raises(TrtforgeError, match="not UTF-8 text"):
        read_cache(engine)


@pytest.mark.parametrize(("text", "number"), [("8.5.2-1+cuda11.4", 8502), ("10.3.0.30", 100300),
                                              ("8.6.1.6", 8601), ("10.7", 100700), ("5.1.0", 5100)])
def test_version_strings_as_installed(text: str, number: int) -> None:
    assert version_number(text) == number
    assert version_number(version_text(number)) == number


def test_the_tao_formula_for_tensorrt_10_warns() -> None:
    parsed = ranges_from_cache("TRT-10300-EntropyCalibration2\nx: 3c010204\n")
    assert parsed.to_json()["version"] == "10.3.0" and "100300" in parsed.warnings[0]


def test_cache_show_json_on_a_corpus_file(capsys: pytest.CaptureFixture[str]) -> None:
    source = next(p for p in CACHES if p.name.startswith("trt100700_mobileone"))
    assert main(["cache", "show", str(source), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown) == ["header", "version", "algorithm", "scales", "warnings"]
    assert shown["header"] == "TRT-100700-EntropyCalibration2" and shown["version"] == "10.7.0"
    assert _bits(shown["scales"]) == independent_decode(source.read_text())[1]
    assert main(["cache", "show", str(source)]) == 0
    text = capsys.readouterr().out
    assert "TRT-100700-EntropyCalibration2" in text and "95 tensors" in text and "input0" in text


# ---------------------------------------------------------------------------------------------- properties

_NAMES = st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1,
                 max_size=20).filter(lambda n: n.strip() != "" and n == n.strip())
_FLOATS = st.floats(width=32, allow_nan=False, min_value=0.0, max_value=2.0**100)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_cache_or_one_trtforge_error(text: str) -> None:
    try:
        parsed = ranges_from_cache(text)
    except TrtforgeError:
        return
    assert ranges_from_cache(text_from_cache(parsed)).bits == parsed.bits


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["TRT-8601-EntropyCalibration2", "a: 3c010204", "a: 0", "b:c: 3F800000", "\r",
                                 "", "x 1.5", "n: zz", "TRT-x-y", "a: 3c010205", ": 1", "\ufeff", "q:"]),
                max_size=8))
def test_any_arrangement_of_cache_like_lines_gives_a_cache_or_one_trtforge_error(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        parsed = ranges_from_cache(text)
    except TrtforgeError:
        return
    assert parsed.header == "TRT-8601-EntropyCalibration2"


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_NAMES, _FLOATS, min_size=1, max_size=12),
       st.sampled_from(["5.1.0", "8.6.1", "10.3.0", "10.7.0"]))
def test_what_the_project_writes_round_trips_byte_for_byte(amax: dict[str, float], version: str) -> None:
    ranges = Ranges(amax={n: a * 127.0 for n, a in amax.items()}, method="entropy", onnx_sha256="",
                    data_sha256="", synthetic=False)
    text = cache_from_ranges(ranges, version)
    parsed = ranges_from_cache(text)
    assert text_from_cache(parsed) == text
    assert cache_from_ranges(Ranges(parsed.amax, "entropy", "", "", False), version) == text
