"""Model factories for models that are not torchvision's, usable as ``model = "trtforge.export.zoo:<name>"``.

Random weights only (nothing is downloaded). Optional packages are imported inside each factory, so a missing one
is a clear error for that model only.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from trtforge.errors import TrtforgeError

if TYPE_CHECKING:
    import torch

YOLO_INSTALL = ("pip install --no-deps ultralytics && pip install opencv-python-headless pyyaml psutil "
                "(--no-deps: never let it replace torch)")


def yolov8n() -> torch.nn.Module:
    """YOLOv8n built from Ultralytics' bundled ``yolov8n.yaml`` (``ultralytics/cfg/models/v8/yolov8.yaml``, scale n),
    random weights, in eval mode: ``forward`` returns the decoded predictions and the three raw feature maps."""
    # Ultralytics writes a settings file on import, under YOLO_CONFIG_DIR (default ~/.config/Ultralytics)
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "trtforge-ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        from ultralytics.nn.tasks import DetectionModel
    except ImportError as err:
        raise TrtforgeError.of("the optional package ultralytics (with the modules it imports)", found=str(err),
                               fix=YOLO_INSTALL) from None
    return DetectionModel("yolov8n.yaml", verbose=False).eval()
