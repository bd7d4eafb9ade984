"""The C API of libconvt (include/convt/convt.h) as ctypes declarations.

Loads libconvt.so.1 once: the file named by the CONVT_LIBRARY environment variable when it is
set, else whatever the dynamic loader finds (LD_LIBRARY_PATH, the ldconfig cache). Every
function gets its exact argument and result types, so ctypes converts and checks each
argument; every buffer goes in with its length in elements, and the library keeps no pointer
after a call returns.
"""

import ctypes
import ctypes.util
import os

# Status codes (convt_status); the values never change.
OK = 0
E_INVALID_ARGUMENT = 1
E_SHAPE = 2
E_STATE = 3
E_OUT_OF_MEMORY = 4
E_UNSUPPORTED = 5
E_INTERNAL = 6

# Parameters (convt_param).
PARAM_FILTERS = 1
PARAM_KERNEL_SIZE = 2
PARAM_IN_CHANNELS = 3
PARAM_STRIDES = 4
PARAM_DILATION_RATE = 5
PARAM_PADDING = 6
PARAM_PAD_BEGIN = 7
PARAM_PAD_END = 8
PARAM_OUTPUT_PADDING = 9
PARAM_DATA_FORMAT = 10
PARAM_GROUPS = 11
PARAM_USE_BIAS = 12
PARAM_ACTIVATION = 13
PARAM_ACTIVATION_ALPHA = 14
PARAM_DTYPE = 15
PARAM_INPUT_STEPS = 16
PARAM_BATCH_SIZE = 17
PARAM_NAME = 18
PARAM_NUM_THREADS = 19
PARAM_KERNEL_INITIALIZER = 20
PARAM_BIAS_INITIALIZER = 21
PARAM_TRAINABLE = 22
PARAM_KERNEL_REGULARIZER = 23
PARAM_KERNEL_REGULARIZER_L1 = 24
PARAM_KERNEL_REGULARIZER_L2 = 25
PARAM_BIAS_REGULARIZER = 26
PARAM_BIAS_REGULARIZER_L1 = 27
PARAM_BIAS_REGULARIZER_L2 = 28
PARAM_ACTIVITY_REGULARIZER = 29
PARAM_ACTIVITY_REGULARIZER_L1 = 30
PARAM_ACTIVITY_REGULARIZER_L2 = 31
PARAM_KERNEL_CONSTRAINT = 32
PARAM_KERNEL_CONSTRAINT_MIN_VALUE = 33
PARAM_KERNEL_CONSTRAINT_MAX_VALUE = 34
PARAM_KERNEL_CONSTRAINT_RATE = 35
PARAM_KERNEL_CONSTRAINT_AXES = 36
PARAM_BIAS_CONSTRAINT = 37
PARAM_BIAS_CONSTRAINT_MIN_VALUE = 38
PARAM_BIAS_CONSTRAINT_MAX_VALUE = 39
PARAM_BIAS_CONSTRAINT_RATE = 40
PARAM_BACKWARD_REGULARIZATION = 41

PADDING_VALID = 0
PADDING_SAME = 1
PADDING_SAME_LOWER = 2
PADDING_EXPLICIT = 3
OUTPUT_PADDING_UNSET = -1

CHANNELS_LAST = 0
CHANNELS_FIRST = 1

DTYPE_FLOAT32 = 0
DTYPE_FLOAT64 = 1

LAYOUT_WOI = 0  # Keras, TF: (kernel_size, filters, in_channels / groups)
LAYOUT_IOW = 1  # PyTorch, ONNX: (in_channels, filters / groups, kernel_size)


class LayerHandle(ctypes.Structure):
    """The opaque struct convt_layer; only pointers to it are used."""


class StreamHandle(ctypes.Structure):
    """The opaque struct convt_stream; only pointers to it are used."""


_layer_p = ctypes.POINTER(LayerHandle)
_stream_p = ctypes.POINTER(StreamHandle)
_f64_out = ctypes.POINTER(ctypes.c_double)
_i32 = ctypes.c_int32
_i64 = ctypes.c_int64
_u64 = ctypes.c_uint64
_f32_p = ctypes.POINTER(ctypes.c_float)
_f64_p = ctypes.POINTER(ctypes.c_double)
_i64_p = ctypes.POINTER(ctypes.c_int64)

_SIGNATURES = {
    "convt_version_number": (ctypes.c_uint32, []),
    "convt_version_string": (ctypes.c_char_p, []),
    "convt_status_string": (ctypes.c_char_p, [_i32]),
    "convt_last_error": (ctypes.c_char_p, []),
    "convt_layer_create": (_i32, [_i64, _i64, ctypes.POINTER(_layer_p)]),
    "convt_layer_destroy": (None, [_layer_p]),
    "convt_layer_set_int": (_i32, [_layer_p, _i32, _i64]),
    "convt_layer_get_int": (_i32, [_layer_p, _i32, _i64_p]),
    "convt_layer_set_double": (_i32, [_layer_p, _i32, ctypes.c_double]),
    "convt_layer_get_double": (_i32, [_layer_p, _i32, ctypes.POINTER(ctypes.c_double)]),
    "convt_layer_set_string": (_i32, [_layer_p, _i32, ctypes.c_char_p]),
    "convt_layer_get_string": (_i32, [_layer_p, _i32, ctypes.c_char_p, _i64, _i64_p]),
    "convt_layer_set_weights_f32": (_i32, [_layer_p, _i64, _i32, _f32_p, _i64, _f32_p, _i64]),
    "convt_layer_set_weights_f64": (_i32, [_layer_p, _i64, _i32, _f64_p, _i64, _f64_p, _i64]),
    "convt_layer_get_weights_f32": (_i32, [_layer_p, _i32, _f32_p, _i64, _f32_p, _i64]),
    "convt_layer_get_weights_f64": (_i32, [_layer_p, _i32, _f64_p, _i64, _f64_p, _i64]),
    "convt_layer_init_weights": (_i32, [_layer_p, _i64, _u64]),
    "convt_layer_output_shape": (_i32, [_layer_p, _i64, _i64, _i64_p]),
    "convt_layer_forward_f32": (_i32, [_layer_p, _f32_p, _i64, _i64, _i64, _f32_p, _i64, _i64]),
    "convt_layer_forward_f64": (_i32, [_layer_p, _f64_p, _i64, _i64, _i64, _f64_p, _i64, _i64]),
    "convt_layer_backward_f32": (_i32, [_layer_p, _f32_p, _i64, _i64, _i64, _f32_p, _i64, _i64,
                                        _f32_p, _i64, _i32, _f32_p, _i64, _f32_p, _i64]),
    "convt_layer_backward_f64": (_i32, [_layer_p, _f64_p, _i64, _i64, _i64, _f64_p, _i64, _i64,
                                        _f64_p, _i64, _i32, _f64_p, _i64, _f64_p, _i64]),
    "convt_layer_regularization_loss": (_i32, [_layer_p, _f64_out]),
    "convt_layer_activity_regularization_f32": (_i32, [_layer_p, _f32_p, _i64, _i64, _i64,
                                                       _f64_out]),
    "convt_layer_activity_regularization_f64": (_i32, [_layer_p, _f64_p, _i64, _i64, _i64,
                                                       _f64_out]),
    "convt_layer_apply_constraints": (_i32, [_layer_p]),
    "convt_layer_workspace_size": (_i32, [_layer_p, _i64, _i64, _i64, _i64_p]),
    "convt_stream_create": (_i32, [_layer_p, _i64, ctypes.POINTER(_stream_p)]),
    "convt_stream_destroy": (None, [_stream_p]),
    "convt_stream_max_output_steps": (_i32, [_stream_p, _i64, _i64_p]),
    "convt_stream_push_f32": (_i32, [_stream_p, _f32_p, _i64, _i64, _f32_p, _i64, _i64_p]),
    "convt_stream_push_f64": (_i32, [_stream_p, _f64_p, _i64, _i64, _f64_p, _i64, _i64_p]),
    "convt_stream_flush_f32": (_i32, [_stream_p, _f32_p, _i64, _i64_p]),
    "convt_stream_flush_f64": (_i32, [_stream_p, _f64_p, _i64, _i64_p]),
    "convt_stream_reset": (_i32, [_stream_p]),
}


def _load():
    path = os.environ.get("CONVT_LIBRARY")
    if path:
        # An explicit choice is never second-guessed: a wrong path is an error.
        return ctypes.CDLL(path)
    try:
        return ctypes.CDLL("libconvt.so.1")
    except OSError:
        found = ctypes.util.find_library("convt")
        if found is None:
            raise ImportError(
                "libconvt.so.1 not found: install libconvt, add its lib directory to "
                "LD_LIBRARY_PATH, or set CONVT_LIBRARY to the file") from None
        return ctypes.CDLL(found)


lib = _load()
for _name, (_restype, _argtypes) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

if lib.convt_version_number() // 10000 != 1:
    raise ImportError("this binding needs libconvt 1.x, found "
                      + lib.convt_version_string().decode())


def status_string(status):
    """The status's name, "CONVT_E_SHAPE"."""
    return lib.convt_status_string(status).decode()


def last_error():
    """The calling thread's last message; read it right after the failing call."""
    return lib.convt_last_error().decode("utf-8", "replace")
