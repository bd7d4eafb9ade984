"""Conv1DTranspose: the Keras layer, computed by libconvt, on NumPy arrays."""

import collections
import ctypes
import random

import numpy as np

from . import _capi
from .errors import ShapeError, check

_lib = _capi.lib

_LAYOUTS = {
    "keras": _capi.LAYOUT_WOI,
    "tf": _capi.LAYOUT_WOI,
    "woi": _capi.LAYOUT_WOI,
    "pytorch": _capi.LAYOUT_IOW,
    "torch": _capi.LAYOUT_IOW,
    "onnx": _capi.LAYOUT_IOW,
    "iow": _capi.LAYOUT_IOW,
}

# Per dtype: NumPy's type, the ctypes element pointer, and the typed C functions.
_Typed = collections.namedtuple("_Typed", "np_type pointer set_weights get_weights forward "
                                "backward activity push flush")
_TYPED = {
    name: _Typed(np_type, ctypes.POINTER(c_type),
                            *(getattr(_lib, f"convt_{fn}_{suffix}") for fn in (
                                "layer_set_weights", "layer_get_weights", "layer_forward",
                                "layer_backward", "layer_activity_regularization",
                                "stream_push", "stream_flush")))
    for name, suffix, np_type, c_type in (("float32", "f32", np.float32, ctypes.c_float),
                                          ("float64", "f64", np.float64, ctypes.c_double))
}

# Keras's regularizer and constraint arguments -> (the kind's parameter, its doubles by key).
_REGULARIZERS = {
    "kernel": (_capi.PARAM_KERNEL_REGULARIZER, {"l1": _capi.PARAM_KERNEL_REGULARIZER_L1,
                                                "l2": _capi.PARAM_KERNEL_REGULARIZER_L2}),
    "bias": (_capi.PARAM_BIAS_REGULARIZER, {"l1": _capi.PARAM_BIAS_REGULARIZER_L1,
                                            "l2": _capi.PARAM_BIAS_REGULARIZER_L2}),
    "activity": (_capi.PARAM_ACTIVITY_REGULARIZER, {
        "l1": _capi.PARAM_ACTIVITY_REGULARIZER_L1, "l2": _capi.PARAM_ACTIVITY_REGULARIZER_L2}),
}
_CONSTRAINTS = {
    "kernel": (_capi.PARAM_KERNEL_CONSTRAINT, {
        "min_value": _capi.PARAM_KERNEL_CONSTRAINT_MIN_VALUE,
        "max_value": _capi.PARAM_KERNEL_CONSTRAINT_MAX_VALUE,
        "rate": _capi.PARAM_KERNEL_CONSTRAINT_RATE}),
    "bias": (_capi.PARAM_BIAS_CONSTRAINT, {
        "min_value": _capi.PARAM_BIAS_CONSTRAINT_MIN_VALUE,
        "max_value": _capi.PARAM_BIAS_CONSTRAINT_MAX_VALUE,
        "rate": _capi.PARAM_BIAS_CONSTRAINT_RATE}),
}


def _spec(value, what):
    """(name, config) of a Keras regularizer or constraint argument: a name ("l2",
    "max_norm"), Keras's serialized dict ({"class_name": "L2", "config": {"l2": 1e-4}}), or
    an object with get_config() such as keras.regularizers.L2(1e-4), named by its class."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and "class_name" in value:
        return value["class_name"], dict(value.get("config") or {})
    if hasattr(value, "get_config"):
        return type(value).__name__, dict(value.get_config())
    raise TypeError(f"{what} must be a Keras name such as 'l2', a serialized dict or an object "
                    f"with get_config(), got {value!r}")


def _axes_mask(axis):
    """Keras's constraint axis (an int or a list, of the rank-3 kernel) as libconvt's bit mask
    over (kernel_size, filters, in_channels/groups)."""
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return sum(1 << a for a in {int(a) % 3 for a in axes})


def _one_int(value, what):
    """Keras takes an int or a 1-tuple for 1-D sizes."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{what} must be an int or a tuple of 1 int, got {value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {value!r}")
    return int(value)


def _layout(name):
    try:
        return _LAYOUTS[str(name).lower()]
    except KeyError:
        raise ValueError(f"layout must be one of {sorted(_LAYOUTS)}, got {name!r}") from None


def _pointer(array, pointer_type):
    """The array's data pointer; the array must stay referenced until the call returns,
    which every caller here guarantees by holding it in a local variable."""
    return array.ctypes.data_as(pointer_type)


def _optional(array, pointer_type):
    """(pointer, length) of an optional buffer: (NULL, 0) for None, as the C API wants."""
    if array is None:
        return None, 0
    return _pointer(array, pointer_type), array.size


class _Owned:
    """Owns one C object: `_handle`, freed by `_destroy` in close(), with, or collection."""

    _handle = None

    def close(self):
        """Frees the library's object now; every later call raises. Also done when the
        object is garbage-collected."""
        handle, self._handle = self._handle, None
        if handle:
            self._destroy(handle)

    def __del__(self):
        if self._handle:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Conv1DTranspose(_Owned):
    """keras.layers.Conv1DTranspose, computed by libconvt.

    The arguments are Keras's, with Keras's defaults: `filters`, `kernel_size`, `strides=1`,
    `padding="valid"` ("same"; also ONNX's "same_lower"; or, as a libconvt extension, an int
    `p` or a pair `(begin, end)`: the crop PyTorch's `padding=p` and ONNX's `pads` make),
    `output_padding=None`, `data_format=None` ("channels_last"; "channels_first" is
    PyTorch's NCW), `dilation_rate=1`, `activation=None` (a Keras 3 activation name),
    `use_bias=True`, `kernel_initializer="glorot_uniform"`, `bias_initializer="zeros"`, and
    the layer keywords `name`, `dtype` ("float32" or "float64"), `trainable`,
    `input_shape` and `batch_size`. libconvt's own keywords: `groups`,
    `activation_alpha` (leaky_relu's slope, elu's alpha, ...), `seed` (for the
    initializers; None draws one) and `num_threads` (0 = all cores).

    The kernel is created on the first call (or by `build`) from the initializers, or set
    with `set_weights`. A failed library call raises a `convt.ConvtError` subclass with the
    library's message. Calls may run from several threads at once; changing the layer
    (`set_weights`, `build`) must not overlap with other calls on it.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, *, groups=1,
                 activation_alpha=None, seed=None, num_threads=0, name=None, dtype=None,
                 trainable=True, input_shape=None, batch_size=None):
        self._handle = None
        handle = ctypes.POINTER(_capi.LayerHandle)()
        check(_lib.convt_layer_create(_one_int(filters, "filters"),
                                      _one_int(kernel_size, "kernel_size"),
                                      ctypes.byref(handle)))
        self._handle = handle
        self._built = False
        self._seed = seed
        self._set_int(_capi.PARAM_STRIDES, _one_int(strides, "strides"))
        self._set_int(_capi.PARAM_DILATION_RATE, _one_int(dilation_rate, "dilation_rate"))
        if isinstance(padding, str):
            self._set_string(_capi.PARAM_PADDING, padding)
        else:
            begin, end = ((padding, padding) if not isinstance(padding, (tuple, list))
                          else tuple(padding))
            self._set_int(_capi.PARAM_PAD_BEGIN, _one_int(begin, "padding"))
            self._set_int(_capi.PARAM_PAD_END, _one_int(end, "padding"))
            self._set_int(_capi.PARAM_PADDING, _capi.PADDING_EXPLICIT)
        if output_padding is not None:
            self._set_int(_capi.PARAM_OUTPUT_PADDING, _one_int(output_padding, "output_padding"))
        self._set_string(_capi.PARAM_DATA_FORMAT, data_format or "channels_last")
        self._set_int(_capi.PARAM_GROUPS, _one_int(groups, "groups"))
        self._set_int(_capi.PARAM_USE_BIAS, 1 if use_bias else 0)
        if activation is not None and not isinstance(activation, str):
            raise TypeError("activation must be a Keras activation name such as 'relu' "
                            f"(libconvt fuses it into the output pass), got {activation!r}")
        self._set_string(_capi.PARAM_ACTIVATION, activation or "linear")
        if activation_alpha is not None:
            check(_lib.convt_layer_set_double(self._handle, _capi.PARAM_ACTIVATION_ALPHA,
                                              float(activation_alpha)))
        self._set_string(_capi.PARAM_KERNEL_INITIALIZER, kernel_initializer)
        self._set_string(_capi.PARAM_BIAS_INITIALIZER, bias_initializer)
        if dtype is None:
            dtype = "float32"  # Keras's default policy
        elif not isinstance(dtype, str):
            dtype = np.dtype(dtype).name  # np.float64 -> "float64"
        self._set_string(_capi.PARAM_DTYPE, dtype)
        if name is not None:
            self._set_string(_capi.PARAM_NAME, name)
        for kind, value in (("kernel", kernel_regularizer), ("bias", bias_regularizer),
                            ("activity", activity_regularizer)):
            if value is not None:
                self._set_penalty(_REGULARIZERS[kind], value, f"{kind}_regularizer")
        for kind, value in (("kernel", kernel_constraint), ("bias", bias_constraint)):
            if value is not None:
                self._set_penalty(_CONSTRAINTS[kind], value, f"{kind}_constraint")
        self._set_int(_capi.PARAM_TRAINABLE, 1 if trainable else 0)
        self._set_int(_capi.PARAM_NUM_THREADS, _one_int(num_threads, "num_threads"))
        if batch_size is not None:
            self._set_int(_capi.PARAM_BATCH_SIZE, _one_int(batch_size, "batch_size"))
        if input_shape is not None:
            steps, channels = self._steps_channels((None,) + tuple(input_shape))
            if steps is not None:
                self._set_int(_capi.PARAM_INPUT_STEPS, steps)
            if channels is not None:
                self._set_int(_capi.PARAM_IN_CHANNELS, channels)

    # ---- the handle ------------------------------------------------------------------------

    _destroy = staticmethod(_lib.convt_layer_destroy)

    def _set_int(self, param, value):
        check(_lib.convt_layer_set_int(self._handle, param, value))

    def _get_int(self, param):
        value = ctypes.c_int64()
        check(_lib.convt_layer_get_int(self._handle, param, ctypes.byref(value)))
        return value.value

    def _set_double(self, param, value):
        check(_lib.convt_layer_set_double(self._handle, param, float(value)))

    def _set_penalty(self, table, value, what):
        """Sets a regularizer or constraint by name, then the arguments its config gives."""
        param, doubles = table
        name, config = _spec(value, what)
        self._set_string(param, name)
        for key, number in config.items():
            if key in doubles and number is not None:
                self._set_double(doubles[key], number)
            elif key == "axis" and param == _capi.PARAM_KERNEL_CONSTRAINT:
                self._set_int(_capi.PARAM_KERNEL_CONSTRAINT_AXES, _axes_mask(number))

    def _set_string(self, param, value):
        if not isinstance(value, str):
            raise TypeError(f"expected a name (str), got {value!r}")
        check(_lib.convt_layer_set_string(self._handle, param, value.encode()))

    def _get_string(self, param):
        length = ctypes.c_int64()
        status = _lib.convt_layer_get_string(self._handle, param, None, 0, ctypes.byref(length))
        if status not in (_capi.OK, _capi.E_SHAPE):  # E_SHAPE: it asked for the length
            check(status)
        buf = ctypes.create_string_buffer(length.value + 1)
        check(_lib.convt_layer_get_string(self._handle, param, buf, len(buf),
                                          ctypes.byref(length)))
        return buf.value.decode()

    def _typed(self):
        return _TYPED[self.dtype]

    def _steps_channels(self, shape):
        """(steps, channels) of a (batch, ...) shape in the layer's data format."""
        if len(shape) != 3:
            raise ValueError(f"{self.name}: Conv1DTranspose expects a 3-D input "
                             f"{self._input_layout()}, got shape {tuple(shape)}")
        if self.data_format == "channels_first":
            return shape[2], shape[1]
        return shape[1], shape[2]

    def _input_layout(self):
        if self.data_format == "channels_first":
            return "(batch, channels, steps)"
        return "(batch, steps, channels)"

    # ---- Keras's attributes ----------------------------------------------------------------

    @property
    def filters(self):
        return self._get_int(_capi.PARAM_FILTERS)

    @property
    def kernel_size(self):
        return (self._get_int(_capi.PARAM_KERNEL_SIZE),)

    @property
    def strides(self):
        return (self._get_int(_capi.PARAM_STRIDES),)

    @property
    def dilation_rate(self):
        return (self._get_int(_capi.PARAM_DILATION_RATE),)

    @property
    def padding(self):
        """"valid", "same", "same_lower" or "explicit" (see `pads`)."""
        return self._get_string(_capi.PARAM_PADDING)

    @property
    def pads(self):
        """(begin, end): the crops of explicit padding."""
        return (self._get_int(_capi.PARAM_PAD_BEGIN), self._get_int(_capi.PARAM_PAD_END))

    @property
    def output_padding(self):
        op = self._get_int(_capi.PARAM_OUTPUT_PADDING)
        return None if op == _capi.OUTPUT_PADDING_UNSET else (op,)

    @property
    def data_format(self):
        return self._get_string(_capi.PARAM_DATA_FORMAT)

    @property
    def groups(self):
        return self._get_int(_capi.PARAM_GROUPS)

    @property
    def use_bias(self):
        return self._get_int(_capi.PARAM_USE_BIAS) != 0

    @property
    def activation(self):
        return self._get_string(_capi.PARAM_ACTIVATION)

    @property
    def dtype(self):
        """"float32" or "float64"."""
        return self._get_string(_capi.PARAM_DTYPE)

    @property
    def name(self):
        return self._get_string(_capi.PARAM_NAME)

    @property
    def trainable(self):
        return self._get_int(_capi.PARAM_TRAINABLE) != 0

    @property
    def in_channels(self):
        """Input channels: None until the weights (or input_shape) fix them."""
        return self._get_int(_capi.PARAM_IN_CHANNELS) or None

    @property
    def built(self):
        """True once the layer has weights."""
        return self._built

    @property
    def kernel(self):
        """A copy of the kernel in Keras's layout (kernel_size, filters, in_channels/groups)."""
        return self.get_weights()[0]

    @property
    def bias(self):
        """A copy of the bias (filters,), or None without one."""
        weights = self.get_weights()
        return weights[1] if len(weights) > 1 else None

    def get_config(self):
        pads = self.pads if self.padding == "explicit" else None
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": pads or self.padding, "output_padding": self.output_padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": self.activation, "use_bias": self.use_bias, "groups": self.groups,
            "kernel_initializer": self._get_string(_capi.PARAM_KERNEL_INITIALIZER),
            "bias_initializer": self._get_string(_capi.PARAM_BIAS_INITIALIZER),
            **{f"{kind}_regularizer": self._get_penalty(table)
               for kind, table in _REGULARIZERS.items()},
            **{f"{kind}_constraint": self._get_penalty(table)
               for kind, table in _CONSTRAINTS.items()},
        }

    def _get_penalty(self, table):
        """A regularizer or constraint as Keras serializes it, or None."""
        param, doubles = table
        name = self._get_string(param)
        if name == "none":
            return None
        config = {}
        for key, number_param in doubles.items():
            value = ctypes.c_double()
            check(_lib.convt_layer_get_double(self._handle, number_param, ctypes.byref(value)))
            if value.value == value.value:  # NaN: the kind has no such argument
                config[key] = value.value
        if param == _capi.PARAM_KERNEL_CONSTRAINT:
            mask = self._get_int(_capi.PARAM_KERNEL_CONSTRAINT_AXES)
            config["axis"] = [a for a in range(3) if mask & (1 << a)]
        return {"class_name": name, "config": config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        if not self._handle:
            return "<Conv1DTranspose (closed)>"
        return (f"<Conv1DTranspose name={self.name!r} filters={self.filters} "
                f"kernel_size={self.kernel_size[0]} strides={self.strides[0]} "
                f"padding={self.padding!r} dtype={self.dtype!r} built={self.built}>")

    # ---- weights ---------------------------------------------------------------------------

    def build(self, input_shape):
        """Creates the kernel and bias from the initializers for this (batch, ...) shape,
        drawing from `seed` (the same seed gives bitwise the same weights everywhere)."""
        _, channels = self._steps_channels(tuple(input_shape))
        seed = self._seed if self._seed is not None else random.getrandbits(64)
        check(_lib.convt_layer_init_weights(self._handle, int(channels), seed))
        self._built = True

    def _kernel_shape(self, layout):
        k, f, g = self.kernel_size[0], self.filters, self.groups
        c = self.in_channels
        if layout == _capi.LAYOUT_WOI:
            return (k, f, c // g)
        return (c, f // g, k)

    def get_weights(self, layout="keras"):
        """[kernel, bias] (just [kernel] without a bias; [] before the layer is built). The
        kernel comes in Keras's layout (kernel_size, filters, in_channels/groups), or with
        layout="pytorch" in PyTorch's and ONNX's (in_channels, filters/groups, kernel_size)."""
        lay = _layout(layout)
        if not self._built:
            return []
        t = self._typed()
        kernel = np.empty(self._kernel_shape(lay), dtype=t.np_type)
        bias = np.empty((self.filters,), dtype=t.np_type) if self.use_bias else None
        check(t.get_weights(self._handle, lay, _pointer(kernel, t.pointer), kernel.size,
                            *_optional(bias, t.pointer)))
        return [kernel] if bias is None else [kernel, bias]

    def set_weights(self, weights, layout="keras"):
        """Sets [kernel, bias] (just [kernel] with use_bias=False), the kernel in Keras's
        layout or, with layout="pytorch", PyTorch's. Builds the layer: in_channels comes from
        the kernel's shape. The arrays are copied; values are cast to the layer's dtype."""
        lay = _layout(layout)
        weights = list(weights)
        want = 2 if self.use_bias else 1
        if len(weights) != want:
            raise ValueError(
                f"{self.name}: set_weights got a list of {len(weights)} arrays, but the layer "
                f"has {want} ([kernel{', bias' if self.use_bias else ''}])")
        t = self._typed()
        kernel = np.ascontiguousarray(weights[0], dtype=t.np_type)
        k, f, g = self.kernel_size[0], self.filters, self.groups
        if lay == _capi.LAYOUT_WOI:
            expected = "(kernel_size, filters, in_channels/groups) = " f"({k}, {f}, C/{g})"
            fits = kernel.ndim == 3 and kernel.shape[0] == k and kernel.shape[1] == f
            in_channels = kernel.shape[2] * g if fits else 0
        else:
            expected = "(in_channels, filters/groups, kernel_size) = " f"(C, {f}/{g}, {k})"
            fits = kernel.ndim == 3 and kernel.shape[1] * g == f and kernel.shape[2] == k
            in_channels = kernel.shape[0] if fits else 0
        if not fits:
            raise ShapeError(_capi.E_SHAPE,
                             f"{self.name}: set_weights: the kernel in the {layout} layout must "
                             f"have shape {expected}, got {kernel.shape}")
        bias = None
        if self.use_bias:
            bias = np.ascontiguousarray(weights[1], dtype=t.np_type)
            if bias.shape != (f,):
                raise ShapeError(_capi.E_SHAPE, f"{self.name}: set_weights: the bias must have "
                                 f"shape ({f},), got {bias.shape}")
        check(t.set_weights(self._handle, in_channels, lay, _pointer(kernel, t.pointer),
                            kernel.size, *_optional(bias, t.pointer)))
        self._built = True

    # ---- shapes and the forward pass -------------------------------------------------------

    def compute_output_shape(self, input_shape):
        """The output shape for a (batch, steps, channels) or (batch, channels, steps) input
        shape; batch and steps may be None, as in Keras."""
        shape = tuple(input_shape)
        steps, _ = self._steps_channels(shape)
        batch = shape[0]
        if steps is None:
            if self.data_format == "channels_first":
                return (batch, self.filters, None)
            return (batch, None, self.filters)
        out = (ctypes.c_int64 * 3)()
        check(_lib.convt_layer_output_shape(self._handle, 1 if batch is None else int(batch),
                                            int(steps), out))
        return (batch,) + tuple(int(v) for v in out[1:])

    def _input(self, inputs, t):
        """(x, batch, steps, out_steps default) for an input array, cast to the dtype."""
        x = np.ascontiguousarray(inputs, dtype=t.np_type)
        steps, _ = self._steps_channels(x.shape)
        return x, x.shape[0], steps

    def _out_steps(self, x_shape, out_steps):
        if out_steps is None:
            shape = self.compute_output_shape(x_shape)
            return shape[2] if self.data_format == "channels_first" else shape[1]
        return _one_int(out_steps, "out_steps")

    def _output_shape(self, batch, out_steps):
        f = self.filters
        if self.data_format == "channels_first":
            return (batch, f, out_steps)
        return (batch, out_steps, f)

    def __call__(self, inputs, out_steps=None):
        """The layer's output for `inputs` (batch, steps, channels), or (batch, channels,
        steps) with channels_first, as a new array of the layer's dtype. `out_steps` asks for
        another accepted output length: TF's output_shape, PyTorch's output_size."""
        t = self._typed()
        x, batch, steps = self._input(inputs, t)
        if not self._built:
            self.build(x.shape)
        out_steps = self._out_steps(x.shape, out_steps)
        # A length the library will reject still gets a buffer, so that its message is the
        # error the caller sees.
        y = np.empty(self._output_shape(batch, out_steps) if out_steps >= 1 else (1,),
                     dtype=t.np_type)
        check(t.forward(self._handle, _pointer(x, t.pointer), x.size, batch, steps,
                        _pointer(y, t.pointer), y.size, out_steps))
        return y

    # ---- training --------------------------------------------------------------------------

    @trainable.setter
    def trainable(self, value):
        self._set_int(_capi.PARAM_TRAINABLE, 1 if value else 0)

    def backward(self, inputs, grad_output, out_steps=None, layout="keras"):
        """Gradients for dL/dy = `grad_output` of the output `self(inputs, out_steps)`:
        (grad_input, grad_kernel, grad_bias). grad_input has the input's shape; grad_kernel
        the kernel's shape in `layout` ("keras" or "pytorch"), grad_bias (filters,). The
        weights' gradients are None while trainable is False (and grad_bias without a bias).
        With `backward_regularization` set, the penalties' gradients are included."""
        t = self._typed()
        lay = _layout(layout)
        x, batch, steps = self._input(inputs, t)
        out_steps = self._out_steps(x.shape, out_steps)
        g = np.ascontiguousarray(grad_output, dtype=t.np_type)
        grad_input = np.empty(x.shape, dtype=t.np_type)
        grad_kernel = grad_bias = None
        if self.trainable and self._built:
            grad_kernel = np.empty(self._kernel_shape(lay), dtype=t.np_type)
            if self.use_bias:
                grad_bias = np.empty((self.filters,), dtype=t.np_type)
        check(t.backward(self._handle, _pointer(x, t.pointer), x.size, batch, steps,
                         _pointer(g, t.pointer), g.size, out_steps,
                         _pointer(grad_input, t.pointer), grad_input.size, lay,
                         *_optional(grad_kernel, t.pointer), *_optional(grad_bias, t.pointer)))
        return grad_input, grad_kernel, grad_bias

    @property
    def backward_regularization(self):
        """True: backward adds the gradients of the layer's penalties (Keras's training step)."""
        return self._get_int(_capi.PARAM_BACKWARD_REGULARIZATION) != 0

    @backward_regularization.setter
    def backward_regularization(self, value):
        self._set_int(_capi.PARAM_BACKWARD_REGULARIZATION, 1 if value else 0)

    def regularization_loss(self):
        """kernel_regularizer(kernel) + bias_regularizer(bias): the weights' penalty Keras adds
        to the loss (0.0 without regularizers, or while trainable is False)."""
        loss = ctypes.c_double()
        check(_lib.convt_layer_regularization_loss(self._handle, ctypes.byref(loss)))
        return loss.value

    def activity_regularization(self, outputs):
        """activity_regularizer(outputs) / batch: the penalty Keras adds for this output."""
        t = self._typed()
        y = np.ascontiguousarray(outputs, dtype=t.np_type)
        if y.ndim != 3:
            raise ValueError(f"{self.name}: activity_regularization expects the layer's 3-D "
                             f"output, got shape {y.shape}")
        out_steps = y.shape[2] if self.data_format == "channels_first" else y.shape[1]
        penalty = ctypes.c_double()
        check(t.activity(self._handle, _pointer(y, t.pointer), y.size, y.shape[0], out_steps,
                         ctypes.byref(penalty)))
        return penalty.value

    def apply_constraints(self):
        """Projects the weights by kernel_constraint and bias_constraint, as Keras's optimizer
        does after each step."""
        check(_lib.convt_layer_apply_constraints(self._handle))

    def stream(self, batch=1):
        """A Stream of `batch` signals through this layer (which must have weights)."""
        return Stream(self, batch)


class Stream(_Owned):
    """A signal of `batch` items run through a built layer in chunks: `push(chunk)` returns
    the output steps that became final, `flush()` the rest (then a new signal starts). The
    pushes and the flush, concatenated along time, equal the layer's output for the whole
    signal. Chunks and outputs are in the layer's data format. The layer must keep its
    parameters and weights while the stream exists; the stream holds a reference to it.
    One thread at a time."""

    def __init__(self, layer, batch=1):
        self._handle = None
        self._layer = layer  # the layer outlives the stream
        handle = ctypes.POINTER(_capi.StreamHandle)()
        check(_lib.convt_stream_create(layer._handle, _one_int(batch, "batch"),
                                       ctypes.byref(handle)))
        self._handle = handle
        self._batch = int(batch)

    _destroy = staticmethod(_lib.convt_stream_destroy)

    def max_output_steps(self, steps):
        """The output steps the next push of `steps` steps writes (0: what flush would)."""
        n = ctypes.c_int64()
        check(_lib.convt_stream_max_output_steps(self._handle, steps, ctypes.byref(n)))
        return n.value

    def _output(self, t, steps):
        n = self.max_output_steps(steps)
        return np.empty(self._batch * self._layer.filters * n, dtype=t.np_type)

    def _shaped(self, flat, n):
        # The library packs exactly batch * filters * n values at the start of the buffer.
        return flat[:self._batch * self._layer.filters * n].reshape(
            self._layer._output_shape(self._batch, n))

    def push(self, chunk):
        """Consumes a (batch, steps, channels) chunk -- (batch, channels, steps) with
        channels_first -- and returns the output steps that became final."""
        t = self._layer._typed()
        x, _, steps = self._layer._input(chunk, t)
        y = self._output(t, steps)
        n = ctypes.c_int64()
        check(t.push(self._handle, *_optional(x if x.size else None, t.pointer), steps,
                     *_optional(y if y.size else None, t.pointer), ctypes.byref(n)))
        return self._shaped(y, n.value)

    def flush(self):
        """The rest of the signal; the stream then starts a new one."""
        t = self._layer._typed()
        y = self._output(t, 0)
        n = ctypes.c_int64()
        check(t.flush(self._handle, *_optional(y if y.size else None, t.pointer),
                      ctypes.byref(n)))
        return self._shaped(y, n.value)

    def reset(self):
        """Drops the signal so far."""
        check(_lib.convt_stream_reset(self._handle))


def version():
    """The loaded library's version, "1.0.0"."""
    return _lib.convt_version_string().decode()
