/*
 * libconvt -- the 1-D transposed convolution layer, as a C library.
 *
 * ===========================================================================================
 *  Introduction
 * ===========================================================================================
 *
 * libconvt computes the layer that Keras calls Conv1DTranspose (R keras:
 * layer_conv_1d_transpose), TensorFlow tf.nn.conv1d_transpose, PyTorch ConvTranspose1d and
 * ONNX ConvTranspose (1-D), and gives the numbers those frameworks give, to rounding.
 * This header is the whole public surface and its manual: C99 and C++ alike.
 *
 * Lifecycle
 *   convt_layer_create(filters, kernel_size, &layer)      Keras's defaults for everything else
 *   convt_layer_set_int / _double / _string(...)          strides, padding, activation, ...
 *   convt_layer_set_weights_f32(...) or _init_weights(...) fixes in_channels, groups, dtype
 *   convt_layer_output_shape(layer, batch, steps, shape)  how long the output will be
 *   convt_layer_forward_f32(...)                          as often as you like, from any thread
 *   convt_layer_backward_f32(...)                         gradients, for training (Training)
 *   convt_layer_destroy(layer)
 *
 * Data layout
 *   All tensors are dense, row-major (C order) arrays of the layer's dtype.
 *   input   (batch, steps, in_channels)      channels_last  = NWC, Keras's and TF's default
 *           (batch, in_channels, steps)      channels_first = NCW, PyTorch's and ONNX's layout
 *   output  (batch, out_steps, filters)  or  (batch, filters, out_steps), by the same setting
 *   kernel  CONVT_LAYOUT_WOI: (kernel_size, filters, in_channels / groups)   Keras, TF
 *           CONVT_LAYOUT_IOW: (in_channels, filters / groups, kernel_size)   PyTorch, ONNX
 *           with groups G: W_woi[t][o][c'] = W_iow[(o / (F/G)) * (C/G) + c'][o % (F/G)][t]
 *   bias    (filters)
 *   Every length passed to the library is an element count, never a byte count.
 *
 * What is computed (one canonical form; the padding modes below map onto it)
 *   K_eff  = dilation_rate * (kernel_size - 1) + 1
 *   L_full = (steps - 1) * strides + K_eff                     the length before any crop
 *   y[n][o][j] = bias[o] + sum of x[n][c][i] * W_iow[c][o % (F/G)][t]
 *                over c in o's group, t < kernel_size, i < steps, with
 *                i * strides + t * dilation_rate == j + P_b,              for 0 <= j < out_steps
 *   then the activation. P_b is the crop at the beginning; the crop at the end is
 *   L_full - P_b - out_steps, and where that is negative the output is extended by steps
 *   that hold only the bias (before the activation). No framework flips the kernel.
 *
 * Output length by padding mode (op = CONVT_PARAM_OUTPUT_PADDING, -1 = unset = Keras None;
 * O = the out_steps you pass to forward; "default" = what convt_layer_output_shape returns)
 *   VALID       op unset  P_b = 0                          default (steps-1)*S + max(K_eff, S)
 *                                                          any O in [L_full, L_full + S - 1]
 *               op set    P_b = 0                          L_full + op
 *   SAME        op unset  P_b = floor(max(0, L_full-O)/2)  default steps*S
 *                                                          any O in [(steps-1)*S + 1, steps*S]
 *               op set    P_b = max(floor((K_eff - K_eff%2 - op)/2), 0)
 *                                                          (steps-1)*S + K_eff%2 + op  (Keras)
 *   SAME_LOWER  op unset  P_b = ceil(max(0, L_full-O)/2)   as SAME
 *               op set    P_b = ceil(T/2), T = max(L_full + op - steps*S, 0)
 *                                                          L_full + op - T              (ONNX)
 *   EXPLICIT    op unset  P_b = pad_begin                  default L_full - pad_begin - pad_end
 *                                                          any O in [default, default + max(S, D) -
 * 1] op set    P_b = pad_begin                  L_full - pad_begin - pad_end + op (S = strides, D =
 * dilation_rate.) With op set, out_steps must equal the default. Rules: 0 <= op < max(S, D); the
 * output length must be >= 1.
 *
 *   "Why is my output one step shorter than Keras's?" Check, in this order:
 *   - padding SAME with output_padding set gives (steps-1)*S + K_eff%2 + op, which is
 *     steps*S only when op = S - K_eff%2; output_padding -1 (Keras None) gives steps*S;
 *   - padding VALID with output_padding unset gives (steps-1)*S + max(K_eff, S): Keras adds
 *     max(K_eff - S, 0) to steps*S; TF's output_shape may ask for any length up to
 *     L_full + S - 1, and forward accepts it as out_steps;
 *   - PyTorch's padding=p crops p steps at BOTH ends (EXPLICIT, PAD_BEGIN = PAD_END = p);
 *   - a dilation_rate > 1 lengthens the kernel to K_eff.
 *   A forward whose out_steps does not fit fails with CONVT_E_SHAPE and a message that gives
 *   the parameters and the lengths it accepts.
 *
 * Mapping each framework onto this API
 *   Keras Conv1DTranspose(filters, kernel_size, strides, padding="valid"|"same",
 *       output_padding, data_format, dilation_rate, activation, use_bias, ...)
 *       -> PADDING VALID or SAME, OUTPUT_PADDING as given (None = -1), kernel layout WOI.
 *   tf.nn.conv1d_transpose(input, filters, output_shape, strides, padding="VALID"|"SAME")
 *       -> PADDING VALID or SAME, OUTPUT_PADDING unset, out_steps = output_shape's length,
 *          kernel layout WOI ([width, out_channels, in_channels]).
 *   torch.nn.ConvTranspose1d(C, F, K, stride, padding=p, output_padding=op, groups,
 *       dilation) -> PADDING EXPLICIT, PAD_BEGIN = PAD_END = p, OUTPUT_PADDING = op
 *          (or unset, with out_steps = output_size), CHANNELS_FIRST, kernel layout IOW.
 *   ONNX ConvTranspose: pads=[b, e] -> EXPLICIT b, e; auto_pad=SAME_LOWER -> SAME_LOWER;
 *       auto_pad=VALID -> VALID; output_padding absent -> 0; kernel layout IOW. SAME_UPPER
 *       and output_shape are reached through EXPLICIT with the pads ONNX's rule gives.
 *   Where libconvt is wider than Keras: strides > 1 together with dilation_rate > 1, and
 *   strides <= output_padding < dilation_rate, are computed (PyTorch's and ONNX's rule)
 *   although the Keras layer refuses them.
 *
 * Errors
 *   Every function returns a convt_status (CONVT_OK = 0), except the destroy functions,
 *   convt_status_string, convt_last_error and the version functions. A failed call
 *   stores a message for the calling thread -- what was wrong and what was expected,
 *   with the numbers -- which convt_last_error() returns; a successful call leaves it
 *   alone. A failed call changes nothing: the layer keeps its state and no output
 *   buffer is written (getters that report a length are the one documented exception).
 *   Nothing throws, aborts, exits or prints.
 *   Which status: arguments that describe the data you pass (batch, steps, in_channels,
 *   buffer lengths, out_steps) and do not fit the layer are CONVT_E_SHAPE; a bad
 *   hyper-parameter value, NULL pointer or unknown name is CONVT_E_INVALID_ARGUMENT;
 *   a combination of parameters that no input could satisfy (output_padding too large,
 *   groups that do not divide filters or in_channels) is CONVT_E_INVALID_ARGUMENT,
 *   reported by output_shape and forward; a combination that only this input does not
 *   satisfy is CONVT_E_SHAPE.
 *
 * Threads
 *   forward, backward, output_shape and every getter may run at once from any number of
 *   threads on one layer. set_*, set_weights, init_weights and apply_constraints change the
 *   layer and must not overlap with any other call on that layer. Layers are independent of
 *   each other. The library keeps no mutable global state besides each thread's error message
 *   and an atomic counter for default layer names, and never changes the process's BLAS or
 *   OpenMP settings.
 *   Inside one call, forward and backward use up to CONVT_PARAM_NUM_THREADS threads (0 = all
 *   cores; fewer when the call is too small to feed them) from the process's one OpenMP
 *   runtime, over pieces of the output that no two threads share; BLAS runs single-threaded
 *   inside them. The work is cut by the layer's shape only, so every output element is summed
 *   in the same order whatever the thread count: results are bitwise identical for every
 *   NUM_THREADS, run to run.
 *
 * How it computes, and what it allocates
 *   Four kernels, chosen by the layer's shape, dtype and CPU; they agree to rounding:
 *   - direct: layers with very few channels per group -- in_channels/groups <= 8 and
 *     (in_channels/groups) * (filters/groups) <= 64: depthwise layers, 1-channel signals --
 *     gather each output from its taps (in float32 with one channel and one filter per group
 *     and contiguous steps -- channels_first, or a single channel -- on CPUs with AVX-512F
 *     and a stride dividing 16: 16 outputs per vector, written in order);
 *   - tap-sum (float32, fewer than 16 filters per group, AVX-512F, a stride dividing 16):
 *     each tap's sum over the channels along time, then each output phase summed from its
 *     taps' sums and the phases interleaved;
 *   - fused (float32, at least 16 filters per group, CPUs with AVX-512F): outputs are summed
 *     in registers, 12 steps of one phase (j mod strides) x 32 filters at a time, over all the
 *     taps that reach them and the group's channels, from the bias; then stored once
 *     (channels_first: through a small scratch, stored transposed). A phase with more than
 *     512 (tap, channel) products adds each further 512's sum. The layer keeps a second copy
 *     of its kernel in this kernel's order, so float32 weights take twice their size in
 *     memory. Layers whose taps reach further back than the kernel's 512 KiB input tile
 *     holds (hundreds of steps) take GEMM + col2im instead;
 *   - GEMM + col2im (float64, narrower groups, other CPUs): for each tile and each block of
 *     about 1024 (tap, filter) columns, one single-threaded SGEMM/DGEMM (OpenBLAS) computes
 *     the tile's contributions, which col2im adds into the output while they are in cache.
 *   The other kernels seed the output with the bias just before a tile first reaches it.
 *   Element-wise activations run on each piece as soon as it is finished.
 *   Forward allocates a bounded workspace per call (convt_layer_workspace_size: at most 2 MiB
 *   per thread, whatever the length) and keeps nothing between calls, so it is reentrant.
 *   OpenBLAS (0.3.21; for GEMM + col2im, backward and streams) is private and statically
 *   linked. CONVT_OPENBLAS_CORETYPE (e.g. "SkylakeX", "Haswell") chooses its kernels for
 *   libconvt alone. Without it, AMD CPUs with AVX-512 -- which that release maps to its AVX2
 *   kernels, at half the speed -- get its AVX-512 ones even when the process sets
 *   OPENBLAS_CORETYPE (usually a pin to "Haswell" for an OpenBLAS that does not know the
 *   CPU); other CPUs follow OPENBLAS_CORETYPE like any OpenBLAS. Both are read once, when
 *   libconvt's OpenBLAS initialises.
 *
 * Ownership
 *   The caller owns every buffer it passes; set_weights copies, and no pointer is kept
 *   after a call returns. Returned strings are static, except convt_last_error()'s, which
 *   stays valid until the calling thread's next failing call.
 *
 * Sizes
 *   Every size product is checked: lengths whose products overflow int64, or that could
 *   not fit memory, return CONVT_E_SHAPE and never a wrapped allocation.
 */
#ifndef CONVT_CONVT_H
#define CONVT_CONVT_H

#include <stdint.h>

/* ===========================================================================================
 *  Export and language macros
 * =========================================================================================== */
#if defined(_WIN32) && defined(CONVT_BUILDING_LIBRARY)
#define CONVT_API __declspec(dllexport)
#elif defined(_WIN32)
#define CONVT_API
#elif defined(__GNUC__)
#define CONVT_API __attribute__((visibility("default")))
#else
#define CONVT_API
#endif

#if defined(__cplusplus)
#define CONVT_NOEXCEPT noexcept
extern "C" {
#else
#define CONVT_NOEXCEPT
#endif

/* ===========================================================================================
 *  Version
 * =========================================================================================== */
#define CONVT_VERSION_MAJOR 1
#define CONVT_VERSION_MINOR 0
#define CONVT_VERSION_PATCH 0
#define CONVT_VERSION_NUMBER \
  (CONVT_VERSION_MAJOR * 10000 + CONVT_VERSION_MINOR * 100 + CONVT_VERSION_PATCH)

/** The version of the library actually loaded, as CONVT_VERSION_NUMBER computes it.
 *  Compare it with CONVT_VERSION_NUMBER to detect a header/library mismatch. */
CONVT_API uint32_t convt_version_number(void) CONVT_NOEXCEPT;

/** The version of the library actually loaded as a static string, "1.0.0". */
CONVT_API const char* convt_version_string(void) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Status
 * =========================================================================================== */
/* Status and every enum travel as int32_t, with the values as named constants, so that C,
 * C++, cgo, ctypes, Rust and Julia all see one signed 32-bit type. Values never change. */
typedef int32_t convt_status;
enum {
  CONVT_OK = 0,
  CONVT_E_INVALID_ARGUMENT = 1, /* null pointer, value out of range, unknown enum, param or name */
  CONVT_E_SHAPE = 2,            /* lengths, channels or buffer sizes that do not fit the layer */
  CONVT_E_STATE = 3,            /* call out of order or wrong dtype: forward before weights, ... */
  CONVT_E_OUT_OF_MEMORY = 4,    /* an allocation failed; nothing was changed */
  CONVT_E_UNSUPPORTED = 5,      /* a valid request this version cannot do (a Keras name it lacks) */
  CONVT_E_INTERNAL = 6          /* a bug in libconvt: please report it with the message */
};

/** The name of a status code, "CONVT_E_SHAPE". Never NULL: an unknown code gives
 *  "CONVT_E_UNKNOWN". Static string. */
CONVT_API const char* convt_status_string(convt_status status) CONVT_NOEXCEPT;

/** The message of the calling thread's last failed call, or "" when it has had none.
 *  Valid until this thread's next failing call; a successful call leaves it alone. */
CONVT_API const char* convt_last_error(void) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Enumerations
 * =========================================================================================== */

/** Layer parameters, read and written with convt_layer_get_* / convt_layer_set_*.
 *  "int" parameters use set_int/get_int; "double" ones set_double/get_double; "enum"
 *  ones set_int/get_int with the enum's value or set_string/get_string with its name;
 *  "string" ones set_string/get_string. Using the wrong kind of accessor, or setting a
 *  read-only parameter, is CONVT_E_INVALID_ARGUMENT. */
typedef int32_t convt_param;
enum {
  /* int, read-only: output channels, fixed by convt_layer_create. */
  CONVT_PARAM_FILTERS = 1,
  /* int, read-only: kernel taps, fixed by convt_layer_create. */
  CONVT_PARAM_KERNEL_SIZE = 2,
  /* int, default 0 = not fixed yet. Fixed by set_weights / init_weights; may be set
   * before them to declare the input's channels (>= 1; 0 undeclares), and then weights
   * must agree. Once weights are set, setting another value is CONVT_E_STATE. */
  CONVT_PARAM_IN_CHANNELS = 3,
  /* int >= 1, default 1. */
  CONVT_PARAM_STRIDES = 4,
  /* int >= 1, default 1. */
  CONVT_PARAM_DILATION_RATE = 5,
  /* enum convt_padding, default CONVT_PADDING_VALID. */
  CONVT_PARAM_PADDING = 6,
  /* int >= 0, default 0: the crop at the beginning; used by CONVT_PADDING_EXPLICIT only. */
  CONVT_PARAM_PAD_BEGIN = 7,
  /* int >= 0, default 0: the crop at the end; used by CONVT_PADDING_EXPLICIT only. */
  CONVT_PARAM_PAD_END = 8,
  /* int, default -1 = CONVT_OUTPUT_PADDING_UNSET (Keras None). The setter takes -1 or any
   * value >= 0; output_shape and forward then require op < max(strides, dilation_rate). */
  CONVT_PARAM_OUTPUT_PADDING = 9,
  /* enum convt_data_format, default CONVT_CHANNELS_LAST. */
  CONVT_PARAM_DATA_FORMAT = 10,
  /* int >= 1, default 1: must divide in_channels and filters (checked by output_shape,
   * forward and set_weights). Fixed once weights are set. groups = in_channels = filters is
   * a depthwise layer. */
  CONVT_PARAM_GROUPS = 11,
  /* int 0 or 1, default 1. Fixed once weights are set. */
  CONVT_PARAM_USE_BIAS = 12,
  /* enum convt_activation, default CONVT_ACTIVATION_LINEAR; fused into the output pass. */
  CONVT_PARAM_ACTIVATION = 13,
  /* double: the activation's parameter, reset to the activation's Keras default whenever
   * the activation changes: leaky_relu's negative slope (0.2), elu's and celu's alpha (1;
   * celu's must not be 0), hard_shrink's and soft_shrink's threshold (0.5, >= 0),
   * squareplus's b (4, >= 0). NaN for activations without one, where setting it is
   * CONVT_E_INVALID_ARGUMENT. Must be finite. */
  CONVT_PARAM_ACTIVATION_ALPHA = 14,
  /* enum convt_dtype, default CONVT_DTYPE_FLOAT32. Fixed once weights are set. */
  CONVT_PARAM_DTYPE = 15,
  /* int >= 0, default 0 = any: Keras's input_shape steps; forward checks it. */
  CONVT_PARAM_INPUT_STEPS = 16,
  /* int >= 0, default 0 = any: Keras's batch_size; forward checks it. */
  CONVT_PARAM_BATCH_SIZE = 17,
  /* string: the layer's name; default "conv1d_transpose", "conv1d_transpose_1", ... unique
   * within the process. Any non-empty string. */
  CONVT_PARAM_NAME = 18,
  /* int >= 0, default 0 = all cores: the threads one forward or backward call may use (see
   * Threads above: results are bitwise the same for every value). */
  CONVT_PARAM_NUM_THREADS = 19,
  /* enum convt_initializer, default CONVT_INITIALIZER_GLOROT_UNIFORM: used by
   * convt_layer_init_weights. */
  CONVT_PARAM_KERNEL_INITIALIZER = 20,
  /* enum convt_initializer, default CONVT_INITIALIZER_ZEROS. ORTHOGONAL needs rank >= 2 and
   * is CONVT_E_INVALID_ARGUMENT here, as in Keras. */
  CONVT_PARAM_BIAS_INITIALIZER = 21,
  /* int 0 or 1, default 1: Keras's trainable. With 0, convt_layer_backward_* refuses
   * grad_kernel and grad_bias (CONVT_E_STATE), convt_layer_regularization_loss is 0 and
   * convt_layer_apply_constraints leaves the weights alone, as Keras treats frozen weights. */
  CONVT_PARAM_TRAINABLE = 22,
  /* ---- Training (see the "Training" section). A regularizer's factors and a constraint's
   * values are reset to Keras's defaults for it whenever the regularizer or constraint
   * changes; they are NaN for a kind without that argument, and setting them is then
   * CONVT_E_INVALID_ARGUMENT. Factors and norm bounds must be finite and >= 0. ---- */
  /* enum convt_regularizer, default CONVT_REGULARIZER_NONE: Keras's kernel_regularizer. */
  CONVT_PARAM_KERNEL_REGULARIZER = 23,
  /* double: its l1 factor (l1: 0.01, l1_l2: 0). */
  CONVT_PARAM_KERNEL_REGULARIZER_L1 = 24,
  /* double: its l2 factor (l2: 0.01, l1_l2: 0). */
  CONVT_PARAM_KERNEL_REGULARIZER_L2 = 25,
  /* enum convt_regularizer, default CONVT_REGULARIZER_NONE: Keras's bias_regularizer. */
  CONVT_PARAM_BIAS_REGULARIZER = 26,
  CONVT_PARAM_BIAS_REGULARIZER_L1 = 27, /* double, as KERNEL_REGULARIZER_L1 */
  CONVT_PARAM_BIAS_REGULARIZER_L2 = 28, /* double, as KERNEL_REGULARIZER_L2 */
  /* enum convt_regularizer, default CONVT_REGULARIZER_NONE: Keras's activity_regularizer, a
   * penalty on the layer's output (after the activation) divided by the batch size. */
  CONVT_PARAM_ACTIVITY_REGULARIZER = 29,
  CONVT_PARAM_ACTIVITY_REGULARIZER_L1 = 30, /* double, as KERNEL_REGULARIZER_L1 */
  CONVT_PARAM_ACTIVITY_REGULARIZER_L2 = 31, /* double, as KERNEL_REGULARIZER_L2 */
  /* enum convt_constraint, default CONVT_CONSTRAINT_NONE: Keras's kernel_constraint. */
  CONVT_PARAM_KERNEL_CONSTRAINT = 32,
  /* double: min_max_norm's min_value (0). */
  CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE = 33,
  /* double: max_norm's max_value (2) or min_max_norm's max_value (1). */
  CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE = 34,
  /* double in [0, 1]: min_max_norm's rate (1 = enforce the bounds strictly). */
  CONVT_PARAM_KERNEL_CONSTRAINT_RATE = 35,
  /* int in [1, 7], default 1: the axes of Keras's kernel shape (kernel_size, filters,
   * in_channels / groups) -- the WOI layout -- that the norms of max_norm, min_max_norm and
   * unit_norm run over, as a bit mask: 1 = axis 0 (Keras's default axis=0: for every
   * (filter, input channel) the norm over the kernel_size taps), 2 = axis 1, 4 = axis 2;
   * Keras's axis=[0, 1] is 3, axis=-1 is 4, axis=[0, 1, 2] (one norm for the whole kernel)
   * is 7. Not reset when the constraint changes. */
  CONVT_PARAM_KERNEL_CONSTRAINT_AXES = 36,
  /* enum convt_constraint, default CONVT_CONSTRAINT_NONE: Keras's bias_constraint. The bias
   * has the one axis (filters): the norm runs over all of it, as Keras's axis=0. */
  CONVT_PARAM_BIAS_CONSTRAINT = 37,
  CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE = 38, /* double, as KERNEL_CONSTRAINT_MIN_VALUE */
  CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE = 39, /* double, as KERNEL_CONSTRAINT_MAX_VALUE */
  CONVT_PARAM_BIAS_CONSTRAINT_RATE = 40,      /* double, as KERNEL_CONSTRAINT_RATE */
  /* int 0 or 1, default 0: with 1, convt_layer_backward_* returns the gradients of your loss
   * plus the layer's penalties (kernel, bias and activity regularizers), as Keras's training
   * step differentiates them; with 0, of your loss alone. */
  CONVT_PARAM_BACKWARD_REGULARIZATION = 41
};

/** Padding modes (CONVT_PARAM_PADDING); the exact output lengths are in the introduction.
 *  Names accepted by set_string, case-insensitive: "valid"; "same"; "same_lower";
 *  "explicit". ONNX's "SAME_UPPER" and "NOTSET" are not padding names: an ONNX runtime
 *  passes EXPLICIT pads for them (SAME_UPPER differs from SAME when K_eff < strides or
 *  output_padding is set). */
typedef int32_t convt_padding;
enum {
  CONVT_PADDING_VALID = 0,      /* Keras/TF "valid", ONNX VALID: no crop */
  CONVT_PADDING_SAME = 1,       /* Keras/TF "same": output steps*strides, odd crop at the end */
  CONVT_PADDING_SAME_LOWER = 2, /* ONNX SAME_LOWER: odd crop at the beginning */
  CONVT_PADDING_EXPLICIT = 3    /* PyTorch padding=, ONNX pads: crop PAD_BEGIN and PAD_END */
};
#define CONVT_OUTPUT_PADDING_UNSET (-1)

/** Data formats (CONVT_PARAM_DATA_FORMAT). Names: "channels_last", "NWC", "NLC";
 *  "channels_first", "NCW", "NCL" -- case-insensitive. */
typedef int32_t convt_data_format;
enum {
  CONVT_CHANNELS_LAST = 0, /* (batch, steps, channels): Keras, TF */
  CONVT_CHANNELS_FIRST = 1 /* (batch, channels, steps): PyTorch, ONNX */
};

/** Element types (CONVT_PARAM_DTYPE). Names: "float32", "float", "torch.float32", "f32";
 *  "float64", "double", "torch.float64", "f64" -- case-insensitive. Keras's "float16" and
 *  "bfloat16" are CONVT_E_UNSUPPORTED. */
typedef int32_t convt_dtype;
enum { CONVT_DTYPE_FLOAT32 = 0, CONVT_DTYPE_FLOAT64 = 1 };

/** Kernel layouts for set_weights and get_weights (see Data layout above). */
typedef int32_t convt_layout;
enum {
  CONVT_LAYOUT_WOI = 0, /* (kernel_size, filters, in_channels / groups): Keras, TF */
  CONVT_LAYOUT_IOW = 1  /* (in_channels, filters / groups, kernel_size): PyTorch, ONNX */
};

/** Activations (CONVT_PARAM_ACTIVATION), each exactly as Keras 3 defines it by name; the
 *  name is what set_string takes (case-insensitive) and get_string returns. All act
 *  element-wise except SOFTMAX, LOG_SOFTMAX and SPARSEMAX, which act along the last axis of
 *  the output as laid out, as Keras does: along filters for channels_last, along time for
 *  channels_first. Keras names that change the shape ("glu") or that this version lacks
 *  are CONVT_E_UNSUPPORTED.                                       alpha = ACTIVATION_ALPHA */
typedef int32_t convt_activation;
enum {
  CONVT_ACTIVATION_LINEAR = 0,       /* "linear": x */
  CONVT_ACTIVATION_RELU = 1,         /* "relu": max(x, 0) */
  CONVT_ACTIVATION_SIGMOID = 2,      /* "sigmoid": 1 / (1 + exp(-x)) */
  CONVT_ACTIVATION_TANH = 3,         /* "tanh" */
  CONVT_ACTIVATION_ELU = 4,          /* "elu": x > 0 ? x : alpha * (exp(x) - 1), alpha 1 */
  CONVT_ACTIVATION_SELU = 5,         /* "selu": 1.0507009873554805 * elu(x, 1.6732632423543772) */
  CONVT_ACTIVATION_SOFTPLUS = 6,     /* "softplus": log(1 + exp(x)) */
  CONVT_ACTIVATION_SOFTSIGN = 7,     /* "softsign": x / (1 + |x|) */
  CONVT_ACTIVATION_EXPONENTIAL = 8,  /* "exponential": exp(x) */
  CONVT_ACTIVATION_HARD_SIGMOID = 9, /* "hard_sigmoid": relu6(x + 3) / 6 */
  CONVT_ACTIVATION_GELU = 10,        /* "gelu": exact, x/2 * (1 + erf(x / sqrt(2))) */
  CONVT_ACTIVATION_SILU = 11,        /* "silu" or "swish": x * sigmoid(x) */
  CONVT_ACTIVATION_RELU6 = 12,       /* "relu6": min(max(x, 0), 6) */
  CONVT_ACTIVATION_LEAKY_RELU = 13,  /* "leaky_relu": x >= 0 ? x : alpha * x, alpha 0.2 */
  CONVT_ACTIVATION_MISH = 14,        /* "mish": x * tanh(softplus(x)) */
  CONVT_ACTIVATION_SOFTMAX = 15,     /* "softmax": along the last axis */
  CONVT_ACTIVATION_LOG_SOFTMAX = 16, /* "log_softmax": along the last axis */
  CONVT_ACTIVATION_CELU = 17, /* "celu": max(x, 0) + min(0, alpha * (exp(x/alpha) - 1)), alpha 1 */
  CONVT_ACTIVATION_HARD_SILU = 18,      /* "hard_silu" or "hard_swish": x * hard_sigmoid(x) */
  CONVT_ACTIVATION_HARD_TANH = 19,      /* "hard_tanh": min(max(x, -1), 1) */
  CONVT_ACTIVATION_LOG_SIGMOID = 20,    /* "log_sigmoid": -softplus(-x) */
  CONVT_ACTIVATION_TANH_SHRINK = 21,    /* "tanh_shrink": x - tanh(x) */
  CONVT_ACTIVATION_SQUAREPLUS = 22,     /* "squareplus": (x + sqrt(x*x + b)) / 2, b = alpha = 4 */
  CONVT_ACTIVATION_SPARSE_PLUS = 23,    /* "sparse_plus": 0, (x + 1)^2 / 4, or x, kinks at -1, 1 */
  CONVT_ACTIVATION_SOFT_SHRINK = 24,    /* "soft_shrink": x -+ alpha beyond +-alpha, else 0 */
  CONVT_ACTIVATION_HARD_SHRINK = 25,    /* "hard_shrink": |x| > alpha ? x : 0, alpha 0.5 */
  CONVT_ACTIVATION_SPARSE_SIGMOID = 26, /* "sparse_sigmoid": clip((x + 1) / 2, 0, 1) */
  /* "sparsemax": max(x - tau, 0) along the last axis, tau = (sum of the k largest - 1) / k
   * for the largest k whose k-th largest value exceeds that tau. This is the correct
   * threshold; released Keras computes a different one (keras-team/keras#23425). */
  CONVT_ACTIVATION_SPARSEMAX = 27
};

/** Weight initializers (CONVT_PARAM_KERNEL_INITIALIZER, CONVT_PARAM_BIAS_INITIALIZER), by
 *  Keras name (set_string also takes Keras's class names, "GlorotUniform", and its aliases
 *  "zero", "one", "uniform", "normal"), with Keras's default arguments. Fans as Keras
 *  computes them for the kernel shape (kernel_size, filters, in_channels / groups):
 *  fan_in = kernel_size * filters, fan_out = kernel_size * in_channels / groups; for the
 *  bias (filters): fan_in = fan_out = filters. */
typedef int32_t convt_initializer;
enum {
  CONVT_INITIALIZER_ZEROS = 0,
  CONVT_INITIALIZER_ONES = 1,
  CONVT_INITIALIZER_GLOROT_UNIFORM = 2,    /* U(+-sqrt(6 / (fan_in + fan_out))) */
  CONVT_INITIALIZER_GLOROT_NORMAL = 3,     /* truncated normal, sd sqrt(2/(fan_in+fan_out))/.8796 */
  CONVT_INITIALIZER_HE_UNIFORM = 4,        /* U(+-sqrt(6 / fan_in)) */
  CONVT_INITIALIZER_HE_NORMAL = 5,         /* truncated normal, sd sqrt(2 / fan_in) / .8796 */
  CONVT_INITIALIZER_LECUN_UNIFORM = 6,     /* U(+-sqrt(3 / fan_in)) */
  CONVT_INITIALIZER_LECUN_NORMAL = 7,      /* truncated normal, sd sqrt(1 / fan_in) / .8796 */
  CONVT_INITIALIZER_RANDOM_UNIFORM = 8,    /* U(-0.05, 0.05) */
  CONVT_INITIALIZER_RANDOM_NORMAL = 9,     /* N(0, 0.05) */
  CONVT_INITIALIZER_TRUNCATED_NORMAL = 10, /* N(0, 0.05) redrawn beyond 2 sd */
  CONVT_INITIALIZER_ORTHOGONAL = 11 /* Q of a Gaussian matrix (kernel_size * filters) x (C/G) */
};

/** Regularizers (CONVT_PARAM_KERNEL_REGULARIZER, _BIAS_, _ACTIVITY_), as Keras 3 builds them
 *  by name (keras.regularizers.get): the penalty of a tensor w is
 *  l1 * sum(|w|) + l2 * sum(w^2), with Keras's default factors for the name. Names,
 *  case-insensitive: "none"; "l1"; "l2"; "l1_l2", "l1l2" or "L1L2". Keras's
 *  "orthogonal_regularizer" needs a rank-2 weight and is CONVT_E_INVALID_ARGUMENT. */
typedef int32_t convt_regularizer;
enum {
  CONVT_REGULARIZER_NONE = 0,
  CONVT_REGULARIZER_L1 = 1,   /* L1(0.01): factor l1 = 0.01 (no l2) */
  CONVT_REGULARIZER_L2 = 2,   /* L2(0.01): factor l2 = 0.01 (no l1) */
  CONVT_REGULARIZER_L1_L2 = 3 /* L1L2(): l1 = 0 and l2 = 0 -- Keras 3's class defaults, which its
                                 lookup by name uses (not the 0.01 its docstring claims); set the
                                 factors you want */
};

/** Weight constraints (CONVT_PARAM_KERNEL_CONSTRAINT, _BIAS_CONSTRAINT), as Keras 3 builds them
 *  by name (keras.constraints.get), applied by convt_layer_apply_constraints. For each index
 *  of the axes the norm does not run over, norm = sqrt(sum of w^2 over the axes it runs over)
 *  (KERNEL_CONSTRAINT_AXES; the whole bias), and w becomes w * desired / (1e-7 + norm), 1e-7
 *  being Keras's epsilon. Computed in float64 and rounded once to the layer's dtype. Names,
 *  case-insensitive: "none"; "max_norm", "MaxNorm"; "min_max_norm", "MinMaxNorm"; "non_neg",
 *  "NonNeg"; "unit_norm", "UnitNorm". */
typedef int32_t convt_constraint;
enum {
  CONVT_CONSTRAINT_NONE = 0,
  CONVT_CONSTRAINT_MAX_NORM = 1,     /* desired = min(norm, max_value), max_value 2 */
  CONVT_CONSTRAINT_MIN_MAX_NORM = 2, /* desired = rate * clip(norm, min_value, max_value) +
                                        (1 - rate) * norm; min_value 0, max_value 1, rate 1 */
  CONVT_CONSTRAINT_NON_NEG = 3,      /* w = max(w, 0), element-wise */
  CONVT_CONSTRAINT_UNIT_NORM = 4     /* desired = 1 */
};

/* ===========================================================================================
 *  Layer lifecycle
 * =========================================================================================== */
typedef struct convt_layer convt_layer; /* opaque */

/** Creates a layer with Keras's defaults: strides 1, dilation 1, padding valid, output_padding
 *  unset, channels_last, groups 1, use_bias 1, linear activation, float32, glorot_uniform
 *  kernel and zeros bias initializers, a process-unique name.
 *  @param[in]  filters      output channels, >= 1
 *  @param[in]  kernel_size  taps, >= 1
 *  @param[out] out          receives the layer; untouched on failure
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  out is NULL, filters or kernel_size < 1
 *  @retval CONVT_E_OUT_OF_MEMORY */
CONVT_API convt_status convt_layer_create(int64_t filters, int64_t kernel_size,
                                          convt_layer** out) CONVT_NOEXCEPT;

/** Destroys a layer. NULL is fine. The layer must not be in use by another thread. */
CONVT_API void convt_layer_destroy(convt_layer* layer) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Parameters
 * =========================================================================================== */

/** Sets an int or enum parameter. Checks the value's range and the layer's state only;
 *  combinations are checked by output_shape and forward.
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer, unknown param, a double or string param,
 *                                    a read-only param, a value out of range
 *  @retval CONVT_E_STATE             in_channels, groups, use_bias or dtype changed after
 *                                    weights are set
 *  Not thread-safe with other calls on the same layer. */
CONVT_API convt_status convt_layer_set_int(convt_layer* layer, convt_param param,
                                           int64_t value) CONVT_NOEXCEPT;

/** Reads an int or enum parameter into *value.
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer, unknown param, a double or string param */
CONVT_API convt_status convt_layer_get_int(const convt_layer* layer, convt_param param,
                                           int64_t* value) CONVT_NOEXCEPT;

/** Sets a double parameter (CONVT_PARAM_ACTIVATION_ALPHA).
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer, unknown or non-double param, a value out
 *                                    of range or not finite, an activation without alpha */
CONVT_API convt_status convt_layer_set_double(convt_layer* layer, convt_param param,
                                              double value) CONVT_NOEXCEPT;

/** Reads a double parameter; ACTIVATION_ALPHA is NaN for activations without one.
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer, unknown or non-double param */
CONVT_API convt_status convt_layer_get_double(const convt_layer* layer, convt_param param,
                                              double* value) CONVT_NOEXCEPT;

/** Sets an enum parameter by name, as Keras, TF, PyTorch and ONNX spell it, case-insensitive
 *  ("same", "VALID", "channels_first", "NCW", "relu", "float64", "glorot_uniform"), or the
 *  layer's name (CONVT_PARAM_NAME, any non-empty string).
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer, unknown param or name, an int param
 *  @retval CONVT_E_UNSUPPORTED       a name Keras has that this version lacks ("glu",
 *                                    "float16"); the message names it
 *  @retval CONVT_E_STATE             dtype changed after weights are set */
CONVT_API convt_status convt_layer_set_string(convt_layer* layer, convt_param param,
                                              const char* value) CONVT_NOEXCEPT;

/** Copies an enum parameter's canonical name (lower-case Keras spelling: "same",
 *  "channels_first", "silu") or the layer's name, with its NUL, into buf.
 *  @param[out] buf       receives the name when length + 1 <= capacity; may be NULL with
 *                        capacity 0 to ask for the length
 *  @param[in]  capacity  bytes available in buf, including the NUL
 *  @param[out] length    always receives the name's length without the NUL -- the one
 *                        output a failing call writes
 *  @retval CONVT_E_SHAPE             the name does not fit; buf is untouched
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer or length, buf NULL with capacity > 0,
 *                                    negative capacity, unknown or int-only param */
CONVT_API convt_status convt_layer_get_string(const convt_layer* layer, convt_param param,
                                              char* buf, int64_t capacity,
                                              int64_t* length) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Weights
 * =========================================================================================== */

/** Copies the kernel and bias into the layer (packed once for the forward pass) and fixes
 *  in_channels, groups, use_bias and dtype. May be called again with the same in_channels.
 *  The _f32 function is for float32 layers, _f64 for float64 layers.
 *  @param[in] in_channels  C >= 1, divisible by groups; must equal IN_CHANNELS when that is
 *                          set
 *  @param[in] layout       CONVT_LAYOUT_WOI or CONVT_LAYOUT_IOW
 *  @param[in] kernel       kernel_len values in that layout
 *  @param[in] kernel_len   element count, must be kernel_size * filters * in_channels / groups
 *  @param[in] bias         filters values; NULL (with bias_len 0) exactly when use_bias is 0
 *  @param[in] bias_len     filters, or 0 when use_bias is 0
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer or kernel, unknown layout, groups that do not
 *                                    divide filters
 *  @retval CONVT_E_SHAPE             in_channels < 1, not divisible by groups or not the
 *                                    layer's; kernel_len or bias_len wrong; a bias given
 *                                    while use_bias is 0 or missing (NULL) while it is 1
 *  @retval CONVT_E_STATE             dtype mismatch (an _f32 call on a float64 layer)
 *  @retval CONVT_E_OUT_OF_MEMORY
 *  Not thread-safe with other calls on the same layer. */
CONVT_API convt_status convt_layer_set_weights_f32(convt_layer* layer, int64_t in_channels,
                                                   convt_layout layout, const float* kernel,
                                                   int64_t kernel_len, const float* bias,
                                                   int64_t bias_len) CONVT_NOEXCEPT;
CONVT_API convt_status convt_layer_set_weights_f64(convt_layer* layer, int64_t in_channels,
                                                   convt_layout layout, const double* kernel,
                                                   int64_t kernel_len, const double* bias,
                                                   int64_t bias_len) CONVT_NOEXCEPT;

/** Copies the layer's kernel (in the layout asked for) and bias out; lengths as in
 *  set_weights. The round trip with set_weights is exact.
 *  @retval CONVT_E_STATE   no weights yet, or dtype mismatch
 *  @retval CONVT_E_SHAPE   kernel_len or bias_len wrong, or a bias buffer given or missing
 *                          against use_bias
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer or kernel, unknown layout */
CONVT_API convt_status convt_layer_get_weights_f32(const convt_layer* layer, convt_layout layout,
                                                   float* kernel, int64_t kernel_len, float* bias,
                                                   int64_t bias_len) CONVT_NOEXCEPT;
CONVT_API convt_status convt_layer_get_weights_f64(const convt_layer* layer, convt_layout layout,
                                                   double* kernel, int64_t kernel_len, double* bias,
                                                   int64_t bias_len) CONVT_NOEXCEPT;

/** Fills the kernel and bias by the layer's initializers, for in_channels inputs, and fixes
 *  in_channels, groups, use_bias and dtype as set_weights does. The same seed gives bitwise
 *  the same weights in every run, build and machine (the generator uses only correctly
 *  rounded arithmetic). The values follow Keras's distributions, not Keras's random streams.
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer, groups that do not divide filters
 *  @retval CONVT_E_SHAPE             in_channels < 1, not divisible by groups or not the
 *                                    layer's; sizes that overflow
 *  @retval CONVT_E_OUT_OF_MEMORY
 *  Not thread-safe with other calls on the same layer. */
CONVT_API convt_status convt_layer_init_weights(convt_layer* layer, int64_t in_channels,
                                                uint64_t seed) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Shapes and the forward pass
 * =========================================================================================== */

/** The default output shape for an input of (batch, steps), in the layer's data format:
 *  {batch, out_steps, filters} or {batch, filters, out_steps}. Works before weights are set.
 *  @param[out] out_shape  three values; untouched on failure
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer; output_padding >= max(strides, dilation);
 *                                    groups that do not divide filters or in_channels
 *  @retval CONVT_E_SHAPE             batch or steps < 1, an output length < 1 (pads longer
 *                                    than the output), sizes that overflow */
CONVT_API convt_status convt_layer_output_shape(const convt_layer* layer, int64_t batch,
                                                int64_t steps, int64_t out_shape[3]) CONVT_NOEXCEPT;

/** Runs the layer: output = activation(conv1d_transpose(input, kernel) + bias).
 *  @param[in]  input       batch * steps * in_channels values, in the data format's layout
 *  @param[in]  input_len   element count, must equal batch * steps * in_channels
 *  @param[in]  batch       >= 1 (and = BATCH_SIZE when that is set)
 *  @param[in]  steps       >= 1 (and = INPUT_STEPS when that is set)
 *  @param[out] output      receives exactly the first batch * filters * out_steps values
 *  @param[in]  output_len  element count available, at least batch * filters * out_steps
 *  @param[in]  out_steps   the output length you want: the default of output_shape, or --
 *                          while output_padding is unset -- another length the table in the
 *                          introduction accepts (TF's output_shape for VALID and SAME,
 *                          PyTorch's output_size for EXPLICIT)
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer; a combination of parameters no input
 *                                    could satisfy
 *  @retval CONVT_E_SHAPE             lengths that do not fit; the message gives the
 *                                    accepted out_steps
 *  @retval CONVT_E_STATE             no weights yet, or an _f32 call on a float64 layer
 *  @retval CONVT_E_OUT_OF_MEMORY     the bounded workspace could not be allocated
 *  Thread-safe: any number of threads may run forward on one layer at once. */
CONVT_API convt_status convt_layer_forward_f32(const convt_layer* layer, const float* input,
                                               int64_t input_len, int64_t batch, int64_t steps,
                                               float* output, int64_t output_len,
                                               int64_t out_steps) CONVT_NOEXCEPT;
CONVT_API convt_status convt_layer_forward_f64(const convt_layer* layer, const double* input,
                                               int64_t input_len, int64_t batch, int64_t steps,
                                               double* output, int64_t output_len,
                                               int64_t out_steps) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Training
 * ===========================================================================================
 * One step of gradient descent, as Keras's fit() takes it:
 *   y = forward(x); your loss L(y) and dL/dy
 *   total loss = L + convt_layer_regularization_loss + convt_layer_activity_regularization(y)
 *   backward(x, dL/dy) -> dL/dx (for the layer before), dL/dkernel, dL/dbias
 *   kernel -= rate * dL/dkernel (get_weights, set_weights), likewise the bias;
 *   then convt_layer_apply_constraints.
 * examples/train_decoder.c trains a two-layer decoder this way.
 *
 * The penalties, exactly (Keras 3's rule; the factors are the regularizers' l1 and l2):
 *   weights   kernel_regularizer(kernel) + bias_regularizer(bias); 0 when trainable is 0
 *   activity  activity_regularizer(y) / batch, y = the layer's output after the activation
 *   With BACKWARD_REGULARIZATION = 1, backward returns the gradients of L plus all three:
 *     grad_kernel = dL/dkernel + l1 * sign(kernel) + 2 * l2 * kernel   (kernel's factors)
 *     grad_bias   = dL/dbias   + l1 * sign(bias)   + 2 * l2 * bias     (bias's factors)
 *     and every gradient, grad_input included, is taken of
 *     dL/dy + (l1 * sign(y) + 2 * l2 * y) / batch                      (activity's factors)
 *   with sign(0) = 0, as TensorFlow's and JAX's gradient of |w|. With 0 (the default),
 *   backward differentiates L alone and the penalties are yours to add.
 */

/** Gradients of the layer's output with respect to its input, kernel and bias: given
 *  grad_output = dL/dy for y = forward(input), computes dL/dinput, dL/dkernel and dL/dbias.
 *  Each gradient is optional: NULL with length 0 skips it. Where the activation needs it, the
 *  forward pass is recomputed inside; the layer keeps no state between calls. grad_input is
 *  the exact adjoint of forward's linear part: for the linear activation and no bias,
 *  <forward(x), g> == <x, grad_input(g)>. Where the activation is not differentiable, one of
 *  its one-sided derivatives is used. Softmax, log_softmax and sparsemax are differentiated
 *  along the last axis, as forward applies them.
 *  @param[in]  input            batch * steps * in_channels values, as forward
 *  @param[in]  input_len        element count, must equal batch * steps * in_channels
 *  @param[in]  batch            >= 1 (and = BATCH_SIZE when that is set)
 *  @param[in]  steps            >= 1 (and = INPUT_STEPS when that is set)
 *  @param[in]  grad_output      dL/dy, in the output's layout
 *  @param[in]  grad_output_len  element count, must equal batch * filters * out_steps
 *  @param[in]  out_steps        the output length of the forward pass: forward's rule, with the
 *                               crop that length implies
 *  @param[out] grad_input       receives input_len values in the input's layout; or NULL
 *  @param[in]  grad_input_len   input_len, or 0 with NULL
 *  @param[in]  layout           grad_kernel's layout, CONVT_LAYOUT_WOI or CONVT_LAYOUT_IOW
 *  @param[out] grad_kernel      receives kernel_size * filters * in_channels / groups values
 *                               in that layout; or NULL
 *  @param[in]  grad_kernel_len  that count, or 0 with NULL
 *  @param[out] grad_bias        receives filters values; or NULL (always NULL when use_bias
 *                               is 0)
 *  @param[in]  grad_bias_len    filters, or 0 with NULL
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer, input or grad_output; unknown layout; a
 *                                    combination of parameters no input could satisfy
 *  @retval CONVT_E_SHAPE             lengths that do not fit, as forward; grad_output_len other
 *                                    than batch * filters * out_steps; a gradient buffer of the
 *                                    wrong length, or NULL with a length other than 0;
 *                                    grad_bias while use_bias is 0
 *  @retval CONVT_E_STATE             no weights yet; an _f32 call on a float64 layer;
 *                                    grad_kernel or grad_bias while trainable is 0 (grad_input
 *                                    alone still works)
 *  @retval CONVT_E_UNSUPPORTED       GEMM dimensions beyond the 32-bit BLAS interface
 *  @retval CONVT_E_OUT_OF_MEMORY     the workspace could not be allocated
 *  Precision: the kernel and bias gradients are summed over the batch and the steps in
 *  float64 and rounded once; grad_input is one GEMM per filter block in the layer's dtype.
 *  Workspace: when the activation is not linear or an activity penalty applies, the
 *  pre-activation of the batch (as many values as grad_output; it is recomputed before the
 *  first write, so a failed allocation writes nothing) and one item's gradient of it; a column
 *  tile and a GEMM result per thread (a few hundred KiB); two kernel-sized sums when
 *  grad_kernel is asked for. Nothing else grows with the input's length.
 *  Thread-safe: any number of threads may run backward and forward on one layer at once.
 *  NUM_THREADS bounds the threads one call uses; the results are bitwise the same for every
 *  thread count. */
CONVT_API convt_status convt_layer_backward_f32(
    const convt_layer* layer, const float* input, int64_t input_len, int64_t batch, int64_t steps,
    const float* grad_output, int64_t grad_output_len, int64_t out_steps, float* grad_input,
    int64_t grad_input_len, convt_layout layout, float* grad_kernel, int64_t grad_kernel_len,
    float* grad_bias, int64_t grad_bias_len) CONVT_NOEXCEPT;
CONVT_API convt_status convt_layer_backward_f64(
    const convt_layer* layer, const double* input, int64_t input_len, int64_t batch, int64_t steps,
    const double* grad_output, int64_t grad_output_len, int64_t out_steps, double* grad_input,
    int64_t grad_input_len, convt_layout layout, double* grad_kernel, int64_t grad_kernel_len,
    double* grad_bias, int64_t grad_bias_len) CONVT_NOEXCEPT;

/** The weights' penalty that Keras adds to the loss: kernel_regularizer(kernel) +
 *  bias_regularizer(bias) of the stored weights, summed in float64. 0 when trainable is 0
 *  (Keras counts trainable weights only) or no regularizer is set.
 *  @param[out] loss  receives the penalty; untouched on failure
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer or loss
 *  @retval CONVT_E_STATE             no weights yet
 *  Thread-safe like the getters. */
CONVT_API convt_status convt_layer_regularization_loss(const convt_layer* layer,
                                                       double* loss) CONVT_NOEXCEPT;

/** The activity penalty that Keras adds to the loss for an output y of the layer:
 *  activity_regularizer(y) / batch = (l1 * sum(|y|) + l2 * sum(y^2)) / batch over all
 *  batch * filters * out_steps values, summed in float64. 0 when no activity regularizer is
 *  set. It applies whatever trainable is, as in Keras, and works before weights are set.
 *  @param[in]  output      the layer's output (after the activation), in its layout
 *  @param[in]  output_len  element count, must equal batch * filters * out_steps
 *  @param[in]  batch       >= 1: the batch size the penalty is divided by
 *  @param[in]  out_steps   >= 1
 *  @param[out] penalty     receives the penalty; untouched on failure
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer, output or penalty
 *  @retval CONVT_E_SHAPE             batch or out_steps < 1; output_len other than
 *                                    batch * filters * out_steps; sizes that overflow
 *  @retval CONVT_E_STATE             an _f32 call on a float64 layer (or the reverse)
 *  Thread-safe like the getters. */
CONVT_API convt_status convt_layer_activity_regularization_f32(const convt_layer* layer,
                                                               const float* output,
                                                               int64_t output_len, int64_t batch,
                                                               int64_t out_steps,
                                                               double* penalty) CONVT_NOEXCEPT;
CONVT_API convt_status convt_layer_activity_regularization_f64(const convt_layer* layer,
                                                               const double* output,
                                                               int64_t output_len, int64_t batch,
                                                               int64_t out_steps,
                                                               double* penalty) CONVT_NOEXCEPT;

/** Projects the stored kernel and bias by KERNEL_CONSTRAINT and BIAS_CONSTRAINT, as Keras's
 *  optimizer does after every step: call it after set_weights has stored the updated weights.
 *  The formulas are at convt_constraint; the kernel's norms run over KERNEL_CONSTRAINT_AXES of
 *  its WOI shape (Keras's default: over the taps, for every filter and input channel), the
 *  bias's over all filters. A layer with trainable 0 is left as it is, as Keras's optimizer
 *  leaves frozen weights; without a bias, BIAS_CONSTRAINT is ignored. Get the result with
 *  convt_layer_get_weights_*.
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer; min_max_norm with min_value > max_value
 *  @retval CONVT_E_STATE             no weights yet
 *  @retval CONVT_E_OUT_OF_MEMORY     nothing was changed
 *  Not thread-safe with other calls on the same layer. */
CONVT_API convt_status convt_layer_apply_constraints(convt_layer* layer) CONVT_NOEXCEPT;

/** The bytes of workspace convt_layer_forward_* allocates for a call with these arguments:
 *  each thread's input and column tiles (2 MiB at most per thread, whatever the length), the
 *  direct kernel's accumulators and, for softmax-like activations, one row of scratch. Forward
 *  allocates it per call (so it stays reentrant) and frees it before returning.
 *  @param[out] bytes  receives the byte count; untouched on failure
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL pointer, or a combination of parameters no input
 *                                    could satisfy
 *  @retval CONVT_E_SHAPE             batch, steps or out_steps that forward would refuse
 *  @retval CONVT_E_STATE             no weights yet */
CONVT_API convt_status convt_layer_workspace_size(const convt_layer* layer, int64_t batch,
                                                  int64_t steps, int64_t out_steps,
                                                  int64_t* bytes) CONVT_NOEXCEPT;

/* ===========================================================================================
 *  Streaming
 * =========================================================================================== */
/* A stream runs a layer over signals that arrive in chunks -- audio into a vocoder or codec --
 * and writes each output step as soon as no later input can change it. The outputs of every
 * push and the final flush, concatenated, equal convt_layer_forward over the whole signal with
 * the default output length (convt_layer_output_shape's), for every padding mode, groups,
 * dilation, both data formats and dtypes, any batch and any chunking down to one step.
 *
 *   convt_stream_create(layer, batch, &stream)          once the layer has weights
 *   convt_stream_push_f32(stream, chunk, ..., &n)       as input arrives: n steps come out
 *   convt_stream_flush_f32(stream, out, ..., &n)        at the end: the rest; then a new signal
 *   convt_stream_destroy(stream)
 *
 * Chunks and outputs are in the layer's data format with the chunk's steps in place of the
 * length: (batch, steps, in_channels) or (batch, in_channels, steps) in, (batch, n, filters) or
 * (batch, filters, n) out.
 *
 * Equality: within forward's rounding bound, not bitwise. A stream adds a step's terms in the
 * order of forward's GEMM path -- the bias, then each input step's contribution in increasing
 * input step -- but a contribution is a BLAS dot product over in_channels / groups, OpenBLAS
 * rounds a GEMM row differently depending on how many rows its call has (seen with OpenBLAS
 * 0.3.21 from 8 channels per group up), and a chunk's rows are never grouped as forward's are;
 * forward's direct kernel (few channels per group) adds tap by tap instead. Where every sum is
 * exact (small integers, as the tests use) the results are bitwise equal.
 *
 * Latency: after T input steps in all, exactly max(0, min(T*S - P_b, L_out(T))) output steps
 * have come out: S = strides, L_out(T) the default output length of a T-step signal, P_b the
 * crop at the beginning (the table in the introduction; it does not depend on the length). A
 * step is written once no later input reaches it (T*S > its position + P_b) and every longer
 * signal has it. That is max(0, T*S - d) steps, d = 0 for VALID and floor(max(K_eff - S, 0) / 2)
 * for SAME with output_padding unset, max(p, 2p + S - K_eff - op) for PyTorch's padding=p
 * (EXPLICIT p, p; op = output_padding, 0 when unset).
 *
 * Bias and activation: each step's sum starts at the bias, as in forward, and the activation
 * is applied once, when the step is final. softmax, log_softmax and sparsemax act along the
 * output's last axis: the filters of one step for channels_last, which streams; time for
 * channels_first, which cannot (convt_stream_create returns CONVT_E_UNSUPPORTED).
 *
 * Memory: the state is batch * filters * max(K_eff - S, E, 0) values, E the crop at the end
 * (L_full - P_b - L_out: EXPLICIT's pad_end), whatever the signal's length. A push allocates
 * only when its chunk is longer than every chunk before it (the workspace stops growing at
 * passes of about 256 KiB); flush, reset and max_output_steps never allocate.
 *
 * The layer must have weights when a stream is created, must outlive its streams and must
 * keep its parameters and weights while they exist; a push, flush or reset that finds the
 * parameters changed returns CONVT_E_STATE. BATCH_SIZE applies to streams, INPUT_STEPS does not,
 * and a stream computes on the calling thread (NUM_THREADS does not apply).
 *
 * Threads: convt_stream_create may run at once with forward and other creates on one layer;
 * a layer may have any number of independent streams. A stream is used by one thread at a
 * time.
 *
 * Failure: a failed call changes nothing. A failed push consumes no input and writes no
 * output; a failed flush keeps the signal. */
typedef struct convt_stream convt_stream; /* opaque: one signal of `batch` items */

/** Creates a stream of `batch` signals through `layer`, starting with no input.
 *  @param[in]  layer  a layer with weights; it must outlive the stream and keep its parameters
 *  @param[in]  batch  items per chunk, >= 1 (and = BATCH_SIZE when that is set)
 *  @param[out] out    receives the stream; untouched on failure
 *  @retval CONVT_OK
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL layer or out; output_padding >= max(strides,
 *                                    dilation_rate)
 *  @retval CONVT_E_SHAPE             batch < 1 or not BATCH_SIZE; pads that no signal could
 *                                    outlast; sizes that overflow
 *  @retval CONVT_E_STATE             the layer has no weights
 *  @retval CONVT_E_UNSUPPORTED       softmax, log_softmax or sparsemax with channels_first
 *  @retval CONVT_E_OUT_OF_MEMORY
 *  Thread-safe: any number of threads may create streams on one layer and run forward on it. */
CONVT_API convt_status convt_stream_create(const convt_layer* layer, int64_t batch,
                                           convt_stream** out) CONVT_NOEXCEPT;

/** Destroys a stream; its pending output is dropped. NULL is fine. */
CONVT_API void convt_stream_destroy(convt_stream* stream) CONVT_NOEXCEPT;

/** How many output steps the next push of `steps` input steps writes -- exactly, given what
 *  was pushed -- or, for steps = 0, how many a flush would write now. A push's or flush's
 *  output needs batch * filters * *max_out values.
 *  @param[in]  steps    input steps, >= 0
 *  @param[out] max_out  receives the step count; untouched on failure
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL stream or max_out
 *  @retval CONVT_E_SHAPE             steps < 0; a length that overflows */
CONVT_API convt_status convt_stream_max_output_steps(const convt_stream* stream, int64_t steps,
                                                     int64_t* max_out) CONVT_NOEXCEPT;

/** Consumes the next `steps` steps of every item's signal and writes the output steps that
 *  became final. _f32 for streams of float32 layers, _f64 for float64 layers.
 *  @param[in]  input       batch * steps * in_channels values in the data format's layout;
 *                          may be NULL when input_len is 0
 *  @param[in]  input_len   element count, must equal batch * steps * in_channels
 *  @param[in]  steps       >= 0; a push of 0 steps changes nothing and writes nothing
 *  @param[out] output      receives exactly the first batch * filters * *out_steps values;
 *                          may be NULL when output_len is 0
 *  @param[in]  output_len  element count available, at least batch * filters * n, where n is
 *                          what convt_stream_max_output_steps(stream, steps) gives
 *  @param[out] out_steps   receives n, the output steps written per item
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL stream or out_steps; NULL input or output with a
 *                                    nonzero length
 *  @retval CONVT_E_SHAPE             steps < 0, input_len wrong, output_len too small, a
 *                                    length that overflows
 *  @retval CONVT_E_STATE             an _f32 call on a float64 layer's stream or the reverse;
 *                                    the layer's parameters changed
 *  @retval CONVT_E_UNSUPPORTED       a channels_first chunk of more than 2^31 - 1 steps
 *  @retval CONVT_E_OUT_OF_MEMORY     a chunk longer than before needed more workspace
 *  On failure no input is consumed and no output written. */
CONVT_API convt_status convt_stream_push_f32(convt_stream* stream, const float* input,
                                             int64_t input_len, int64_t steps, float* output,
                                             int64_t output_len, int64_t* out_steps) CONVT_NOEXCEPT;
CONVT_API convt_status convt_stream_push_f64(convt_stream* stream, const double* input,
                                             int64_t input_len, int64_t steps, double* output,
                                             int64_t output_len, int64_t* out_steps) CONVT_NOEXCEPT;

/** Ends the signal: writes the output steps still to come -- L_out(T) less those written, for
 *  the T steps pushed since creation or the last flush or reset -- and starts a new signal.
 *  After no input it writes 0 steps.
 *  @param[out] output      receives exactly the first batch * filters * *out_steps values;
 *                          may be NULL when output_len is 0
 *  @param[in]  output_len  element count available, at least batch * filters * n, where n is
 *                          what convt_stream_max_output_steps(stream, 0) gives
 *  @param[out] out_steps   receives n
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL stream or out_steps; NULL output with a nonzero
 *                                    length
 *  @retval CONVT_E_SHAPE             output_len too small; the signal so far has no output
 *                                    (forward would refuse it: pads longer than the signal,
 *                                    or SAME with output_padding 0 and one step) -- the
 *                                    stream keeps it, push more or reset
 *  @retval CONVT_E_STATE             dtype mismatch; the layer's parameters changed */
CONVT_API convt_status convt_stream_flush_f32(convt_stream* stream, float* output,
                                              int64_t output_len,
                                              int64_t* out_steps) CONVT_NOEXCEPT;
CONVT_API convt_status convt_stream_flush_f64(convt_stream* stream, double* output,
                                              int64_t output_len,
                                              int64_t* out_steps) CONVT_NOEXCEPT;

/** Drops the signal so far without writing it: the stream starts a new signal.
 *  @retval CONVT_E_INVALID_ARGUMENT  NULL stream
 *  @retval CONVT_E_STATE             the layer's parameters changed */
CONVT_API convt_status convt_stream_reset(convt_stream* stream) CONVT_NOEXCEPT;

#if defined(__cplusplus)
} /* extern "C" */
#endif

#endif /* CONVT_CONVT_H */
