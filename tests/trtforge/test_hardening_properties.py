"""Issue 12 item 5: property tests of the config loader. Any input (a TOML file's bytes, a parsed table, a list
of ``--set`` overrides, an ``--out`` path) gives a ``Config`` or one single-line ``TrtforgeError``, never
another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtforge.config import Config, config_from_dict, load_config
from trtforge.errors import TrtforgeError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = ["name", "model", "inputs", "outputs", "max_batch_size", "dynamic_batch", "precision", "default_device",
        "device_types", "gpu_fallback", "require_dla", "dla_core", "opset", "seed", "description", "output_dir",
        "target", "calibration", "gates", "compare", "bench", "platform", "percentile", "mean", "std", "crop",
        "x", "input", "batches", "min_dla_node_share", "max_islands", ""]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["fp16", "int8", "DLA", "GPU", "orin", "xavier", "resnet18", "synthetic"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=12)
TABLES = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)
GOOD = {"model": "resnet18", "inputs": {"x": [3, 8, 8]}}


def _outcome(call: Any) -> Config | TrtforgeError:
    try:
        result = call()
    except TrtforgeError as err:
        assert "\n" not in str(err), str(err)
        return err
    assert isinstance(result, Config)
    return result


@SETTINGS
@given(TABLES)
def test_item05_any_table_gives_a_config_or_one_error(raw: dict[str, Any]) -> None:
    _outcome(lambda: config_from_dict({**GOOD, "name": "p", **raw}))
    _outcome(lambda: config_from_dict(raw))


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_item05_any_file_bytes_give_a_config_or_one_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_bytes(data)
        _outcome(lambda: load_config(str(path)))


OVERRIDE_KEYS = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(".".join) | st.text(max_size=10)
OVERRIDE_VALUES = st.sampled_from(["1", "-1", "99", "1.5", "true", "'x'", '"../x"', "[1,2]", "{a=1}", "[3,32",
                                   "", "nan", "inf", "1e400", "'\\u0000'", "{}", "[]"]) | st.text(max_size=10)


@SETTINGS
@given(st.lists(st.tuples(OVERRIDE_KEYS, st.sampled_from(["=", ""]), OVERRIDE_VALUES).map("".join), max_size=4),
       st.none() | st.text(max_size=20))
def test_item05_any_overrides_and_out_give_a_config_or_one_error(overrides: list[str], out: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text('model = "resnet18"\nseed = 0\nmax_batch_size = 1\n[inputs]\nx = [3, 8, 8]\n'
                        '[calibration]\nmean = [0.5, 0.5, 0.5]\n')
        result = _outcome(lambda: load_config(str(path), overrides, output_dir=out))
    if isinstance(result, Config):
        assert "/" not in result.name and result.name not in ("", ".", "..")
        if out is not None:
            assert result.output_dir == out  # --out is the path as given, never parsed


def test_item05_control_characters_in_what_is_quoted_stay_on_one_line() -> None:
    """Hypothesis found it: ``--set $'\\n=1'`` quoted the key's newline raw into the message."""
    err = TrtforgeError.of("an override of the form key=value", found="\n=1\x00")
    assert str(err) == "an override of the form key=value; found \\n=1\\x00"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text('model = "resnet18"\n[inputs]\nx = [3, 8, 8]\n')
        assert isinstance(_outcome(lambda: load_config(str(path), ["name=1", "\n=1"])), TrtforgeError)
