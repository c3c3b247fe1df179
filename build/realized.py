"""Realized placement: what the builder really put on DLA and GPU, read from its log, and how it differs from the plan.

The wording is observed, not contractual (reference/tensorrt_dla.md 1.6, reference/wild/logs/ for TensorRT 5 to
8.6 on Xavier, Orin and Nano), so the reader is built from what TensorRT printed:

- **Prefixes** are stripped from every line first: trtexec ``[MM/DD/YYYY-hh:mm:ss] [I] [TRT] ``, TensorRT 8+'s
  Python logger ``[...] [TRT] [I] ``, TensorRT 7's ``[TensorRT] INFO: ``, DeepStream ``INFO: [TRT]: ``,
  Polygraphy ``[I] ``, jetson-inference ``[TRT]    ``, the capture of ``trtforge.build.engine``
  (``INFO: <msg>``), and ``#`` where a log was kept as comments.
- **The summary**: ``Layers running on DLA`` / ``Layers running on GPU`` headers, TensorRT 8+ style
  (``---------- Layers Running on DLA ----------`` then one ``[DlaLayer] {ForeignNode[first...last]}`` or
  ``[GpuLayer] TYPE: name`` line per entry, TYPE optional) and TensorRT 5-7 style
  (``--------------- Layers running on DLA:`` then one message ``{a,b,c}, {d,e}, `` / ``a + b, c, ``). A section
  ends at a dash line, the next header or the first line that is not an entry. A ForeignNode is a range in network
  order (``first...last``), a single layer, or a fused name (``Gemm_15 + linear.bias + ...``); fused names
  (``a + b``, ``PWN(PWN(a), b)``) stand for each of their layers.
- **Fallbacks**, each with its reason: the line's own wording, plus the DLA diagnostics printed since the previous
  fallback (``<layer>: DLA only supports concatenation on the C dimension.``). The global lines (``All dla layers
  are falling back to GPU``, ``setDefaultDeviceType was called but no layer in the network can run on DLA``) are
  kept apart.

A log without a ``Layers running on DLA`` header gives ``devices=None`` ("unknown"), never "all on GPU". Lines that
look like placement or fallback messages but cannot be read (a cut entry, an unknown fallback wording, entries
without a header, a range whose ends are not among the layers) are counted in ``unparsed``, never guessed at.
An engine built with no DLA placement applied runs every layer on the GPU by construction (``all_on_gpu``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NO_SUMMARY = "builder log has no 'Layers running on DLA/GPU' summary"
_TIMESTAMP = r"\[\d{1,2}/\d{1,2}/\d{2,4}-\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\]"
_ISO_TIME = r"\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?"
_LEVELS = r"k?(?:INFO|WARNING|WARN|ERROR|VERBOSE|INTERNAL_ERROR|DEBUG)"
_PREFIX = re.compile(  # also markdown quotes and code ticks, ISO timestamps, [INFO] and "- INFO -" of Python logging
    r"\s*(?:#+|>+|`+|" + _TIMESTAMP + "|" + _ISO_TIME + r"|\[(?P<letter>[IWEVFXUSD!])\]|\[(?:TRT|TensorRT)\]:?"
    r"|(?P<word>" + _LEVELS + r"):(?=\s|$)|\[(?P<bracketed>" + _LEVELS + r")\]:?|-\s(?P<dashed>" + _LEVELS +
    r")\s-(?=\s|$))")
_SEVERITY = {"I": "INFO", "W": "WARNING", "E": "ERROR", "V": "VERBOSE", "X": "VERBOSE", "U": "VERBOSE",
             "D": "VERBOSE", "F": "INFO", "S": "INFO", "!": "ERROR", "WARN": "WARNING", "DEBUG": "VERBOSE"}
_HEADER = re.compile(r"(?:^|(?<=[\s\-\]]))-*\s*Layers\s+running\s+on\s+(DLA|GPU)\s*(:)?\s*(-*)\s*$", re.I)
_DASHES = re.compile(r"^-{3,}\s*$")
_TAG = re.compile(r"\[(DlaLayer|GpuLayer)\]\s*", re.I)
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*:\s+")
_FOREIGN = re.compile(r"^\{ForeignNode\[(?P<inner>.*)\]\}$")
_GROUP = re.compile(r"^\{(?P<inner>[^{}]*)\}$")
_PWN = re.compile(r"^PWN\((?P<inner>.*)\)$")
_TYPED = re.compile(r"^(.*\S)\[[A-Za-z][A-Za-z0-9]*\]$")
_GROUPS_ONLY = re.compile(r"^(?:\{[^{}]*\}\s*,?\s*)+$")  # a TensorRT 5-7 DLA list continued on another line

# (pattern, reason); "{x}" in the reason is filled from the named group x. Sources: reference/wild/logs/ and
# reference/tensorrt_dla.md 1.6 [I7].
_FALLBACKS = (
    (re.compile(r"Layer '(?P<layer>.+)' \((?P<type>[^()]*)\): Unsupported on DLA\. Switching this layer's device "
                r"type to GPU"), "unsupported on DLA ({type})"),
    (re.compile(r"^Layer (?P<layer>.+) \((?P<type>[A-Z0-9_]+)\): Unsupported on DLA\. Switching"),
     "unsupported on DLA ({type})"),
    (re.compile(r"Default DLA is enabled but layer (?P<layer>.+?) is not (?P<what>supported|running) on DLA[,.;]? "
                r"(?:and )?(?:is )?falling back to GPU"), "not {what} on DLA"),
    (re.compile(r"Validation failed for DLA layer: (?P<layer>.+?)\. Switching to GPU fallback"),
     "DLA validation failed"),
    (re.compile(r"Splitting DLA subgraph at: (?P<layer>.+?) because (?P<why>.+?)\.?$"), "DLA subgraph split: {why}"),
    (re.compile(r"DLA only supports FP16 and Int8 precision type\. Switching (?P<layer>.+?) device type to GPU"),
     "DLA only supports FP16 and Int8 precision type"),
    (re.compile(r"DLA supports only (?P<n>\d+) subgraphs per DLA core\. Switching to GPU for layer "
                r"(?P<layer>.+?)\s*$"), "DLA supports only {n} subgraphs per DLA core"),
    (re.compile(r"^Node: (?P<layer>.+?) cannot run in INT8 mode due to missing scale and zero point\. This node "
                r"will not run on DLA"), "missing INT8 scale and zero point"),
)
_GLOBAL = re.compile(r"All dla layers are falling back to GPU|setDefaultDeviceType was called but no layer in the "
                     r"network can run on DLA", re.I)
_FALLBACK_LIKE = re.compile(r"fall(?:ing|s)?[ -]?back|\bswitch\w*\b|\bwill not run on\b", re.I)  # and a device:
_DEVICE_WORD = re.compile(r"\b(?:dla|gpu)\b", re.I)
_NOT_FALLBACK = re.compile(r"allow(?:ed)? gpu fallback|gpu[ _]fallback\s*[:=]|--allowGPUFallback", re.I)
_SUMMARY_LIKE = re.compile(r"layers\s+running\s+on|\[(?:DlaLayer|GpuLayer)\]", re.I)
_DIAGNOSTIC = re.compile(r"\bdla\b", re.I)  # and a limitation: the reason lines of [I7] and reference/wild/logs/
_LIMITATION = re.compile(r"\b(?:not|only|cannot|can't|unsupported|requires?|must|exceeds?|less than|invalid|"
                         r"fail(?:s|ed)?|too)\b", re.I)
MAX_REASONS = 3


@dataclass(frozen=True)
class Message:
    """One logged message without its prefixes; ``severity`` is ``None`` where the prefix did not say."""

    severity: str | None
    text: str


@dataclass(frozen=True)
class Realized:
    """``devices``: layer -> "DLA"/"GPU" (``None``: the log has no summary, unknown); ``fallbacks``: the layers
    the builder moved from DLA to GPU, in log order, with ``reasons[layer]``; ``global_fallbacks``: the lines that
    concern the whole network; ``unparsed``: placement- or fallback-looking lines that could not be read;
    ``unmatched``: names in the summary that are not among the given layers."""

    devices: dict[str, str] | None
    fallbacks: tuple[str, ...]
    source: str
    reasons: Mapping[str, str] = field(default_factory=dict)
    global_fallbacks: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()

    @property
    def summary_found(self) -> bool:
        return self.devices is not None

    def to_json(self) -> dict[str, Any]:
        """``trtforge realized --json``: exactly summary_found, devices, fallbacks (layer, reason), unparsed_lines."""
        return {"summary_found": self.summary_found, "devices": self.devices,
                "fallbacks": [{"layer": name, "reason": self.reasons.get(name, "")} for name in self.fallbacks],
                "unparsed_lines": len(self.unparsed)}


# ---------------------------------------------------------------------------------------------- messages


def message_from_line(line: str) -> Message:
    """Strip the logger prefixes (any order, repeated) from one log line."""
    severity: str | None = None
    rest = line.rstrip("\r\n")
    while True:
        match = _PREFIX.match(rest)
        if not match or match.end() == 0:
            break
        token = match.group("letter") or match.group("word") or match.group("bracketed") or match.group("dashed")
        if token:
            word = token[1:] if token.startswith("k") and token[1:].isupper() else token
            severity = _SEVERITY.get(word, word)
        rest = rest[match.end():]
    return Message(severity, rest.strip())


def messages_from_text(text: str) -> list[Message]:
    return [message_from_line(line) for line in text.splitlines()]


# ---------------------------------------------------------------------------------------------- entries


def names_from_entry(entry: str) -> list[str]:
    """The layer names one summary entry or inspector layer name stands for (a range keeps its two ends joined
    by ``...``: see ``_members``)."""
    text = entry.strip()
    foreign = _FOREIGN.match(text)
    if foreign:
        return [foreign.group("inner")]
    group = _GROUP.match(text)
    if group:
        return [n.strip() for n in group.group("inner").split(",") if n.strip()]
    return fused_names(text)


def fused_names(text: str) -> list[str]:
    """``a + b`` -> [a, b]; ``PWN(PWN(a), b)`` -> [a, b]; anything else is itself."""
    pwn = _PWN.match(text)
    if pwn:
        return [n for part in _split_top(pwn.group("inner"), ",") for n in fused_names(part.strip())]
    parts = [p.strip() for p in _split_top(text, " + ")]
    if len(parts) > 1:
        return [n for part in parts if part for n in fused_names(part)]
    return [text] if text else []


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets (``()``, ``[]``, ``{}``)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _balanced(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in ("()", "[]", "{}"))


@dataclass(frozen=True)
class _Members:
    explicit: tuple[str, ...]  # named in the entry
    inferred: tuple[str, ...]  # inside a ForeignNode range, by network order
    unmatched: tuple[str, ...]
    resolved: bool


def _members(entry: str, order: Mapping[str, int], names: Sequence[str]) -> _Members:
    text = entry.strip()
    foreign = _FOREIGN.match(text)
    if foreign:
        return _foreign_members(foreign.group("inner"), order, names)
    found = names_from_entry(text)
    if order and text in order:
        found = [text]
    found = [_known(n, order) for n in found]
    known = [n for n in found if not order or n in order]
    return _Members(tuple(known), (), tuple(n for n in found if order and n not in order), bool(known) or not order)


def _known(name: str, order: Mapping[str, int]) -> str:
    """``name``, or ``name`` without the ``[Type]`` TensorRT 7-8.0 appends to some entries (``2253[Constant]``)
    when only that is a layer."""
    typed = _TYPED.match(name)
    return typed.group(1) if typed and name not in order and typed.group(1) in order else name


def _foreign_members(inner: str, order: Mapping[str, int], names: Sequence[str]) -> _Members:
    """``first...last`` (either end may be a fused name) is a range in network order; anything else names its
    layers. The split is the ``...`` whose two sides both name layers (names may hold dots). A range with only one
    end among the layers places that end and is unresolved (its inside is unknown)."""
    one_end: list[str] = []
    for at in (m.start() for m in re.finditer(r"(?=\.\.\.)", inner)):
        left, right = inner[:at], inner[at + 3:]
        if not order:
            if left and right:
                return _Members((*fused_names(left), *fused_names(right)), (), (), True)
            continue
        first, last = _resolve(left, order), _resolve(right, order)
        if first and last:
            ends = [*first, *last]
            low, high = min(order[n] for n in ends), max(order[n] for n in ends)
            inside = tuple(n for n in names[low:high + 1] if n not in ends)
            return _Members(tuple(ends), inside, (), True)
        one_end = one_end or first or last
    whole = _resolve(inner, order) if order else fused_names(inner)
    if whole and not one_end:
        rest = tuple(n for n in fused_names(inner) if order and n not in order and n != inner)
        return _Members(tuple(whole), (), rest, True)
    return _Members(tuple(one_end), (), (inner,), False)


def layers_named_by(entry: str, layer_names: Sequence[str]) -> list[str]:
    """The layers of ``layer_names`` (network order) that a summary entry or an engine layer's name stands for:
    itself, the parts of a fused name, every layer of a ``{ForeignNode[first...last]}`` range, a ``{a,b}`` group."""
    names = list(dict.fromkeys(layer_names))
    members = _members(entry, {name: i for i, name in enumerate(names)}, names)
    return [*members.explicit, *members.inferred]


def _resolve(text: str, order: Mapping[str, int]) -> list[str]:
    """The layers ``text`` names (itself, or the parts of a fused name), [] if none is a layer."""
    if not order:
        return []
    if _known(text, order) in order:
        return [_known(text, order)]
    return [_known(n, order) for n in fused_names(text) if _known(n, order) in order]


# ---------------------------------------------------------------------------------------------- summary


@dataclass
class _Summary:
    dla_seen: bool = False
    gpu_seen: bool = False
    entries: list[tuple[str, str]] = field(default_factory=list)  # (device, entry text)
    unparsed: list[str] = field(default_factory=list)


def summary_from_messages(messages: Sequence[Message]) -> _Summary:
    """The summary's entries, per device, from the messages in order."""
    summary = _Summary()
    section: str | None = None
    list_style = False
    first = False
    junk: re.Pattern[str] | None = None  # an unknown prefix the header line had, digits generalised
    for message in messages:
        text = message.text
        header = _HEADER.search(text)
        if header:
            section = header.group(1).upper()
            if section == "DLA" and summary.gpu_seen:  # a second build in one log: its summary is the engine's
                summary.entries, summary.gpu_seen = [], False
            summary.dla_seen |= section == "DLA"
            summary.gpu_seen |= section == "GPU"
            list_style, first = bool(header.group(2)) or not header.group(3), True
            lead = text[:header.start()]
            junk = re.compile(re.sub(r"\d+", r"\\d+", re.escape(lead))) if lead.strip() else None
            continue
        if junk is not None and (seen := junk.match(text)):
            text = text[seen.end():].strip()
        if section is not None and not list_style and not text:
            continue  # a blank line inside a tagged section (pasted logs) does not end it
        tag = _TAG.search(text)
        if section is not None and tag:
            device = "DLA" if tag.group(1).lower() == "dlalayer" else "GPU"
            _add_entry(summary, device, _TYPE.sub("", text[tag.end():], count=1), text)
            first = False
            continue
        if section is not None and list_style and not _DASHES.match(text) and (
                first or (section == "DLA" and _GROUPS_ONLY.match(text))):
            _add_list(summary, section, text)
            first = False
            continue
        section = None
        if _SUMMARY_LIKE.search(text):
            summary.unparsed.append(text)
    if not summary.dla_seen and summary.entries:
        summary.unparsed += [entry for _device, entry in summary.entries]
        summary.entries = []
    return summary


def _add_entry(summary: _Summary, device: str, entry: str, line: str) -> None:
    entry = entry.strip()
    if not entry or not _balanced(entry):
        summary.unparsed.append(line)
        return
    summary.entries.append((device, entry))


def _add_list(summary: _Summary, device: str, text: str) -> None:
    """TensorRT 5-7: one message lists the section, ``{a,b}, {c}, `` (DLA) or ``a + b, c, `` (GPU)."""
    for item in (part.strip() for part in _split_top(text, ",")):
        if not item:
            continue
        if not _balanced(item) or (device == "DLA" and item.startswith("{") and not item.endswith("}")):
            summary.unparsed.append(text)  # a list cut off: its complete names still count, the cut one not
            complete = item.lstrip("{").split(",")[:-1]
            summary.entries += [(device, name.strip()) for name in complete if name.strip() and _balanced(name)]
            continue
        summary.entries.append((device, item))


# ---------------------------------------------------------------------------------------------- fallbacks


@dataclass
class _Fallbacks:
    layers: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    global_lines: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


def fallbacks_from_messages(messages: Sequence[Message]) -> _Fallbacks:
    """Every per-layer fallback with its reason, the global fallback lines, and fallback-looking lines that match
    no known wording."""
    found = _Fallbacks()
    pending: list[str] = []
    for message in messages:
        text = message.text
        lowered = text.lower()
        if "dla" not in lowered and "gpu" not in lowered:  # every wording below names one (fast path)
            continue
        if _GLOBAL.search(text):
            found.global_lines.append(text)
            continue
        match = next(((m, reason) for pattern, reason in _FALLBACKS if (m := pattern.search(text))), None)
        if match:
            _add_fallback(found, match[0], match[1], pending)
            pending = []
        elif _HEADER.search(text):
            pending = []
        elif _FALLBACK_LIKE.search(text) and _DEVICE_WORD.search(text) and not _NOT_FALLBACK.search(text):
            found.unparsed.append(text)
        elif _DIAGNOSTIC.search(text) and _LIMITATION.search(text) and not _SUMMARY_LIKE.search(text) \
                and message.severity in (None, "WARNING", "ERROR", "INTERNAL_ERROR") and "ForeignNode" not in text:
            pending = [*pending, text][-MAX_REASONS:]
    return found


def _add_fallback(found: _Fallbacks, match: re.Match[str], reason: str, pending: list[str]) -> None:
    layer = match.group("layer")
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    own = reason.format(**groups)
    details = [_without_subject(line, layer) for line in pending]
    text = f"{own}: {'; '.join(details)}" if details else own
    if layer not in found.reasons:
        found.layers.append(layer)
        found.reasons[layer] = text
    elif own not in found.reasons[layer]:  # one layer, several lines (validation failed, then the split)
        found.reasons[layer] += f"; {text}"


def _without_subject(line: str, layer: str) -> str:
    return line[len(layer) + 2:] if line.startswith(f"{layer}: ") else line


# ---------------------------------------------------------------------------------------------- realized


def realized_from_log_text(text: str, layer_names: Sequence[str] = ()) -> Realized:
    """Layer -> device from a builder log as text, in any of the prefixes above. ``layer_names`` (network order)
    expand ``ForeignNode[first...last]`` ranges; without them ``devices`` holds only the names the log gives."""
    return realized_from_messages(messages_from_text(text), layer_names)


def realized_from_log(lines: Iterable[str], layer_names: Sequence[str] = ()) -> Realized:
    """``realized_from_log_text`` on lines (each may hold several, as a capture of multi-line messages does)."""
    return realized_from_log_text("\n".join(lines), layer_names)


def realized_from_messages(messages: Sequence[Message], layer_names: Sequence[str] = ()) -> Realized:
    summary = summary_from_messages(messages)
    falls = fallbacks_from_messages(messages)
    unparsed = [*summary.unparsed, *falls.unparsed]
    reasons, global_lines = dict(falls.reasons), tuple(falls.global_lines)
    if not summary.dla_seen:
        return Realized(None, tuple(falls.layers), NO_SUMMARY, reasons, global_lines, tuple(unparsed))
    devices, unmatched, unresolved = _devices(summary.entries, layer_names, falls.layers)
    return Realized(devices, tuple(falls.layers), "builder log", reasons, global_lines,
                    tuple(unparsed + unresolved), tuple(unmatched))


def _devices(entries: Sequence[tuple[str, str]], layer_names: Sequence[str], fallbacks: Sequence[str]
             ) -> tuple[dict[str, str], list[str], list[str]]:
    names = list(dict.fromkeys(layer_names))
    order = {name: i for i, name in enumerate(names)}
    devices = dict.fromkeys(names, "GPU")
    explicit: dict[str, str] = {}
    inferred: dict[str, set[str]] = {"DLA": set(), "GPU": set()}
    unmatched: list[str] = []
    unresolved: list[str] = []
    for device, entry in entries:
        members = _members(entry, order, names)
        unmatched += members.unmatched
        if not members.resolved and device == "DLA":
            unresolved.append(entry)
        for name in members.explicit:
            explicit[name] = "DLA" if device == "DLA" or explicit.get(name) == "DLA" else device
        inferred[device].update(members.inferred)
    for device in ("DLA", "GPU"):  # a range's inside, by network order: the GPU side and fallbacks win
        devices.update(dict.fromkeys(inferred[device], device))
    for name in fallbacks:
        if name in devices or not order:
            devices[name] = "GPU"
    devices.update(explicit)
    return devices, list(dict.fromkeys(unmatched)), unresolved


def all_on_gpu(layer_names: Sequence[str], why: str) -> Realized:
    return Realized(dict.fromkeys(layer_names, "GPU"), (), why)


# ---------------------------------------------------------------------------------------------- against the plan


def by_submodule(layers: Sequence[Any], realized: Realized) -> dict[str, dict[str, Any]]:
    """Per top-level submodule (``(root)`` for the model itself): layers requested, predicted and realized on DLA.
    ``layers`` are ``(name, owner, requested, predicted)`` rows; helper layers (owner ``None``) count under
    ``(helpers)``."""
    table: dict[str, dict[str, Any]] = {}
    for name, owner, requested, predicted in layers:
        key = "(helpers)" if owner is None else (owner.split(".")[0] or "(root)")
        row = table.setdefault(key, {"layers": 0, "requested_dla": 0, "predicted_dla": 0, "realized_dla": 0})
        row["layers"] += 1
        row["requested_dla"] += requested == "DLA"
        row["predicted_dla"] += predicted == "DLA"
        if realized.devices is None:
            row["realized_dla"] = None
        elif row["realized_dla"] is not None:
            row["realized_dla"] += realized.devices.get(name) == "DLA"
    return table


def drift_from_table(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per submodule whose realized DLA layer count differs from the predicted one."""
    return [f"{key}: predicted {row['predicted_dla']} of {row['layers']} layers on DLA, realized {row['realized_dla']}"
            for key, row in table.items() if row["realized_dla"] is not None
            and row["realized_dla"] != row["predicted_dla"]]


# ---------------------------------------------------------------------------------------------- reports


def layer_names_from_text(text: str) -> list[str]:
    """A ``--layers`` file: one TensorRT layer name per line, in network order (blank lines skipped)."""
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def text_from_realized(realized: Realized, rows: Sequence[Any] = ()) -> str:
    """What ``trtforge realized`` prints: the summary, per submodule when ``rows`` (name, owner, requested,
    predicted) come from a plan, the fallbacks with their reasons, and what could not be read."""
    lines = [f"summary: {'found' if realized.summary_found else 'none'} ({realized.source})"]
    if realized.devices is not None:
        on_dla = [name for name, device in realized.devices.items() if device == "DLA"]
        lines.append(f"layers: {len(on_dla)} on DLA, {len(realized.devices) - len(on_dla)} on GPU")
    if rows:
        lines += _table_lines(by_submodule(rows, realized))
        lines += [f"drift: {line}" for line in drift_from_table(by_submodule(rows, realized))]
    elif realized.devices is not None:
        lines += [f"  {device}  {name}" for name, device in realized.devices.items()]
    owners = {row[0]: row[1] for row in rows}
    lines.append(f"fallbacks: {len(realized.fallbacks)}")
    lines += [f"  {name}{f' ({owners[name]})' if owners.get(name) else ''}: {realized.reasons.get(name, '')}"
              for name in realized.fallbacks]
    lines += [f"global: {line}" for line in realized.global_fallbacks]
    if realized.unmatched:
        lines.append(f"names not among the layers: {len(realized.unmatched)} (e.g. {realized.unmatched[0]})")
    lines.append(f"unparsed placement lines: {len(realized.unparsed)}")
    lines += [f"  {line[:160]}" for line in realized.unparsed]
    return "\n".join(lines) + "\n"


def _table_lines(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    head = ("submodule", "layers", "requested DLA", "predicted DLA", "realized DLA")
    body = [(key, str(row["layers"]), str(row["requested_dla"]), str(row["predicted_dla"]),
             "unknown" if row["realized_dla"] is None else str(row["realized_dla"])) for key, row in table.items()]
    widths = [max(len(cells[i]) for cells in (head, *body)) for i in range(len(head))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + " |"
             for cells in (head, *body)]
    return [lines[0], "|" + "|".join("-" * (w + 2) for w in widths) + "|", *lines[1:]]
