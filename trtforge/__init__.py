"""trtforge: PyTorch -> ONNX -> TensorRT engines split per submodule between the GPU and the DLA cores.

The stages live in the repository's top-level folders and are installed as subpackages:
``trtforge.export`` (``export/``), ``trtforge.placement`` (``placement/``), ``trtforge.calib`` (``calib/``),
``trtforge.build`` (``build/``) and ``trtforge.bench`` (``bench/``). Importing ``trtforge`` never imports
torch or TensorRT; each stage imports them inside the functions that need them.
"""

from trtforge.errors import TrtforgeError

__version__ = "0.1.0"

__all__ = ["TrtforgeError", "__version__"]
