"""
    Convt

Julia binding of libconvt, the 1-D transposed convolution layer (Keras `Conv1DTranspose`,
`tf.nn.conv1d_transpose`, PyTorch `ConvTranspose1d`, ONNX `ConvTranspose`), over `ccall`.

Loads `libconvt.so.1` (or the file named by `ENV["CONVT_LIBRARY"]`) when the module is
loaded. A `Layer` owns a C layer and frees it in `close!` or its finalizer. A failed call
throws a `ConvtError` carrying the library's status and message.

Memory order: libconvt's tensors are row-major (C order). A Julia array is column-major,
so the same memory is seen with the dimensions reversed: an input that is
(batch, steps, channels) for libconvt is a Julia `Array` of size (channels, steps, batch);
Keras's kernel (kernel_size, filters, in_channels/groups) is a Julia array of size
(in_channels/groups, filters, kernel_size). Every function here takes and returns arrays in
that reversed order, so no data is ever copied or transposed.

Documented but not tested: Julia is not packaged in Debian, so libconvt's CI cannot run it.
"""
module Convt

using Libdl

export Layer, Stream, ConvtError, close!, set_int!, get_int, set_double!, get_double,
       set_string!, get_string, set_weights!, get_weights, init_weights!, output_shape,
       output_steps, forward, forward!, backward, regularization_loss,
       activity_regularization, apply_constraints!, flush!, reset!, max_output_steps

# ---- constants of include/convt/convt.h (values never change) ------------------------------

const OK = Int32(0)
const E_INVALID_ARGUMENT = Int32(1)
const E_SHAPE = Int32(2)
const E_STATE = Int32(3)
const E_OUT_OF_MEMORY = Int32(4)
const E_UNSUPPORTED = Int32(5)
const E_INTERNAL = Int32(6)

const PARAM_FILTERS = Int32(1)
const PARAM_KERNEL_SIZE = Int32(2)
const PARAM_IN_CHANNELS = Int32(3)
const PARAM_STRIDES = Int32(4)
const PARAM_DILATION_RATE = Int32(5)
const PARAM_PADDING = Int32(6)
const PARAM_PAD_BEGIN = Int32(7)
const PARAM_PAD_END = Int32(8)
const PARAM_OUTPUT_PADDING = Int32(9)
const PARAM_DATA_FORMAT = Int32(10)
const PARAM_GROUPS = Int32(11)
const PARAM_USE_BIAS = Int32(12)
const PARAM_ACTIVATION = Int32(13)
const PARAM_ACTIVATION_ALPHA = Int32(14)
const PARAM_DTYPE = Int32(15)
const PARAM_INPUT_STEPS = Int32(16)
const PARAM_BATCH_SIZE = Int32(17)
const PARAM_NAME = Int32(18)
const PARAM_NUM_THREADS = Int32(19)
const PARAM_KERNEL_INITIALIZER = Int32(20)
const PARAM_BIAS_INITIALIZER = Int32(21)
const PARAM_TRAINABLE = Int32(22)
const PARAM_KERNEL_REGULARIZER = Int32(23)
const PARAM_KERNEL_REGULARIZER_L1 = Int32(24)
const PARAM_KERNEL_REGULARIZER_L2 = Int32(25)
const PARAM_BIAS_REGULARIZER = Int32(26)
const PARAM_BIAS_REGULARIZER_L1 = Int32(27)
const PARAM_BIAS_REGULARIZER_L2 = Int32(28)
const PARAM_ACTIVITY_REGULARIZER = Int32(29)
const PARAM_ACTIVITY_REGULARIZER_L1 = Int32(30)
const PARAM_ACTIVITY_REGULARIZER_L2 = Int32(31)
const PARAM_KERNEL_CONSTRAINT = Int32(32)
const PARAM_KERNEL_CONSTRAINT_MIN_VALUE = Int32(33)
const PARAM_KERNEL_CONSTRAINT_MAX_VALUE = Int32(34)
const PARAM_KERNEL_CONSTRAINT_RATE = Int32(35)
const PARAM_KERNEL_CONSTRAINT_AXES = Int32(36)
const PARAM_BIAS_CONSTRAINT = Int32(37)
const PARAM_BIAS_CONSTRAINT_MIN_VALUE = Int32(38)
const PARAM_BIAS_CONSTRAINT_MAX_VALUE = Int32(39)
const PARAM_BIAS_CONSTRAINT_RATE = Int32(40)
const PARAM_BACKWARD_REGULARIZATION = Int32(41)

const PADDING_VALID = Int32(0)
const PADDING_SAME = Int32(1)
const PADDING_SAME_LOWER = Int32(2)
const PADDING_EXPLICIT = Int32(3)
const OUTPUT_PADDING_UNSET = -1

const CHANNELS_LAST = Int32(0)
const CHANNELS_FIRST = Int32(1)

const DTYPE_FLOAT32 = Int32(0)
const DTYPE_FLOAT64 = Int32(1)

const LAYOUT_WOI = Int32(0)  # Keras, TF: (kernel_size, filters, in_channels/groups)
const LAYOUT_IOW = Int32(1)  # PyTorch, ONNX: (in_channels, filters/groups, kernel_size)

# ---- loading ---------------------------------------------------------------------------------

const SYMBOLS = [
    :convt_version_number, :convt_version_string, :convt_status_string, :convt_last_error,
    :convt_layer_create, :convt_layer_destroy, :convt_layer_set_int, :convt_layer_get_int,
    :convt_layer_set_double, :convt_layer_get_double, :convt_layer_set_string,
    :convt_layer_get_string, :convt_layer_set_weights_f32, :convt_layer_set_weights_f64,
    :convt_layer_get_weights_f32, :convt_layer_get_weights_f64, :convt_layer_init_weights,
    :convt_layer_output_shape, :convt_layer_forward_f32, :convt_layer_forward_f64,
    :convt_layer_backward_f32, :convt_layer_backward_f64, :convt_layer_regularization_loss,
    :convt_layer_activity_regularization_f32, :convt_layer_activity_regularization_f64,
    :convt_layer_apply_constraints, :convt_stream_create, :convt_stream_destroy,
    :convt_stream_max_output_steps, :convt_stream_push_f32, :convt_stream_push_f64,
    :convt_stream_flush_f32, :convt_stream_flush_f64, :convt_stream_reset,
]

# Filled once in __init__ and only read afterwards, so any thread may use it.
const FUNCTIONS = Dict{Symbol,Ptr{Cvoid}}()

function __init__()
    handle = Libdl.dlopen(get(ENV, "CONVT_LIBRARY", "libconvt.so.1"))
    for name in SYMBOLS
        FUNCTIONS[name] = Libdl.dlsym(handle, name)
    end
    major = div(ccall(FUNCTIONS[:convt_version_number], UInt32, ()), 10000)
    major == 1 || error("Convt needs libconvt 1.x, found $(version())")
end

fn(name::Symbol) = FUNCTIONS[name]

"""The loaded library's version, "1.0.0"."""
version() = unsafe_string(ccall(fn(:convt_version_string), Cstring, ()))

# ---- errors ----------------------------------------------------------------------------------

"""A failed libconvt call: `status` (the C value), `name` ("CONVT_E_SHAPE") and `message`."""
struct ConvtError <: Exception
    status::Int32
    name::String
    message::String
end

Base.showerror(io::IO, e::ConvtError) = print(io, e.name, ": ", e.message)

# Throws for a failing status. Called right after the ccall, with no yield point in between,
# so the task is still on the OS thread whose message the call stored.
function check(status::Int32)
    status == OK && return nothing
    message = unsafe_string(ccall(fn(:convt_last_error), Cstring, ()))
    name = unsafe_string(ccall(fn(:convt_status_string), Cstring, (Int32,), status))
    throw(ConvtError(status, name, message))
end

# ---- the layer -------------------------------------------------------------------------------

"""
    Layer(filters, kernel_size; strides=1, padding="valid", output_padding=nothing,
          data_format="channels_last", dilation_rate=1, activation="linear", use_bias=true,
          groups=1, dtype=Float32, name=nothing)

A Conv1DTranspose layer with Keras's argument names and defaults. `padding` is "valid",
"same", "same_lower", or a pair `(begin, end)` of explicit crops (PyTorch's `padding=p` is
`(p, p)`). Freed by `close!` or when garbage-collected.
"""
mutable struct Layer
    ptr::Ptr{Cvoid}

    # Adopts a handle from convt_layer_create; the finalizer frees it.
    function Layer(ptr::Ptr{Cvoid})
        layer = new(ptr)
        finalizer(close!, layer)
        return layer
    end
end

function Layer(filters::Integer, kernel_size::Integer; strides=1, padding="valid",
               output_padding=nothing, data_format="channels_last", dilation_rate=1,
               activation="linear", use_bias=true, groups=1, dtype=Float32, name=nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall(fn(:convt_layer_create), Int32, (Int64, Int64, Ref{Ptr{Cvoid}}),
                filters, kernel_size, out))
    layer = Layer(out[])
    set_int!(layer, PARAM_STRIDES, strides)
    set_int!(layer, PARAM_DILATION_RATE, dilation_rate)
    if padding isa AbstractString
        set_string!(layer, PARAM_PADDING, padding)
    else
        set_int!(layer, PARAM_PAD_BEGIN, padding[1])
        set_int!(layer, PARAM_PAD_END, padding[2])
        set_int!(layer, PARAM_PADDING, PADDING_EXPLICIT)
    end
    output_padding === nothing || set_int!(layer, PARAM_OUTPUT_PADDING, output_padding)
    set_string!(layer, PARAM_DATA_FORMAT, data_format)
    set_int!(layer, PARAM_GROUPS, groups)
    set_int!(layer, PARAM_USE_BIAS, use_bias ? 1 : 0)
    set_string!(layer, PARAM_ACTIVATION, activation)
    set_int!(layer, PARAM_DTYPE, dtype == Float64 ? DTYPE_FLOAT64 : DTYPE_FLOAT32)
    name === nothing || set_string!(layer, PARAM_NAME, name)
    return layer
end

# A Layer passed to ccall as Ptr{Cvoid} is its handle; ccall keeps the Layer (and so the C
# layer, which the finalizer would free) alive until the call returns.
Base.unsafe_convert(::Type{Ptr{Cvoid}}, layer::Layer) = layer.ptr

"""Frees the C layer now; later calls throw a ConvtError. Safe to repeat."""
function close!(layer::Layer)
    if layer.ptr != C_NULL
        ccall(fn(:convt_layer_destroy), Cvoid, (Ptr{Cvoid},), layer.ptr)
        layer.ptr = C_NULL
    end
    return nothing
end

set_int!(layer::Layer, param::Integer, value::Integer) =
    check(ccall(fn(:convt_layer_set_int), Int32, (Ptr{Cvoid}, Int32, Int64), layer, param, value))

function get_int(layer::Layer, param::Integer)
    value = Ref{Int64}(0)
    check(ccall(fn(:convt_layer_get_int), Int32, (Ptr{Cvoid}, Int32, Ref{Int64}),
                layer, param, value))
    return value[]
end

set_double!(layer::Layer, param::Integer, value::Real) =
    check(ccall(fn(:convt_layer_set_double), Int32, (Ptr{Cvoid}, Int32, Cdouble),
                layer, param, value))

function get_double(layer::Layer, param::Integer)
    value = Ref{Cdouble}(0)
    check(ccall(fn(:convt_layer_get_double), Int32, (Ptr{Cvoid}, Int32, Ref{Cdouble}),
                layer, param, value))
    return value[]
end

set_string!(layer::Layer, param::Integer, value::AbstractString) =
    check(ccall(fn(:convt_layer_set_string), Int32, (Ptr{Cvoid}, Int32, Cstring),
                layer, param, value))

function get_string(layer::Layer, param::Integer)
    len = Ref{Int64}(0)
    status = ccall(fn(:convt_layer_get_string), Int32,
                   (Ptr{Cvoid}, Int32, Ptr{UInt8}, Int64, Ref{Int64}), layer, param, C_NULL, 0, len)
    status == E_SHAPE || check(status)  # E_SHAPE: the length was asked for
    buf = Vector{UInt8}(undef, len[] + 1)
    check(ccall(fn(:convt_layer_get_string), Int32,
                (Ptr{Cvoid}, Int32, Ptr{UInt8}, Int64, Ref{Int64}),
                layer, param, buf, length(buf), len))
    return String(buf[1:len[]])
end

eltype_of(layer::Layer) = get_int(layer, PARAM_DTYPE) == DTYPE_FLOAT64 ? Float64 : Float32
channels_first(layer::Layer) = get_int(layer, PARAM_DATA_FORMAT) == CHANNELS_FIRST

# ---- weights ---------------------------------------------------------------------------------

const Real32or64 = Union{Float32,Float64}

"""
    set_weights!(layer, in_channels, kernel, bias; layout=LAYOUT_WOI)

Copies the kernel and the bias (`nothing` exactly when use_bias is false). With the Keras
layout the kernel is a Julia array of size (in_channels/groups, filters, kernel_size).
"""
function set_weights!(layer::Layer, in_channels::Integer, kernel::Array{T},
                      bias::Union{Nothing,Array{T}}; layout::Integer=LAYOUT_WOI) where {T<:Real32or64}
    f = T == Float32 ? :convt_layer_set_weights_f32 : :convt_layer_set_weights_f64
    b = bias === nothing ? T[] : bias
    GC.@preserve b check(ccall(fn(f), Int32,
                                (Ptr{Cvoid}, Int64, Int32, Ptr{T}, Int64, Ptr{T}, Int64),
                                layer, in_channels, layout, kernel, length(kernel),
                                bias === nothing ? Ptr{T}(C_NULL) : pointer(b), length(b)))
end

"""
    get_weights(layer; layout=LAYOUT_WOI) -> (kernel, bias)

The kernel as a Julia array of the reversed layout's size, and the bias (or `nothing`).
"""
function get_weights(layer::Layer; layout::Integer=LAYOUT_WOI)
    T = eltype_of(layer)
    kernel, bias = weight_buffers(layer, T, layout)
    fname = T == Float32 ? :convt_layer_get_weights_f32 : :convt_layer_get_weights_f64
    b = bias === nothing ? T[] : bias
    GC.@preserve b check(ccall(fn(fname), Int32,
                                (Ptr{Cvoid}, Int32, Ptr{T}, Int64, Ptr{T}, Int64),
                                layer, layout, kernel, length(kernel),
                                bias === nothing ? Ptr{T}(C_NULL) : pointer(b), length(b)))
    return kernel, bias
end

# Uninitialized kernel and bias (or nothing) of the layer's sizes, the kernel in `layout`'s
# reversed dimensions. Before in_channels is known the kernel has one element: the library
# then refuses the call with CONVT_E_STATE (no weights yet), the error to show.
function weight_buffers(layer::Layer, ::Type{T}, layout::Integer) where {T}
    k, f = get_int(layer, PARAM_KERNEL_SIZE), get_int(layer, PARAM_FILTERS)
    c, g = get_int(layer, PARAM_IN_CHANNELS), get_int(layer, PARAM_GROUPS)
    dims = layout == LAYOUT_WOI ? (div(c, g), f, k) : (k, div(f, g), c)
    kernel = Array{T}(undef, c > 0 ? dims : (1, 1, 1))
    bias = get_int(layer, PARAM_USE_BIAS) != 0 ? Vector{T}(undef, f) : nothing
    return kernel, bias
end

"""Fills the weights by the layer's initializers for `in_channels` inputs, from `seed`."""
init_weights!(layer::Layer, in_channels::Integer, seed::Integer) =
    check(ccall(fn(:convt_layer_init_weights), Int32, (Ptr{Cvoid}, Int64, UInt64),
                layer, in_channels, seed))

# ---- shapes and the forward pass -------------------------------------------------------------

"""The C output shape (batch, out_steps, filters) or (batch, filters, out_steps)."""
function output_shape(layer::Layer, batch::Integer, steps::Integer)
    shape = zeros(Int64, 3)
    check(ccall(fn(:convt_layer_output_shape), Int32, (Ptr{Cvoid}, Int64, Int64, Ptr{Int64}),
                layer, batch, steps, shape))
    return (shape[1], shape[2], shape[3])
end

"""The default output length for an input of `steps` steps."""
function output_steps(layer::Layer, steps::Integer)
    shape = output_shape(layer, 1, steps)
    return channels_first(layer) ? shape[3] : shape[2]
end

"""
    forward!(layer, y, x, batch, steps, out_steps)

Writes the first batch * filters * out_steps values of `y`; `x` holds batch * steps *
in_channels values. Lengths are the arrays' lengths.
"""
function forward!(layer::Layer, y::Array{T}, x::Array{T}, batch::Integer, steps::Integer,
                  out_steps::Integer) where {T<:Real32or64}
    f = T == Float32 ? :convt_layer_forward_f32 : :convt_layer_forward_f64
    check(ccall(fn(f), Int32, (Ptr{Cvoid}, Ptr{T}, Int64, Int64, Int64, Ptr{T}, Int64, Int64),
                layer, x, length(x), batch, steps, y, length(y), out_steps))
    return y
end

"""
    forward(layer, x; out_steps=nothing) -> y

`x` is (channels, steps, batch) for channels_last -- libconvt's (batch, steps, channels) --
or (steps, channels, batch) for channels_first; `y` likewise with filters and out_steps.
"""
function forward(layer::Layer, x::Array{T,3}; out_steps=nothing) where {T<:Real32or64}
    first = channels_first(layer)
    batch = size(x, 3)
    steps = first ? size(x, 1) : size(x, 2)
    o = out_steps === nothing ? (first ? output_shape(layer, batch, steps)[3] :
                                 output_shape(layer, batch, steps)[2]) : out_steps
    f = get_int(layer, PARAM_FILTERS)
    y = Array{T}(undef, first ? (max(o, 1), f, batch) : (f, max(o, 1), batch))
    return forward!(layer, y, x, batch, steps, o)
end

# ---- training --------------------------------------------------------------------------------

# NULL for `nothing`, as the C API wants for a gradient that is not asked for.
optional_ptr(::Type{T}, a) where {T} = a === nothing ? Ptr{T}(C_NULL) : pointer(a)
optional_len(a) = a === nothing ? 0 : length(a)

"""
    backward(layer, x, grad_output; out_steps=nothing, layout=LAYOUT_WOI)
        -> (grad_input, grad_kernel, grad_bias)

Gradients for dL/dy = `grad_output` of `forward(layer, x; out_steps)`, in the same reversed
dimension order as `forward`. `grad_kernel` and `grad_bias` are `nothing` while trainable is
0 (and `grad_bias` without a bias).
"""
function backward(layer::Layer, x::Array{T,3}, grad_output::Array{T,3}; out_steps=nothing,
                  layout::Integer=LAYOUT_WOI) where {T<:Real32or64}
    first = channels_first(layer)
    batch = size(x, 3)
    steps = first ? size(x, 1) : size(x, 2)
    o = out_steps === nothing ? output_steps(layer, steps) : out_steps
    gx = similar(x)
    gk = gb = nothing
    if get_int(layer, PARAM_TRAINABLE) != 0
        gk, gb = weight_buffers(layer, T, layout)
    end
    f = T == Float32 ? :convt_layer_backward_f32 : :convt_layer_backward_f64
    GC.@preserve gk gb check(ccall(fn(f), Int32,
        (Ptr{Cvoid}, Ptr{T}, Int64, Int64, Int64, Ptr{T}, Int64, Int64, Ptr{T}, Int64, Int32,
         Ptr{T}, Int64, Ptr{T}, Int64),
        layer, x, length(x), batch, steps, grad_output, length(grad_output), o, gx, length(gx),
        layout, optional_ptr(T, gk), optional_len(gk), optional_ptr(T, gb), optional_len(gb)))
    return gx, gk, gb
end

"""kernel_regularizer(kernel) + bias_regularizer(bias): the weights' penalty."""
function regularization_loss(layer::Layer)
    loss = Ref{Cdouble}(0)
    check(ccall(fn(:convt_layer_regularization_loss), Int32, (Ptr{Cvoid}, Ref{Cdouble}),
                layer, loss))
    return loss[]
end

"""activity_regularizer(y) / batch for an output `y` of `forward`."""
function activity_regularization(layer::Layer, y::Array{T,3}) where {T<:Real32or64}
    batch = size(y, 3)
    o = channels_first(layer) ? size(y, 1) : size(y, 2)
    penalty = Ref{Cdouble}(0)
    f = T == Float32 ? :convt_layer_activity_regularization_f32 :
        :convt_layer_activity_regularization_f64
    check(ccall(fn(f), Int32, (Ptr{Cvoid}, Ptr{T}, Int64, Int64, Int64, Ref{Cdouble}),
                layer, y, length(y), batch, o, penalty))
    return penalty[]
end

"""Projects the stored weights by the kernel and bias constraints."""
apply_constraints!(layer::Layer) =
    check(ccall(fn(:convt_layer_apply_constraints), Int32, (Ptr{Cvoid},), layer))

# ---- streams ---------------------------------------------------------------------------------

"""
    Stream(layer, batch)

A signal of `batch` items run through `layer` (which must have weights) in chunks: `push!`
returns the output steps that became final, `flush!` the rest. Concatenated along time they
equal `forward` over the whole signal. Keeps the layer alive; one task at a time.
"""
mutable struct Stream
    ptr::Ptr{Cvoid}
    layer::Layer
    batch::Int64

    function Stream(layer::Layer, batch::Integer)
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(ccall(fn(:convt_stream_create), Int32, (Ptr{Cvoid}, Int64, Ref{Ptr{Cvoid}}),
                    layer, batch, out))
        stream = new(out[], layer, batch)
        finalizer(close!, stream)
        return stream
    end
end

Base.unsafe_convert(::Type{Ptr{Cvoid}}, stream::Stream) = stream.ptr

function close!(stream::Stream)
    if stream.ptr != C_NULL
        ccall(fn(:convt_stream_destroy), Cvoid, (Ptr{Cvoid},), stream.ptr)
        stream.ptr = C_NULL
    end
    return nothing
end

"""The output steps the next push of `steps` steps writes (0: what flush! would write)."""
function max_output_steps(stream::Stream, steps::Integer)
    n = Ref{Int64}(0)
    check(ccall(fn(:convt_stream_max_output_steps), Int32, (Ptr{Cvoid}, Int64, Ref{Int64}),
                stream, steps, n))
    return n[]
end

# The dimensions of an output of n steps per item, in forward's reversed order.
function stream_dims(stream::Stream, n)
    f = get_int(stream.layer, PARAM_FILTERS)
    return channels_first(stream.layer) ? (n, f, stream.batch) : (f, n, stream.batch)
end

# The first batch * filters * n values of y -- all the library wrote -- shaped for n steps.
function written(stream::Stream, y, n)
    dims = stream_dims(stream, n)
    return size(y) == dims ? y : reshape(y[1:prod(dims)], dims)
end

"""
    push!(stream, chunk) -> y

Consumes a chunk (dimensions as `forward`'s input) and returns the output steps that became
final.
"""
function Base.push!(stream::Stream, chunk::Array{T,3}) where {T<:Real32or64}
    steps = channels_first(stream.layer) ? size(chunk, 1) : size(chunk, 2)
    y = Array{T}(undef, stream_dims(stream, max_output_steps(stream, steps)))
    n = Ref{Int64}(0)
    f = T == Float32 ? :convt_stream_push_f32 : :convt_stream_push_f64
    check(ccall(fn(f), Int32, (Ptr{Cvoid}, Ptr{T}, Int64, Int64, Ptr{T}, Int64, Ref{Int64}),
                stream, chunk, length(chunk), steps, y, length(y), n))
    return written(stream, y, n[])
end

"""The rest of the signal (element type `T`); the stream then starts a new signal."""
function flush!(stream::Stream, ::Type{T}=eltype_of(stream.layer)) where {T<:Real32or64}
    y = Array{T}(undef, stream_dims(stream, max_output_steps(stream, 0)))
    n = Ref{Int64}(0)
    f = T == Float32 ? :convt_stream_flush_f32 : :convt_stream_flush_f64
    check(ccall(fn(f), Int32, (Ptr{Cvoid}, Ptr{T}, Int64, Ref{Int64}),
                stream, y, length(y), n))
    return written(stream, y, n[])
end

"""Drops the signal so far."""
reset!(stream::Stream) = check(ccall(fn(:convt_stream_reset), Int32, (Ptr{Cvoid},), stream))

end # module
