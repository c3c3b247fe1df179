"""Stage 3: INT8 calibration on the CPU (ranges, TensorRT calibration caches, Q/DQ ONNX, accuracy preview)."""

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
