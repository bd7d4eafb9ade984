"""convt.Conv1DTranspose as a Keras user would use it, checked against a NumPy float64
direct loop written here from the formula in include/convt/convt.h (never from the library).

Run: CONVT_LIBRARY=<prefix>/lib/libconvt.so.1 PYTHONPATH=bindings/python \
     /usr/bin/python3 -m unittest discover -s bindings/python/tests -v
"""

import math
import threading
import unittest

import numpy as np

import convt


# ---- the reference -------------------------------------------------------------------------

def crop_begin(padding, steps, out_steps, strides, k_eff, output_padding, pad_begin):
    """P_b of the header's table of output lengths."""
    l_full = (steps - 1) * strides + k_eff
    if padding == "valid":
        return 0
    if padding == "same":
        if output_padding is None:
            return max(0, l_full - out_steps) // 2
        return max((k_eff - k_eff % 2 - output_padding) // 2, 0)
    if padding == "same_lower":
        if output_padding is None:
            return -(-max(0, l_full - out_steps) // 2)
        return -(-max(l_full + output_padding - steps * strides, 0) // 2)
    return pad_begin


def default_out_steps(padding, steps, strides, k_eff, output_padding, pads):
    l_full = (steps - 1) * strides + k_eff
    op = output_padding
    if padding == "valid":
        return (steps - 1) * strides + max(k_eff, strides) if op is None else l_full + op
    if padding in ("same", "same_lower"):
        if op is None:
            return steps * strides
        if padding == "same":
            return (steps - 1) * strides + k_eff % 2 + op
        return l_full + op - max(l_full + op - steps * strides, 0)
    return l_full - pads[0] - pads[1] + (0 if op is None else op)


def reference(x_ncw, w_iow, bias, groups, strides, dilation, p_b, out_steps):
    """y[n][o][j] = bias[o] + sum x[n][c][i] * w_iow[c][o % (F/G)][t] over c in o's group,
    i * strides + t * dilation == j + p_b. Returns (y, sum of |terms|) in NCW, float64."""
    n, c, steps = x_ncw.shape
    _, fpg, k = w_iow.shape
    f, cpg = fpg * groups, c // groups
    y = np.zeros((n, f, out_steps))
    mag = np.zeros((n, f, out_steps))
    for t in range(k):
        for i in range(steps):
            j = i * strides + t * dilation - p_b
            if not 0 <= j < out_steps:
                continue
            for g in range(groups):
                xs = x_ncw[:, g * cpg:(g + 1) * cpg, i]
                ws = w_iow[g * cpg:(g + 1) * cpg, :, t]
                y[:, g * fpg:(g + 1) * fpg, j] += xs @ ws
                mag[:, g * fpg:(g + 1) * fpg, j] += np.abs(xs) @ np.abs(ws)
    if bias is not None:
        y += bias[None, :, None]
        mag += np.abs(bias)[None, :, None]
    return y, mag


def woi_from_iow(w_iow, groups):
    """W_woi[t][o][c'] = W_iow[(o / (F/G)) * (C/G) + c'][o % (F/G)][t]."""
    c, fpg, k = w_iow.shape
    cpg = c // groups
    f = fpg * groups
    woi = np.empty((k, f, cpg), dtype=w_iow.dtype)
    for t in range(k):
        for o in range(f):
            for cc in range(cpg):
                woi[t, o, cc] = w_iow[(o // fpg) * cpg + cc, o % fpg, t]
    return woi


CASES = [
    # Keras: Conv1DTranspose(4, 3, strides=2, padding="same"), channels_last
    dict(filters=4, kernel_size=3, strides=2, padding="same", in_channels=3, steps=7, batch=2),
    # PyTorch: ConvTranspose1d(4, 6, 5, stride=3, padding=2, output_padding=1, groups=2)
    dict(filters=6, kernel_size=5, strides=3, padding=2, output_padding=1, groups=2,
         data_format="channels_first", in_channels=4, steps=9, batch=1),
    # valid, dilated, no bias
    dict(filters=3, kernel_size=4, dilation_rate=3, use_bias=False, in_channels=2, steps=5,
         batch=3),
    # ONNX SAME_LOWER, even kernel, with output_padding
    dict(filters=2, kernel_size=6, strides=4, padding="same_lower", output_padding=2,
         data_format="channels_first", in_channels=3, steps=6, batch=2),
    # Keras "same" with output_padding, asymmetric crop
    dict(filters=5, kernel_size=4, strides=3, padding="same", output_padding=1, in_channels=2,
         steps=4, batch=1),
]


def split_case(case):
    case = dict(case)
    shape = dict(in_channels=case.pop("in_channels"), steps=case.pop("steps"),
                 batch=case.pop("batch"))
    return case, shape


def check_against_reference(test, case, dtype, out_steps=None, layout="keras"):
    kwargs, shape = split_case(case)
    rng = np.random.default_rng(1234)
    layer = convt.Conv1DTranspose(dtype=dtype, **kwargs)
    n, c, steps = shape["batch"], shape["in_channels"], shape["steps"]
    g = kwargs.get("groups", 1)
    f, k = kwargs["filters"], kwargs["kernel_size"]
    s, d = kwargs.get("strides", 1), kwargs.get("dilation_rate", 1)
    op = kwargs.get("output_padding")
    padding = kwargs.get("padding", "valid")
    pads = (padding, padding) if isinstance(padding, int) else (0, 0)
    mode = "explicit" if isinstance(padding, int) else padding
    channels_first = kwargs.get("data_format") == "channels_first"

    x_ncw = rng.uniform(-1, 1, (n, c, steps))
    w_iow = rng.uniform(-1, 1, (c, f // g, k))
    bias = rng.uniform(-1, 1, f) if kwargs.get("use_bias", True) else None
    kernel = w_iow if layout == "pytorch" else woi_from_iow(w_iow, g)
    layer.set_weights([kernel] if bias is None else [kernel, bias], layout=layout)

    k_eff = d * (k - 1) + 1
    want_len = default_out_steps(mode, steps, s, k_eff, op, pads)
    x = x_ncw if channels_first else x_ncw.transpose(0, 2, 1)
    test.assertEqual(layer.compute_output_shape(x.shape),
                     (n, f, want_len) if channels_first else (n, want_len, f))
    length = want_len if out_steps is None else out_steps
    y = layer(x, out_steps=out_steps)
    test.assertEqual(y.dtype, np.dtype(dtype))
    y_ncw = y if channels_first else y.transpose(0, 2, 1)
    test.assertEqual(y_ncw.shape, (n, f, length))

    p_b = crop_begin(mode, steps, length, s, k_eff, op, pads[0])
    x_seen = x_ncw.astype(dtype).astype(np.float64)
    w_seen = w_iow.astype(dtype).astype(np.float64)
    b_seen = None if bias is None else bias.astype(dtype).astype(np.float64)
    want, mag = reference(x_seen, w_seen, b_seen, g, s, d, p_b, length)
    u = 2.0 ** -24 if dtype == "float32" else 2.0 ** -53
    allowed = 2 * (c // g * k + 4) * u * mag + 16 * u * np.abs(want)
    err = np.abs(y_ncw.astype(np.float64) - want)
    test.assertTrue(np.all(err <= allowed), f"worst error {err.max()} for {case}")


# ---- the tests -----------------------------------------------------------------------------

class ForwardTest(unittest.TestCase):
    def test_keras_documentation_example_gives_4_21_32_nonnegative(self):
        layer = convt.Conv1DTranspose(32, 3, 2, activation="relu", seed=3)
        y = layer(np.random.default_rng(0).random((4, 10, 128), dtype=np.float32))
        self.assertEqual(y.shape, (4, 21, 32))
        self.assertEqual(y.dtype, np.float32)
        self.assertGreaterEqual(y.min(), 0.0)
        self.assertGreater(y.max(), 0.0)

    def test_forward_matches_the_float64_reference_in_both_dtypes_and_layouts(self):
        for case in CASES:
            for dtype in ("float32", "float64"):
                for layout in ("keras", "pytorch"):
                    with self.subTest(case=case, dtype=dtype, layout=layout):
                        check_against_reference(self, case, dtype, layout=layout)

    def test_out_steps_takes_tf_output_shape_and_pytorch_output_size(self):
        same = dict(filters=2, kernel_size=3, strides=3, padding="same", in_channels=2, steps=5,
                    batch=2)
        for out_steps in (13, 14, 15):  # (L-1)*S + 1 ... L*S
            with self.subTest(out_steps=out_steps):
                check_against_reference(self, same, "float64", out_steps=out_steps)
        torch_like = dict(filters=3, kernel_size=4, strides=3, padding=1,
                          data_format="channels_first", in_channels=2, steps=4, batch=1)
        for out_steps in (11, 12, 13):  # default, + output_padding 1 and 2
            with self.subTest(out_steps=out_steps):
                check_against_reference(self, torch_like, "float32", out_steps=out_steps)

    def test_hand_computed_same_padding_example(self):
        layer = convt.Conv1DTranspose(2, 3, strides=2, padding="same")
        layer.set_weights([np.array([[[1], [10]], [[2], [20]], [[3], [30]]]),
                           np.array([0.5, -0.5])])
        y = layer(np.array([[[1], [2], [3], [4]]]))
        # y[j] = sum of x[i] * W[t] over 2i + t = j, plus the bias.
        want0 = np.array([1, 2, 3 + 2, 4, 6 + 3, 6, 9 + 4, 8]) + 0.5
        want1 = (want0 - 0.5) * 10 - 0.5
        np.testing.assert_array_equal(y[0, :, 0], want0.astype(np.float32))
        np.testing.assert_array_equal(y[0, :, 1], want1.astype(np.float32))

    def test_inputs_are_cast_to_the_layer_dtype(self):
        layer = convt.Conv1DTranspose(2, 2, dtype="float64", seed=5)
        y = layer(np.ones((1, 3, 2), dtype=np.float32))
        self.assertEqual(y.dtype, np.float64)
        layer32 = convt.Conv1DTranspose(2, 2, dtype=np.float32, seed=5)
        self.assertEqual(layer32(np.ones((1, 3, 2), dtype=np.float64)).dtype, np.float32)

    def test_forward_from_many_threads_gives_the_same_output(self):
        layer = convt.Conv1DTranspose(8, 5, strides=2, padding="same", seed=11)
        x = np.random.default_rng(2).standard_normal((2, 50, 4)).astype(np.float32)
        want = layer(x)
        results = [None] * 8

        def run(k):
            results[k] = layer(x)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for got in results:
            np.testing.assert_array_equal(got, want)


class WeightsTest(unittest.TestCase):
    def test_pytorch_layout_is_the_keras_kernel_regrouped(self):
        layer = convt.Conv1DTranspose(6, 3, groups=2, seed=9)
        layer.build((1, 5, 4))
        kernel_keras, bias = layer.get_weights()
        kernel_torch, bias_torch = layer.get_weights(layout="pytorch")
        self.assertEqual(kernel_keras.shape, (3, 6, 2))
        self.assertEqual(kernel_torch.shape, (4, 3, 3))
        np.testing.assert_array_equal(woi_from_iow(kernel_torch, 2), kernel_keras)
        np.testing.assert_array_equal(bias, bias_torch)
        np.testing.assert_array_equal(layer.kernel, kernel_keras)

    def test_set_weights_round_trips_exactly(self):
        layer = convt.Conv1DTranspose(3, 2, dtype="float64")
        kernel = np.random.default_rng(4).standard_normal((2, 3, 5))
        bias = np.array([1.0, -2.0, 3.5])
        self.assertEqual(layer.get_weights(), [])
        self.assertFalse(layer.built)
        layer.set_weights([kernel, bias])
        self.assertTrue(layer.built)
        self.assertEqual(layer.in_channels, 5)
        got_kernel, got_bias = layer.get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)

    def test_without_bias_the_weights_are_just_the_kernel(self):
        layer = convt.Conv1DTranspose(3, 2, use_bias=False, seed=1)
        layer.build((None, 4, 2))
        weights = layer.get_weights()
        self.assertEqual(len(weights), 1)
        self.assertIsNone(layer.bias)
        with self.assertRaises(ValueError):
            layer.set_weights([weights[0], np.zeros(3)])

    def test_the_same_seed_gives_the_same_weights_within_glorots_bound(self):
        a = convt.Conv1DTranspose(16, 5, seed=77)
        b = convt.Conv1DTranspose(16, 5, seed=77)
        a.build((1, 8, 4))
        b.build((1, 8, 4))
        np.testing.assert_array_equal(a.kernel, b.kernel)
        # Keras's fans for (kernel_size, filters, in_channels): in = 5*16, out = 5*4.
        limit = math.sqrt(6.0 / (5 * 16 + 5 * 4))
        self.assertLessEqual(np.abs(a.kernel).max(), limit)
        self.assertGreater(np.abs(a.kernel).max(), limit / 2)
        np.testing.assert_array_equal(a.bias, np.zeros(16, dtype=np.float32))


class ShapeTest(unittest.TestCase):
    def test_compute_output_shape_follows_keras_with_none(self):
        layer = convt.Conv1DTranspose(32, 3, strides=2)
        self.assertEqual(layer.compute_output_shape((None, 10, 128)), (None, 21, 32))
        self.assertEqual(layer.compute_output_shape((4, None, 128)), (4, None, 32))
        first = convt.Conv1DTranspose(8, 4, strides=4, padding="same",
                                      data_format="channels_first")
        self.assertEqual(first.compute_output_shape((2, 3, 10)), (2, 8, 40))

    def test_keras_attributes_read_back_as_keras_spells_them(self):
        layer = convt.Conv1DTranspose(4, (3,), strides=(2,), padding="SAME", output_padding=1,
                                      activation="swish", name="up1", dtype="double")
        self.assertEqual(layer.kernel_size, (3,))
        self.assertEqual(layer.strides, (2,))
        self.assertEqual(layer.padding, "same")
        self.assertEqual(layer.output_padding, (1,))
        self.assertEqual(layer.activation, "silu")
        self.assertEqual(layer.name, "up1")
        self.assertEqual(layer.dtype, "float64")
        self.assertEqual(layer.data_format, "channels_last")
        clone = convt.Conv1DTranspose.from_config(layer.get_config())
        self.assertEqual(clone.get_config(), layer.get_config())

    def test_input_shape_declares_steps_and_channels(self):
        layer = convt.Conv1DTranspose(2, 3, input_shape=(6, 3), seed=2)
        self.assertEqual(layer.in_channels, 3)
        layer(np.zeros((1, 6, 3), dtype=np.float32))
        with self.assertRaises(convt.ShapeError) as caught:
            layer(np.zeros((1, 7, 3), dtype=np.float32))
        self.assertIn("7", caught.exception.message)


class ErrorTest(unittest.TestCase):
    def test_library_errors_carry_status_and_message(self):
        with self.assertRaises(convt.InvalidArgumentError) as caught:
            convt.Conv1DTranspose(2, 3, strides=0)
        e = caught.exception
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.status, 1)
        self.assertEqual(e.status_name, "CONVT_E_INVALID_ARGUMENT")
        self.assertIn("strides", e.message)
        self.assertIn("0", e.message)
        self.assertEqual(str(e), "CONVT_E_INVALID_ARGUMENT: " + e.message)

    def test_wrong_channels_is_a_shape_error_with_the_numbers(self):
        layer = convt.Conv1DTranspose(2, 3, seed=1)
        layer.build((1, 4, 3))
        with self.assertRaises(convt.ShapeError) as caught:
            layer(np.zeros((2, 4, 5), dtype=np.float32))
        self.assertEqual(caught.exception.status_name, "CONVT_E_SHAPE")
        self.assertIn("40", caught.exception.message)  # the 2*4*5 values given
        self.assertIn("convt_layer_forward_f32", caught.exception.message)

    def test_an_out_steps_no_padding_allows_is_rejected_with_the_accepted_range(self):
        layer = convt.Conv1DTranspose(2, 3, strides=2, padding="same", seed=1)
        with self.assertRaises(convt.ShapeError) as caught:
            layer(np.zeros((1, 4, 1), dtype=np.float32), out_steps=9)
        self.assertIn("9", caught.exception.message)

    def test_names_keras_has_but_libconvt_lacks_are_not_implemented(self):
        with self.assertRaises(NotImplementedError) as caught:
            convt.Conv1DTranspose(2, 3, activation="glu")
        self.assertIsInstance(caught.exception, convt.UnsupportedError)
        self.assertIn("glu", caught.exception.message)
        with self.assertRaises(convt.InvalidArgumentError) as caught:
            convt.Conv1DTranspose(2, 3, padding="sideways")
        self.assertIn("sideways", caught.exception.message)


    def test_a_kernel_of_the_wrong_shape_is_refused_before_the_library(self):
        layer = convt.Conv1DTranspose(2, 3)
        with self.assertRaises(convt.ShapeError) as caught:
            layer.set_weights([np.zeros((2, 3, 1)), np.zeros(2)])
        self.assertIn("(3, 2, C/1)", caught.exception.message)
        self.assertFalse(layer.built)

    def test_a_closed_layer_raises_instead_of_crashing(self):
        layer = convt.Conv1DTranspose(2, 3)
        layer.close()
        with self.assertRaises(convt.InvalidArgumentError) as caught:
            _ = layer.filters
        self.assertIn("NULL", caught.exception.message)

    def test_each_thread_reads_its_own_message(self):
        messages = {}

        def fail(k):
            try:
                convt.Conv1DTranspose(2, 3, strides=-(k + 100))
            except convt.InvalidArgumentError as e:
                messages[k] = e.message

        threads = [threading.Thread(target=fail, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(messages), 16)
        for k, message in messages.items():
            self.assertIn(str(-(k + 100)), message)


class TrainingTest(unittest.TestCase):
    def test_backward_is_the_adjoint_of_forward(self):
        # Linear: <y - b, g> = <x, dL/dx> = <W, dL/dW>, and dL/db sums g over batch and steps.
        layer = convt.Conv1DTranspose(6, 5, strides=3, padding=(2, 1), groups=2,
                                      data_format="channels_first", dtype="float64", seed=4)
        rng = np.random.default_rng(8)
        x = rng.standard_normal((2, 4, 9))
        y = layer(x)
        kernel, bias = layer.get_weights()
        g = rng.standard_normal(y.shape)
        grad_x, grad_w, grad_b = layer.backward(x, g)
        self.assertEqual(grad_x.shape, x.shape)
        self.assertEqual(grad_w.shape, kernel.shape)
        want = np.sum((y - bias[None, :, None]) * g)
        self.assertAlmostEqual(np.sum(x * grad_x), want, places=9)
        self.assertAlmostEqual(np.sum(kernel * grad_w), want, places=9)
        np.testing.assert_allclose(grad_b, g.sum(axis=(0, 2)), rtol=1e-12)
        _, grad_torch, _ = layer.backward(x, g, layout="pytorch")
        np.testing.assert_allclose(woi_from_iow(grad_torch, 2), grad_w, rtol=1e-12)
        layer.trainable = False
        frozen_x, frozen_w, frozen_b = layer.backward(x, g)
        self.assertIsNone(frozen_w)
        self.assertIsNone(frozen_b)
        np.testing.assert_array_equal(frozen_x, grad_x)

    def test_regularizers_by_name_and_by_keras_object(self):
        class L1L2:  # stands for keras.regularizers.L1L2(l1=0.5, l2=0.25)
            def get_config(self):
                return {"l1": 0.5, "l2": 0.25}

        layer = convt.Conv1DTranspose(3, 2, kernel_regularizer=L1L2(), bias_regularizer="l2",
                                      activity_regularizer={"class_name": "L1",
                                                            "config": {"l1": 0.1}},
                                      dtype="float64")
        kernel = np.array([1.0, -2, 3, -4, 5, -6]).reshape(2, 3, 1)
        bias = np.array([1.0, 2, -3])
        layer.set_weights([kernel, bias])
        want = 0.5 * 21 + 0.25 * 91 + 0.01 * 14  # l1|k| + l2 k^2 + bias's default l2 0.01
        self.assertAlmostEqual(layer.regularization_loss(), want, places=12)
        y = np.array([[[1.0, -1, 2]], [[-2, 3, -3]]])  # batch 2, 1 step
        self.assertAlmostEqual(layer.activity_regularization(y), 0.1 * 12 / 2, places=12)
        config = layer.get_config()
        self.assertEqual(config["kernel_regularizer"],
                         {"class_name": "l1_l2", "config": {"l1": 0.5, "l2": 0.25}})
        self.assertIsNone(config["kernel_constraint"])
        with self.assertRaises(convt.InvalidArgumentError):
            convt.Conv1DTranspose(3, 2, kernel_regularizer="orthogonal_regularizer")

    def test_constraints_project_the_weights(self):
        layer = convt.Conv1DTranspose(2, 2, kernel_constraint="non_neg", dtype="float64",
                                      bias_constraint={"class_name": "MaxNorm",
                                                       "config": {"max_value": 1.0, "axis": 0}})
        layer.set_weights([np.array([1.0, -2, 3, -4]).reshape(2, 2, 1), np.array([3.0, 4.0])])
        layer.apply_constraints()
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(kernel.ravel(), [1, 0, 3, 0])
        np.testing.assert_allclose(bias, np.array([3.0, 4.0]) / (5 + 1e-7), rtol=1e-12)


class StreamTest(unittest.TestCase):
    def test_chunks_concatenate_to_the_whole_output(self):
        for data_format in ("channels_last", "channels_first"):
            with self.subTest(data_format=data_format):
                layer = convt.Conv1DTranspose(3, 5, strides=2, padding="same",
                                              data_format=data_format, seed=21)
                rng = np.random.default_rng(3)
                # Small integers: every sum is exact in float32, so the two agree bitwise.
                kernel = rng.integers(-3, 4, (5, 3, 2)).astype(np.float32)
                layer.set_weights([kernel, np.array([1, -1, 2], dtype=np.float32)])
                first = data_format == "channels_first"
                axis = 2 if first else 1
                x = rng.integers(-3, 4, (2, 2, 20) if first else (2, 20, 2)).astype(np.float32)
                whole = layer(x)
                with layer.stream(batch=2) as stream:
                    parts, done = [], 0
                    for steps in (3, 0, 1, 9, 7):
                        chunk = np.take(x, range(done, done + steps), axis=axis)
                        parts.append(stream.push(chunk))
                        done += steps
                    parts.append(stream.flush())
                    self.assertEqual(stream.max_output_steps(0), 0)
                np.testing.assert_array_equal(np.concatenate(parts, axis=axis), whole)

    def test_a_stream_needs_weights(self):
        layer = convt.Conv1DTranspose(2, 3)
        with self.assertRaises(convt.StateError) as caught:
            layer.stream()
        self.assertIn("weights", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
