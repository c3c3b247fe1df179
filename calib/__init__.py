"""Stage 3: INT8 calibration on the CPU (ranges, TensorRT calibration caches, Q/DQ ONNX, accuracy preview)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtforge.lazy import lazy_getattr

if TYPE_CHECKING:  # the names below load on first use (PEP 562): `import trtforge.calib.cli` stays cheap
    from trtforge.calib.cache import (
        CacheKey,
        CacheText,
        cache_file_name,
        cache_from_ranges,
        cache_header,
        check_cache,
        dynamic_ranges_from_ranges,
        ranges_from_cache,
        read_cache,
        text_from_cache,
        version_number,
        version_text,
    )
    from trtforge.calib.calibrator import calibrator_from_cache, dynamic_ranges_into_network
    from trtforge.calib.qdq import qdq_from_ranges
    from trtforge.calib.ranges import Ranges, ranges_from_data, read_ranges
    from trtforge.calib.stage import CalibResult, cache_trt_version, calib_for_config

_LAZY = {
    "CacheKey": "cache",
    "CacheText": "cache",
    "cache_file_name": "cache",
    "cache_from_ranges": "cache",
    "cache_header": "cache",
    "check_cache": "cache",
    "dynamic_ranges_from_ranges": "cache",
    "ranges_from_cache": "cache",
    "read_cache": "cache",
    "text_from_cache": "cache",
    "version_number": "cache",
    "version_text": "cache",
    "calibrator_from_cache": "calibrator",
    "dynamic_ranges_into_network": "calibrator",
    "qdq_from_ranges": "qdq",
    "Ranges": "ranges",
    "ranges_from_data": "ranges",
    "read_ranges": "ranges",
    "CalibResult": "stage",
    "cache_trt_version": "stage",
    "calib_for_config": "stage",
}

__all__ = [
    "CacheKey",
    "CacheText",
    "CalibResult",
    "Ranges",
    "cache_file_name",
    "cache_from_ranges",
    "cache_header",
    "cache_trt_version",
    "calib_for_config",
    "calibrator_from_cache",
    "check_cache",
    "dynamic_ranges_from_ranges",
    "dynamic_ranges_into_network",
    "qdq_from_ranges",
    "ranges_from_cache",
    "ranges_from_data",
    "read_cache",
    "read_ranges",
    "text_from_cache",
    "version_number",
    "version_text",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
