"""trtforge: PyTorch -> ONNX -> TensorRT engines split per submodule between the GPU and the DLA cores.

The stages live in the repository's top-level folders and are installed as subpackages:
``trtforge.export`` (``export/``), ``trtforge.placement`` (``placement/``), ``trtforge.calib`` (``calib/``),
``trtforge.build`` (``build/``) and ``trtforge.bench`` (``bench/``). Importing ``trtforge`` never imports
torch or TensorRT; each stage imports them inside the functions that need them.
"""

from pathlib import Path as _Path

from trtforge.errors import TrtforgeError

# Run from a source checkout without an editable install (``python -m trtforge`` in the repository root, or a
# wheel installed and the checkout's bare ``trtforge/`` first on sys.path), the stage folders sit beside this
# package rather than inside it: let the subpackages resolve there, as package-dir maps them when installed.
_checkout = _Path(__file__).resolve().parent.parent
if (not (_Path(__file__).resolve().parent / "export").is_dir()
        and (_checkout / "export" / "__init__.py").is_file() and (_checkout / "pyproject.toml").is_file()):
    __path__.append(str(_checkout))

__version__ = "0.1.0"

__all__ = ["TrtforgeError", "__version__"]
