"""Stage 1: PyTorch model -> ONNX (``model.onnx`` + ``export.json``)."""

from trtforge.export.onnx_export import ExportResult, export_inputs, onnx_from_torch

__all__ = ["ExportResult", "export_inputs", "onnx_from_torch"]
