#!/usr/bin/env python3
"""Writes the fuzz harness's seed corpus (tests/fuzz/corpus/): one short program per scenario,
in the byte encoding that Program and Harness::run in fuzz_capi.cpp decode. The seeds only
give the fuzzer a head start into deep states (weights set, every padding mode, both dtypes
and layouts, the error paths); the fuzzer mutates them from there.

Usage: tests/fuzz/make_seeds.py [corpus-dir]   (rerun after changing the encoding)
"""
import math
import os
import struct
import sys

# Opcodes: Harness::run takes the first byte of each call modulo 16; 10 with a second byte
# >= 200 is a stream reset, max_output_steps or destroy instead of a getter.
CREATE, DESTROY, SET_INT, SET_DOUBLE, SET_STRING, SET_WEIGHTS, INIT_WEIGHTS, OUTPUT_SHAPE = range(8)
FORWARD, GETTERS, NULL_LAYER, BACKWARD, STREAM = 8, 10, 11, 12, 13

# convt_param values (include/convt/convt.h)
FILTERS, KERNEL_SIZE, IN_CHANNELS, STRIDES, DILATION, PADDING, PAD_BEGIN, PAD_END = range(1, 9)
OUTPUT_PADDING, DATA_FORMAT, GROUPS, USE_BIAS, ACTIVATION, ALPHA, DTYPE = range(9, 16)
INPUT_STEPS, BATCH_SIZE, NAME, NUM_THREADS, KERNEL_INIT, BIAS_INIT, TRAINABLE = range(16, 23)

NAMES = ["valid", "SAME", "same_lower", "explicit", "SAME_UPPER", "NOTSET", "channels_first",
         "NCW", "nlc", "channels_last", "relu", "Softmax", "sparsemax", "gelu", "leaky_relu",
         "swish", "glu", "float64", "double", "float32", "float16", "bfloat16", "glorot_uniform",
         "Orthogonal", "zeros", "random_normal", "", "conv1d_transpose", "x", "no_such_name"]

NO = 255  # a byte that makes Program::chance(n) false for every n the harness uses


def integer(v):
    """Program::integer(): small values in one byte, anything else raw."""
    if -2 <= v <= 13:
        return bytes([v + 2])
    return bytes([255]) + struct.pack("<q", v)


def size(v, span):
    """Program::size(span): 1 .. span in one byte, anything else through integer()."""
    if 1 <= v <= span:
        return bytes([v - 1])
    return bytes([240]) + integer(v)


def real(v):
    """Program::real(): multiples of 1/8 in [-8, 8) in one byte, anything else raw."""
    k = v * 8 + 64
    if math.isfinite(k) and k == int(k) and 0 <= k < 128:
        return bytes([int(k)])
    return bytes([255]) + struct.pack("<d", v)


def name(s):
    return bytes([NAMES.index(s)]) if s in NAMES else bytes([224]) + s.encode() + b"\0"


def create(filters, kernel):
    return bytes([CREATE]) + size(filters, 6) + size(kernel, 5) + bytes([NO])


def set_int(param, value):
    return bytes([SET_INT, param + 1]) + integer(value)


def set_double(param, value):
    return bytes([SET_DOUBLE, param + 1]) + real(value)


def set_string(param, value):
    return bytes([SET_STRING, param + 1]) + name(value) + bytes([NO])


def set_weights(f64, in_channels, layout=0, kernel_len=0, bias=0):
    """kernel_len: 0 = expected, 192 = one short, 208 = one long; bias: 0 = filters values,
    1 = NULL, 3 = a pointer with length 0, 4 = one short."""
    layout_bytes = bytes([layout]) if layout < 2 else bytes([240]) + integer(layout)
    return (bytes([SET_WEIGHTS, 200 if f64 else 0, 128 + in_channels - 1]) + layout_bytes +
            bytes([kernel_len, 7, NO, bias]))


def init_weights(in_channels, seed):
    return bytes([INIT_WEIGHTS, 128 + in_channels - 1, 0, seed])


def output_shape(batch, steps):
    return bytes([OUTPUT_SHAPE]) + size(batch, 3) + size(steps, 6) + bytes([NO])


def forward(f64, batch, steps, delta=0, input_len=0, output_len=0, nulls=100):
    """delta: out_steps = the default + delta (-3 .. 3); input_len/output_len as kernel_len."""
    ob = 0 if delta == 0 else 133 + delta + 3  # default + ob % 7 - 3, and 133 % 7 == 0
    return (bytes([FORWARD, 200 if f64 else 0]) + size(batch, 3) + size(steps, 6) + integer(0) +
            bytes([ob, input_len, output_len, 1, 9, nulls]))


def get_string(param, capacity_byte, null_buf=NO):
    return bytes([GETTERS, 0, param + 1, 0, capacity_byte, null_buf, NO])


def get_int(param):
    return bytes([GETTERS, 0, param + 1, 1, NO])


def get_weights(kernel_len=0, bias_len=0, layout=0):
    return bytes([GETTERS, 0, 1, 2, kernel_len, bias_len, layout, NO])


def null_layer(which):
    return bytes([NULL_LAYER, which])


def grad(asked=True, length=0):
    """pick_grad: asked with a length as kernel_len's byte says, or NULL with length 0."""
    return bytes([0, length]) if asked else bytes([200])


def backward(f64, batch, steps, delta=0, gx=True, gk=True, gb=True, layout=0, nulls=100):
    ob = 0 if delta == 0 else 133 + delta + 3
    return (bytes([BACKWARD, 200 if f64 else 0]) + size(batch, 3) + size(steps, 6) + integer(0) +
            bytes([ob, 0, 0]) + grad(gx) + bytes([layout]) + grad(gk) + grad(gb) +
            bytes([5, 6, nulls]))


def stream_create(batch):
    return bytes([STREAM]) + size(batch, 3) + bytes([NO])


def push(f64, steps, input_len=0, output_len=0, nulls=100):
    steps_bytes = bytes([steps]) if 0 <= steps <= 8 else bytes([240]) + integer(steps)
    return (bytes([STREAM + 1, 200 if f64 else 0]) + steps_bytes +
            bytes([input_len, output_len, 3, nulls]))


def flush(f64, output_len=0):
    return bytes([STREAM + 2, 200 if f64 else 0, output_len, NO, NO])


def stream_misc(which, steps=None):
    return bytes([GETTERS, 200, which]) + (integer(steps) + bytes([NO]) if steps is not None else b"")


SEEDS = {
    "basic_f32_nwc": [create(4, 3), set_weights(False, 2), output_shape(2, 5), forward(False, 2, 5)],
    "f64_ncw_same_strides_groups": [
        create(4, 3), set_int(DTYPE, 1), set_int(DATA_FORMAT, 1), set_int(PADDING, 1),
        set_int(STRIDES, 2), set_int(GROUPS, 2), set_weights(True, 4, layout=1),
        output_shape(3, 6), forward(True, 3, 6), forward(True, 2, 4, delta=-1)],
    "explicit_dilation_output_padding": [
        create(3, 4), set_string(PADDING, "explicit"), set_int(PAD_BEGIN, 1), set_int(PAD_END, 2),
        set_int(DILATION, 2), set_int(OUTPUT_PADDING, 1), init_weights(3, 5), forward(False, 1, 6),
        set_int(OUTPUT_PADDING, -1), forward(False, 2, 6, delta=1)],
    "same_lower_valid_tf_lengths": [
        create(2, 5), set_string(PADDING, "same_lower"), set_int(STRIDES, 3), init_weights(2, 9),
        forward(False, 1, 4, delta=-2), set_string(PADDING, "valid"), forward(False, 1, 4, delta=2),
        set_string(PADDING, "SAME"), forward(False, 2, 3, delta=-1)],
    "activations_and_alpha": [
        create(5, 2), set_string(ACTIVATION, "leaky_relu"), set_double(ALPHA, 0.5),
        set_weights(False, 3), forward(False, 2, 5), set_string(ACTIVATION, "relu"),
        forward(False, 1, 4), set_string(ACTIVATION, "Softmax"), forward(False, 1, 4),
        set_double(ALPHA, 1.0), set_string(ACTIVATION, "gelu"), forward(False, 1, 2)],
    "weights_errors": [
        create(4, 3), set_weights(False, 2, kernel_len=192), set_weights(False, 2, kernel_len=208),
        set_weights(False, 2, bias=1), set_weights(False, 2, bias=4), set_weights(True, 2),
        set_weights(False, 2, layout=7), forward(False, 1, 4), set_int(USE_BIAS, 0),
        set_weights(False, 2, bias=3), set_int(USE_BIAS, 1), set_weights(False, 2),
        set_int(GROUPS, 2), set_int(DTYPE, 1), set_weights(False, 3), get_weights(),
        get_weights(kernel_len=192), get_weights(bias_len=208)],
    "forward_errors": [
        create(4, 3), forward(False, 1, 4), set_weights(False, 2), forward(True, 1, 4),
        forward(False, 1, 4, input_len=192), forward(False, 1, 4, output_len=192),
        forward(False, 1, 4, output_len=208), forward(False, 1, 4, delta=3),
        forward(False, 1, 4, nulls=0), forward(False, 1, 4, nulls=252), set_int(INPUT_STEPS, 5),
        forward(False, 1, 4), set_int(BATCH_SIZE, 2), forward(False, 2, 5), forward(False, 1, 5)],
    "huge_values": [
        create(6, 5), set_int(STRIDES, 1 << 62), output_shape(2, 3), set_int(STRIDES, 1 << 31),
        set_int(DILATION, (1 << 31) - 1), output_shape(1, 6), set_int(PAD_BEGIN, 2 ** 63 - 1),
        set_string(PADDING, "explicit"), output_shape(1, 1), set_int(IN_CHANNELS, 1 << 59),
        init_weights(1, 3), create(2 ** 40, 1), output_shape(1, 1), set_weights(False, 1)],
    "parameters_any_value": [
        create(3, 3), set_int(0, 1), set_int(FILTERS, 2), set_int(PADDING, 4), set_int(GROUPS, 0),
        set_int(OUTPUT_PADDING, -2), set_int(ACTIVATION, 28), set_int(BIAS_INIT, 11),
        set_int(ALPHA, 1), set_double(ALPHA, 0.25), set_double(STRIDES, 2.0),
        set_double(ALPHA, float("nan")), set_string(NAME, ""), set_string(NAME, "my layer"),
        set_string(PADDING, "SAME_UPPER"), set_string(ACTIVATION, "glu"),
        set_string(DTYPE, "float16"), set_string(STRIDES, "valid"), get_string(NAME, 3),
        get_string(NAME, 0, null_buf=0), get_string(PADDING, 200), get_string(ACTIVATION, 64),
        get_int(ALPHA), get_int(STRIDES)],
    "initializers_no_bias": [
        create(4, 2), set_int(USE_BIAS, 0), set_string(KERNEL_INIT, "Orthogonal"),
        init_weights(3, 1), forward(True, 1, 3), forward(False, 2, 3), set_int(KERNEL_INIT, 3),
        init_weights(3, 2), set_int(IN_CHANNELS, 4), set_int(IN_CHANNELS, 3), set_int(USE_BIAS, 1),
        set_int(DTYPE, 1), bytes([DESTROY, NO]), forward(False, 1, 3)],
    "null_layer_calls": [null_layer(i) for i in range(8)] + [bytes([DESTROY, 0])],
    "backward_linear_f32": [
        create(4, 3), set_weights(False, 2), backward(False, 2, 5), backward(False, 1, 3, delta=1),
        backward(False, 2, 4, gx=False, layout=1), backward(False, 1, 4, gk=False, gb=False)],
    "backward_tanh_f64_groups_trainable": [
        create(4, 3), set_int(DTYPE, 1), set_int(GROUPS, 2), set_string(ACTIVATION, "gelu"),
        set_int(STRIDES, 2), set_weights(True, 4, layout=1), backward(True, 2, 4, layout=1),
        set_int(ACTIVATION, 0), backward(True, 1, 5), set_int(TRAINABLE, 0), backward(True, 1, 5),
        backward(True, 1, 5, gk=False, gb=False), backward(False, 1, 5), set_int(USE_BIAS, 0)],
    "stream_f32_nwc_same": [
        create(3, 4), set_string(PADDING, "same"), set_int(STRIDES, 2), init_weights(2, 4),
        stream_create(2), push(False, 3), push(False, 1), push(False, 0), push(False, 5),
        flush(False), push(False, 2), stream_misc(0), push(False, 4), flush(False),
        flush(False)],
    "stream_f64_ncw_explicit": [
        create(2, 3), set_int(DTYPE, 1), set_int(DATA_FORMAT, 1), set_string(PADDING, "explicit"),
        set_int(PAD_BEGIN, 1), set_int(PAD_END, 2), set_int(DILATION, 2), set_weights(True, 3),
        stream_create(1), push(True, 1), push(True, 1), push(True, 1), push(True, 1), push(True, 7),
        flush(True), push(False, 2), push(True, 2, input_len=192), push(True, 2, output_len=192),
        set_int(STRIDES, 3), push(True, 2), set_int(STRIDES, 1), push(True, 2), flush(True)],
    "stream_errors": [
        create(3, 2), stream_create(1), set_string(ACTIVATION, "Softmax"), set_int(DATA_FORMAT, 1),
        init_weights(2, 1), stream_create(1), set_int(DATA_FORMAT, 0), set_int(BATCH_SIZE, 2),
        stream_create(1), stream_create(2), stream_misc(1, -1), stream_misc(1, 2 ** 62),
        push(False, 250), flush(False, output_len=192), stream_misc(2), push(False, 1),
        stream_misc(0), stream_misc(3)],
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for label, calls in SEEDS.items():
        with open(os.path.join(out, label), "wb") as f:
            f.write(b"".join(calls))
    print(f"{len(SEEDS)} seeds written to {out}")


if __name__ == "__main__":
    main()
