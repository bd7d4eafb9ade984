"""libconvt for Python: Keras's Conv1DTranspose on NumPy arrays, computed by libconvt.so.

    import numpy as np
    import convt

    layer = convt.Conv1DTranspose(32, 3, strides=2, activation="relu")
    y = layer(np.random.rand(4, 10, 128).astype("float32"))   # (4, 21, 32)

A pure-Python package over ctypes: it loads libconvt.so.1 (or the file CONVT_LIBRARY names)
and calls its C API. Failures raise convt.ConvtError subclasses carrying the library's
message.
"""

from .errors import (ConvtError, InternalError, InvalidArgumentError, OutOfMemoryError,
                     ShapeError, StateError, UnsupportedError)
from .layer import Conv1DTranspose, Stream, version

__all__ = [
    "Conv1DTranspose", "ConvtError", "InternalError", "InvalidArgumentError",
    "OutOfMemoryError", "ShapeError", "StateError", "Stream", "UnsupportedError", "version",
]
