//! Safe Rust bindings to libconvt: the 1-D transposed convolution layer (Keras
//! `Conv1DTranspose`, `tf.nn.conv1d_transpose`, PyTorch `ConvTranspose1d`, ONNX
//! `ConvTranspose`) with the numbers those frameworks give.
//!
//! [`Layer`] owns a `convt_layer*` and frees it on drop. Every call returns a [`Result`]
//! whose [`Error`] carries the library's status and its message (read on the calling thread,
//! right after the call). Data goes in as slices of `f32` (float32 layers) or `f64` (float64
//! layers); the library gets each slice's pointer with its length in elements and keeps no
//! pointer after a call returns. [`sys`] has the raw `extern "C"` declarations.
//!
//! ```
//! use convt::{Layer, Layout, Padding};
//!
//! fn main() -> Result<(), convt::Error> {
//!     // keras.layers.Conv1DTranspose(filters=2, kernel_size=3, strides=2, padding="same")
//!     let mut layer = Layer::new(2, 3)?;
//!     layer.set_strides(2)?.set_padding(Padding::Same)?;
//!     // Keras's kernel layout (kernel_size, filters, in_channels) = (3, 2, 1), and the bias.
//!     let kernel = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
//!     layer.set_weights(1, Layout::Woi, &kernel, Some(&[0.5, -0.5]))?;
//!     // x: (batch 1, steps 4, channels 1) -> y: (1, 8, 2)
//!     let y = layer.forward(&[1.0f32, 2.0, 3.0, 4.0], 1, 4)?;
//!     assert_eq!(y.len(), 16);
//!     assert_eq!((y[12], y[13]), (13.5, 129.5));
//!     Ok(())
//! }
//! ```
//!
//! Training: [`Layer::backward`], [`Layer::regularization_loss`],
//! [`Layer::activity_regularization`], [`Layer::apply_constraints`]. Streaming: [`Layer::stream`]
//! gives a [`Stream`] that borrows the layer.
//!
//! Threads: a `Layer` is `Send` and `Sync`. Methods taking `&self` (forward, output_shape,
//! getters) may run at once from any number of threads, as the C API allows; methods that
//! change the layer take `&mut self`, so the borrow checker keeps them from overlapping.

pub mod sys;

use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::ptr::{self, NonNull};

// ---- errors ----------------------------------------------------------------------------------

/// A failing status of the C API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `CONVT_E_INVALID_ARGUMENT`: a value out of range, an unknown name, a NULL layer.
    InvalidArgument,
    /// `CONVT_E_SHAPE`: lengths, channels or buffer sizes that do not fit the layer.
    Shape,
    /// `CONVT_E_STATE`: a call out of order (forward before weights) or the wrong dtype.
    State,
    /// `CONVT_E_OUT_OF_MEMORY`.
    OutOfMemory,
    /// `CONVT_E_UNSUPPORTED`: a valid Keras request this version cannot do.
    Unsupported,
    /// `CONVT_E_INTERNAL`: a bug in libconvt.
    Internal,
    /// A code this binding does not know (from a newer library).
    Other(i32),
}

impl Status {
    fn from_code(code: sys::convt_status) -> Status {
        match code {
            sys::CONVT_E_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::CONVT_E_SHAPE => Status::Shape,
            sys::CONVT_E_STATE => Status::State,
            sys::CONVT_E_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::CONVT_E_UNSUPPORTED => Status::Unsupported,
            sys::CONVT_E_INTERNAL => Status::Internal,
            other => Status::Other(other),
        }
    }

    /// The C value, `CONVT_E_SHAPE` = 2, ...
    pub fn code(self) -> i32 {
        match self {
            Status::InvalidArgument => sys::CONVT_E_INVALID_ARGUMENT,
            Status::Shape => sys::CONVT_E_SHAPE,
            Status::State => sys::CONVT_E_STATE,
            Status::OutOfMemory => sys::CONVT_E_OUT_OF_MEMORY,
            Status::Unsupported => sys::CONVT_E_UNSUPPORTED,
            Status::Internal => sys::CONVT_E_INTERNAL,
            Status::Other(code) => code,
        }
    }

    /// The library's name for it, `"CONVT_E_SHAPE"`.
    pub fn name(self) -> &'static str {
        // SAFETY: convt_status_string returns a static NUL-terminated string, never NULL.
        unsafe { CStr::from_ptr(sys::convt_status_string(self.code())) }
            .to_str()
            .unwrap_or("CONVT_E_UNKNOWN")
    }
}

/// A failed call: the status and the library's message (what was wrong and what was
/// expected, with the numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

// Turns a status into a Result. Called right after the C call: Rust runs both on the same
// OS thread, so the thread-local message is this call's.
fn check(status: sys::convt_status) -> Result<()> {
    if status == sys::CONVT_OK {
        return Ok(());
    }
    // SAFETY: convt_last_error never returns NULL; the string lives until this thread's
    // next failing call, and is copied before any other call.
    let message = unsafe { CStr::from_ptr(sys::convt_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(Error {
        status: Status::from_code(status),
        message,
    })
}

fn c_string(value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error {
        status: Status::InvalidArgument,
        message: format!("convt: the name {:?} contains a NUL byte", value),
    })
}

// Slices never exceed isize::MAX elements, so the count always fits i64.
fn len<T>(slice: &[T]) -> i64 {
    slice.len() as i64
}

/// The loaded library's version, `"1.0.0"`.
pub fn version() -> &'static str {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::convt_version_string()) }
        .to_str()
        .unwrap_or("")
}

/// The loaded library's version as `major * 10000 + minor * 100 + patch`.
pub fn version_number() -> u32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::convt_version_number() }
}

// ---- enumerations ----------------------------------------------------------------------------

/// The layer parameters (`convt_param`); types and defaults in `convt.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Param {
    Filters = sys::CONVT_PARAM_FILTERS,
    KernelSize = sys::CONVT_PARAM_KERNEL_SIZE,
    InChannels = sys::CONVT_PARAM_IN_CHANNELS,
    Strides = sys::CONVT_PARAM_STRIDES,
    DilationRate = sys::CONVT_PARAM_DILATION_RATE,
    Padding = sys::CONVT_PARAM_PADDING,
    PadBegin = sys::CONVT_PARAM_PAD_BEGIN,
    PadEnd = sys::CONVT_PARAM_PAD_END,
    OutputPadding = sys::CONVT_PARAM_OUTPUT_PADDING,
    DataFormat = sys::CONVT_PARAM_DATA_FORMAT,
    Groups = sys::CONVT_PARAM_GROUPS,
    UseBias = sys::CONVT_PARAM_USE_BIAS,
    Activation = sys::CONVT_PARAM_ACTIVATION,
    ActivationAlpha = sys::CONVT_PARAM_ACTIVATION_ALPHA,
    Dtype = sys::CONVT_PARAM_DTYPE,
    InputSteps = sys::CONVT_PARAM_INPUT_STEPS,
    BatchSize = sys::CONVT_PARAM_BATCH_SIZE,
    Name = sys::CONVT_PARAM_NAME,
    NumThreads = sys::CONVT_PARAM_NUM_THREADS,
    KernelInitializer = sys::CONVT_PARAM_KERNEL_INITIALIZER,
    BiasInitializer = sys::CONVT_PARAM_BIAS_INITIALIZER,
    Trainable = sys::CONVT_PARAM_TRAINABLE,
    KernelRegularizer = sys::CONVT_PARAM_KERNEL_REGULARIZER,
    KernelRegularizerL1 = sys::CONVT_PARAM_KERNEL_REGULARIZER_L1,
    KernelRegularizerL2 = sys::CONVT_PARAM_KERNEL_REGULARIZER_L2,
    BiasRegularizer = sys::CONVT_PARAM_BIAS_REGULARIZER,
    BiasRegularizerL1 = sys::CONVT_PARAM_BIAS_REGULARIZER_L1,
    BiasRegularizerL2 = sys::CONVT_PARAM_BIAS_REGULARIZER_L2,
    ActivityRegularizer = sys::CONVT_PARAM_ACTIVITY_REGULARIZER,
    ActivityRegularizerL1 = sys::CONVT_PARAM_ACTIVITY_REGULARIZER_L1,
    ActivityRegularizerL2 = sys::CONVT_PARAM_ACTIVITY_REGULARIZER_L2,
    KernelConstraint = sys::CONVT_PARAM_KERNEL_CONSTRAINT,
    KernelConstraintMinValue = sys::CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE,
    KernelConstraintMaxValue = sys::CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE,
    KernelConstraintRate = sys::CONVT_PARAM_KERNEL_CONSTRAINT_RATE,
    KernelConstraintAxes = sys::CONVT_PARAM_KERNEL_CONSTRAINT_AXES,
    BiasConstraint = sys::CONVT_PARAM_BIAS_CONSTRAINT,
    BiasConstraintMinValue = sys::CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE,
    BiasConstraintMaxValue = sys::CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE,
    BiasConstraintRate = sys::CONVT_PARAM_BIAS_CONSTRAINT_RATE,
    BackwardRegularization = sys::CONVT_PARAM_BACKWARD_REGULARIZATION,
}

/// Padding modes (`convt_padding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Padding {
    /// Keras/TF "valid", ONNX VALID: no crop.
    Valid = sys::CONVT_PADDING_VALID,
    /// Keras/TF "same".
    Same = sys::CONVT_PADDING_SAME,
    /// ONNX SAME_LOWER.
    SameLower = sys::CONVT_PADDING_SAME_LOWER,
    /// PyTorch `padding=`, ONNX `pads`: crops PAD_BEGIN and PAD_END ([`Layer::set_pads`]).
    Explicit = sys::CONVT_PADDING_EXPLICIT,
}

/// Data formats (`convt_data_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DataFormat {
    /// (batch, steps, channels): Keras, TF.
    ChannelsLast = sys::CONVT_CHANNELS_LAST,
    /// (batch, channels, steps): PyTorch, ONNX.
    ChannelsFirst = sys::CONVT_CHANNELS_FIRST,
}

/// Element types (`convt_dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Dtype {
    Float32 = sys::CONVT_DTYPE_FLOAT32,
    Float64 = sys::CONVT_DTYPE_FLOAT64,
}

/// Kernel layouts (`convt_layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Layout {
    /// (kernel_size, filters, in_channels / groups): Keras, TF.
    Woi = sys::CONVT_LAYOUT_WOI,
    /// (in_channels, filters / groups, kernel_size): PyTorch, ONNX.
    Iow = sys::CONVT_LAYOUT_IOW,
}

impl Layout {
    pub const KERAS: Layout = Layout::Woi;
    pub const PYTORCH: Layout = Layout::Iow;
}

/// Regularizers (`convt_regularizer`) for the `*Regularizer` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Regularizer {
    None = sys::CONVT_REGULARIZER_NONE,
    L1 = sys::CONVT_REGULARIZER_L1,
    L2 = sys::CONVT_REGULARIZER_L2,
    L1L2 = sys::CONVT_REGULARIZER_L1_L2,
}

/// Weight constraints (`convt_constraint`) for the `*Constraint` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Constraint {
    None = sys::CONVT_CONSTRAINT_NONE,
    MaxNorm = sys::CONVT_CONSTRAINT_MAX_NORM,
    MinMaxNorm = sys::CONVT_CONSTRAINT_MIN_MAX_NORM,
    NonNeg = sys::CONVT_CONSTRAINT_NON_NEG,
    UnitNorm = sys::CONVT_CONSTRAINT_UNIT_NORM,
}

// ---- element types ---------------------------------------------------------------------------

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` (float32 layers, the `_f32` functions) or `f64` (float64 layers, `_f64`).
pub trait Element: private::Sealed + Copy + Default + 'static {
    /// The dtype a layer must have for this element type.
    const DTYPE: Dtype;
    #[doc(hidden)]
    unsafe fn set_weights(
        layer: *mut sys::convt_layer,
        in_channels: i64,
        layout: sys::convt_layout,
        kernel: &[Self],
        bias: Option<&[Self]>,
    ) -> sys::convt_status;
    #[doc(hidden)]
    unsafe fn get_weights(
        layer: *const sys::convt_layer,
        layout: sys::convt_layout,
        kernel: &mut [Self],
        bias: Option<&mut [Self]>,
    ) -> sys::convt_status;
    #[doc(hidden)]
    unsafe fn forward(
        layer: *const sys::convt_layer,
        input: &[Self],
        batch: i64,
        steps: i64,
        output: &mut [Self],
        out_steps: i64,
    ) -> sys::convt_status;
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn backward(
        layer: *const sys::convt_layer,
        input: &[Self],
        batch: i64,
        steps: i64,
        grad_output: &[Self],
        out_steps: i64,
        grad_input: Option<&mut [Self]>,
        layout: sys::convt_layout,
        grad_kernel: Option<&mut [Self]>,
        grad_bias: Option<&mut [Self]>,
    ) -> sys::convt_status;
    #[doc(hidden)]
    unsafe fn activity(
        layer: *const sys::convt_layer,
        output: &[Self],
        batch: i64,
        out_steps: i64,
        penalty: &mut f64,
    ) -> sys::convt_status;
    #[doc(hidden)]
    unsafe fn push(
        stream: *mut sys::convt_stream,
        input: &[Self],
        steps: i64,
        output: &mut [Self],
        out_steps: &mut i64,
    ) -> sys::convt_status;
    #[doc(hidden)]
    unsafe fn flush(
        stream: *mut sys::convt_stream,
        output: &mut [Self],
        out_steps: &mut i64,
    ) -> sys::convt_status;
}

// (pointer, length) of an optional output buffer: (NULL, 0) for None or an empty slice, as
// the C API wants for a buffer that is not asked for.
fn out_buf<T>(buf: Option<&mut [T]>) -> (*mut T, i64) {
    match buf {
        Some(b) if !b.is_empty() => (b.as_mut_ptr(), len(b)),
        _ => (ptr::null_mut(), 0),
    }
}

fn in_buf<T>(buf: &[T]) -> *const T {
    if buf.is_empty() {
        ptr::null()
    } else {
        buf.as_ptr()
    }
}

macro_rules! element {
    ($t:ty, $dtype:expr, $set:ident, $get:ident, $forward:ident, $backward:ident,
     $activity:ident, $push:ident, $flush:ident) => {
        impl Element for $t {
            const DTYPE: Dtype = $dtype;
            unsafe fn set_weights(
                layer: *mut sys::convt_layer,
                in_channels: i64,
                layout: sys::convt_layout,
                kernel: &[$t],
                bias: Option<&[$t]>,
            ) -> sys::convt_status {
                let (b, b_len) = bias.map_or((ptr::null(), 0), |b| (b.as_ptr(), len(b)));
                sys::$set(
                    layer,
                    in_channels,
                    layout,
                    kernel.as_ptr(),
                    len(kernel),
                    b,
                    b_len,
                )
            }
            unsafe fn get_weights(
                layer: *const sys::convt_layer,
                layout: sys::convt_layout,
                kernel: &mut [$t],
                bias: Option<&mut [$t]>,
            ) -> sys::convt_status {
                let (b, b_len) = match bias {
                    Some(b) => (b.as_mut_ptr(), len(b)),
                    None => (ptr::null_mut(), 0),
                };
                sys::$get(layer, layout, kernel.as_mut_ptr(), len(kernel), b, b_len)
            }
            unsafe fn forward(
                layer: *const sys::convt_layer,
                input: &[$t],
                batch: i64,
                steps: i64,
                output: &mut [$t],
                out_steps: i64,
            ) -> sys::convt_status {
                sys::$forward(
                    layer,
                    input.as_ptr(),
                    len(input),
                    batch,
                    steps,
                    output.as_mut_ptr(),
                    len(output),
                    out_steps,
                )
            }
            unsafe fn backward(
                layer: *const sys::convt_layer,
                input: &[$t],
                batch: i64,
                steps: i64,
                grad_output: &[$t],
                out_steps: i64,
                grad_input: Option<&mut [$t]>,
                layout: sys::convt_layout,
                grad_kernel: Option<&mut [$t]>,
                grad_bias: Option<&mut [$t]>,
            ) -> sys::convt_status {
                let (gi, gi_len) = out_buf(grad_input);
                let (gk, gk_len) = out_buf(grad_kernel);
                let (gb, gb_len) = out_buf(grad_bias);
                sys::$backward(
                    layer,
                    input.as_ptr(),
                    len(input),
                    batch,
                    steps,
                    grad_output.as_ptr(),
                    len(grad_output),
                    out_steps,
                    gi,
                    gi_len,
                    layout,
                    gk,
                    gk_len,
                    gb,
                    gb_len,
                )
            }
            unsafe fn activity(
                layer: *const sys::convt_layer,
                output: &[$t],
                batch: i64,
                out_steps: i64,
                penalty: &mut f64,
            ) -> sys::convt_status {
                sys::$activity(
                    layer,
                    output.as_ptr(),
                    len(output),
                    batch,
                    out_steps,
                    penalty,
                )
            }
            unsafe fn push(
                stream: *mut sys::convt_stream,
                input: &[$t],
                steps: i64,
                output: &mut [$t],
                out_steps: &mut i64,
            ) -> sys::convt_status {
                let (o, o_len) = out_buf(Some(output));
                sys::$push(
                    stream,
                    in_buf(input),
                    len(input),
                    steps,
                    o,
                    o_len,
                    out_steps,
                )
            }
            unsafe fn flush(
                stream: *mut sys::convt_stream,
                output: &mut [$t],
                out_steps: &mut i64,
            ) -> sys::convt_status {
                let (o, o_len) = out_buf(Some(output));
                sys::$flush(stream, o, o_len, out_steps)
            }
        }
    };
}

element!(
    f32,
    Dtype::Float32,
    convt_layer_set_weights_f32,
    convt_layer_get_weights_f32,
    convt_layer_forward_f32,
    convt_layer_backward_f32,
    convt_layer_activity_regularization_f32,
    convt_stream_push_f32,
    convt_stream_flush_f32
);
element!(
    f64,
    Dtype::Float64,
    convt_layer_set_weights_f64,
    convt_layer_get_weights_f64,
    convt_layer_forward_f64,
    convt_layer_backward_f64,
    convt_layer_activity_regularization_f64,
    convt_stream_push_f64,
    convt_stream_flush_f64
);

/// The gradients backward returns: the input's (in the input's layout), the kernel's (in the
/// layout asked for) and the bias's; the weights' are `None` when not computed (trainable
/// is 0, or use_bias is 0 for the bias).
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T> {
    pub input: Vec<T>,
    pub kernel: Option<Vec<T>>,
    pub bias: Option<Vec<T>>,
}

/// A kernel (in the layout asked for) and the bias (`None` when use_bias is 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights<T> {
    pub kernel: Vec<T>,
    pub bias: Option<Vec<T>>,
}

// a * b * c for a buffer the binding allocates, or None when a factor is < 1 or it
// overflows: the library then rejects the call with the message the user should see.
fn product(a: i64, b: i64, c: i64) -> Option<usize> {
    if a < 1 || b < 1 || c < 1 {
        return None;
    }
    let n = a.checked_mul(b)?.checked_mul(c)?;
    usize::try_from(n).ok()
}

// ---- the layer -------------------------------------------------------------------------------

/// One Conv1DTranspose layer. Created with Keras's defaults; dropped with its C layer.
pub struct Layer {
    raw: NonNull<sys::convt_layer>,
}

// SAFETY: the C API lets a layer be used from any thread, and const calls (those taking
// &self here) from many threads at once; calls that change it take &mut self.
unsafe impl Send for Layer {}
unsafe impl Sync for Layer {}

impl Drop for Layer {
    fn drop(&mut self) {
        // SAFETY: the layer is owned and no borrow outlives self.
        unsafe { sys::convt_layer_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("name", &self.name().unwrap_or_default())
            .field("filters", &self.filters().unwrap_or(0))
            .field("kernel_size", &self.kernel_size().unwrap_or(0))
            .finish()
    }
}

impl Layer {
    /// `convt_layer_create`: Keras's defaults for everything else.
    pub fn new(filters: i64, kernel_size: i64) -> Result<Layer> {
        let mut raw: *mut sys::convt_layer = ptr::null_mut();
        // SAFETY: raw is a valid out-pointer.
        check(unsafe { sys::convt_layer_create(filters, kernel_size, &mut raw) })?;
        match NonNull::new(raw) {
            Some(raw) => Ok(Layer { raw }),
            None => Err(Error {
                status: Status::Internal,
                message: "convt_layer_create returned CONVT_OK and no layer".to_string(),
            }),
        }
    }

    /// The C handle, for calls this crate does not wrap; still owned by the Layer.
    pub fn as_ptr(&self) -> *const sys::convt_layer {
        self.raw.as_ptr()
    }

    /// The C handle for calls that change the layer.
    pub fn as_mut_ptr(&mut self) -> *mut sys::convt_layer {
        self.raw.as_ptr()
    }

    // -- parameters by convt_param --

    /// `convt_layer_set_int`: an int or enum parameter.
    pub fn set_int(&mut self, param: Param, value: i64) -> Result<&mut Self> {
        // SAFETY: a valid layer, borrowed mutably.
        check(unsafe { sys::convt_layer_set_int(self.as_mut_ptr(), param as i32, value) })?;
        Ok(self)
    }

    /// `convt_layer_get_int`.
    pub fn get_int(&self, param: Param) -> Result<i64> {
        let mut value = 0i64;
        // SAFETY: a valid layer and out-pointer.
        check(unsafe { sys::convt_layer_get_int(self.as_ptr(), param as i32, &mut value) })?;
        Ok(value)
    }

    /// `convt_layer_set_double`: ActivationAlpha.
    pub fn set_double(&mut self, param: Param, value: f64) -> Result<&mut Self> {
        // SAFETY: a valid layer, borrowed mutably.
        check(unsafe { sys::convt_layer_set_double(self.as_mut_ptr(), param as i32, value) })?;
        Ok(self)
    }

    /// `convt_layer_get_double`.
    pub fn get_double(&self, param: Param) -> Result<f64> {
        let mut value = 0f64;
        // SAFETY: a valid layer and out-pointer.
        check(unsafe { sys::convt_layer_get_double(self.as_ptr(), param as i32, &mut value) })?;
        Ok(value)
    }

    /// `convt_layer_set_string`: an enum by any of its names, or the layer's name.
    pub fn set_string(&mut self, param: Param, value: &str) -> Result<&mut Self> {
        let value = c_string(value)?;
        // SAFETY: a valid layer and NUL-terminated string, which the library copies.
        check(unsafe {
            sys::convt_layer_set_string(self.as_mut_ptr(), param as i32, value.as_ptr())
        })?;
        Ok(self)
    }

    /// `convt_layer_get_string`: the canonical name, or the layer's name.
    pub fn get_string(&self, param: Param) -> Result<String> {
        let mut length = 0i64;
        // SAFETY: a NULL buffer with capacity 0 asks for the length only.
        let asked = unsafe {
            sys::convt_layer_get_string(
                self.as_ptr(),
                param as i32,
                ptr::null_mut(),
                0,
                &mut length,
            )
        };
        if asked != sys::CONVT_OK && asked != sys::CONVT_E_SHAPE {
            check(asked)?;
        }
        let mut buf = vec![0u8; length as usize + 1];
        // SAFETY: buf holds length + 1 bytes.
        check(unsafe {
            sys::convt_layer_get_string(
                self.as_ptr(),
                param as i32,
                buf.as_mut_ptr() as *mut c_char,
                len(&buf),
                &mut length,
            )
        })?;
        buf.truncate(length as usize);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    // -- parameters by name --

    pub fn filters(&self) -> Result<i64> {
        self.get_int(Param::Filters)
    }
    pub fn kernel_size(&self) -> Result<i64> {
        self.get_int(Param::KernelSize)
    }
    /// 0 until weights (or set_in_channels) fix it.
    pub fn in_channels(&self) -> Result<i64> {
        self.get_int(Param::InChannels)
    }
    pub fn strides(&self) -> Result<i64> {
        self.get_int(Param::Strides)
    }
    pub fn groups(&self) -> Result<i64> {
        self.get_int(Param::Groups)
    }
    pub fn use_bias(&self) -> Result<bool> {
        Ok(self.get_int(Param::UseBias)? != 0)
    }
    pub fn padding(&self) -> Result<Padding> {
        Ok(match self.get_int(Param::Padding)? as i32 {
            sys::CONVT_PADDING_SAME => Padding::Same,
            sys::CONVT_PADDING_SAME_LOWER => Padding::SameLower,
            sys::CONVT_PADDING_EXPLICIT => Padding::Explicit,
            _ => Padding::Valid,
        })
    }
    pub fn data_format(&self) -> Result<DataFormat> {
        Ok(match self.get_int(Param::DataFormat)? as i32 {
            sys::CONVT_CHANNELS_FIRST => DataFormat::ChannelsFirst,
            _ => DataFormat::ChannelsLast,
        })
    }
    pub fn dtype(&self) -> Result<Dtype> {
        Ok(match self.get_int(Param::Dtype)? as i32 {
            sys::CONVT_DTYPE_FLOAT64 => Dtype::Float64,
            _ => Dtype::Float32,
        })
    }
    /// The activation's canonical Keras name, "silu" for "swish".
    pub fn activation(&self) -> Result<String> {
        self.get_string(Param::Activation)
    }
    pub fn name(&self) -> Result<String> {
        self.get_string(Param::Name)
    }

    pub fn set_in_channels(&mut self, c: i64) -> Result<&mut Self> {
        self.set_int(Param::InChannels, c)
    }
    pub fn set_strides(&mut self, s: i64) -> Result<&mut Self> {
        self.set_int(Param::Strides, s)
    }
    pub fn set_dilation_rate(&mut self, d: i64) -> Result<&mut Self> {
        self.set_int(Param::DilationRate, d)
    }
    pub fn set_padding(&mut self, p: Padding) -> Result<&mut Self> {
        self.set_int(Param::Padding, p as i64)
    }
    /// Explicit padding cropping `begin` and `end` steps (PyTorch's padding=p is (p, p));
    /// on an error the three parameters keep their previous values.
    pub fn set_pads(&mut self, begin: i64, end: i64) -> Result<&mut Self> {
        let old_begin = self.get_int(Param::PadBegin)?;
        let old_end = self.get_int(Param::PadEnd)?;
        let result = self
            .set_int(Param::PadBegin, begin)
            .and_then(|l| l.set_int(Param::PadEnd, end))
            .and_then(|l| l.set_padding(Padding::Explicit))
            .map(|_| ());
        if let Err(e) = result {
            // Values the layer held a moment ago are always accepted again.
            let _ = self.set_int(Param::PadBegin, old_begin);
            let _ = self.set_int(Param::PadEnd, old_end);
            return Err(e);
        }
        Ok(self)
    }
    /// `None` unsets it (Keras None).
    pub fn set_output_padding(&mut self, op: Option<i64>) -> Result<&mut Self> {
        self.set_int(
            Param::OutputPadding,
            op.unwrap_or(sys::CONVT_OUTPUT_PADDING_UNSET),
        )
    }
    pub fn set_data_format(&mut self, f: DataFormat) -> Result<&mut Self> {
        self.set_int(Param::DataFormat, f as i64)
    }
    pub fn set_groups(&mut self, g: i64) -> Result<&mut Self> {
        self.set_int(Param::Groups, g)
    }
    pub fn set_use_bias(&mut self, use_bias: bool) -> Result<&mut Self> {
        self.set_int(Param::UseBias, use_bias as i64)
    }
    /// A Keras 3 activation name: "relu", "leaky_relu", "swish", ...
    pub fn set_activation(&mut self, name: &str) -> Result<&mut Self> {
        self.set_string(Param::Activation, name)
    }
    pub fn set_activation_alpha(&mut self, alpha: f64) -> Result<&mut Self> {
        self.set_double(Param::ActivationAlpha, alpha)
    }
    pub fn set_dtype(&mut self, d: Dtype) -> Result<&mut Self> {
        self.set_int(Param::Dtype, d as i64)
    }
    pub fn set_name(&mut self, name: &str) -> Result<&mut Self> {
        self.set_string(Param::Name, name)
    }
    pub fn set_num_threads(&mut self, n: i64) -> Result<&mut Self> {
        self.set_int(Param::NumThreads, n)
    }
    /// A Keras initializer name: "glorot_uniform", "he_normal", "zeros", ...
    pub fn set_kernel_initializer(&mut self, name: &str) -> Result<&mut Self> {
        self.set_string(Param::KernelInitializer, name)
    }
    pub fn set_bias_initializer(&mut self, name: &str) -> Result<&mut Self> {
        self.set_string(Param::BiasInitializer, name)
    }

    // -- weights --

    /// `convt_layer_set_weights_f32` / `_f64`: copies the kernel (in `layout`) and the bias
    /// (`None` exactly when use_bias is 0) and fixes in_channels, groups, use_bias and dtype.
    pub fn set_weights<T: Element>(
        &mut self,
        in_channels: i64,
        layout: Layout,
        kernel: &[T],
        bias: Option<&[T]>,
    ) -> Result<()> {
        // SAFETY: slices with their lengths; the library copies them.
        check(unsafe {
            T::set_weights(self.as_mut_ptr(), in_channels, layout as i32, kernel, bias)
        })
    }

    /// `convt_layer_get_weights_f32` / `_f64` into the caller's slices, of exactly the
    /// lengths set_weights takes.
    pub fn get_weights_into<T: Element>(
        &self,
        layout: Layout,
        kernel: &mut [T],
        bias: Option<&mut [T]>,
    ) -> Result<()> {
        // SAFETY: slices with their lengths; nothing is kept.
        check(unsafe { T::get_weights(self.as_ptr(), layout as i32, kernel, bias) })
    }

    /// The kernel (in `layout`) and bias, in new vectors.
    pub fn get_weights<T: Element>(&self, layout: Layout) -> Result<Weights<T>> {
        let mut kernel = vec![T::default(); self.kernel_elements()?];
        let mut bias = if self.use_bias()? {
            Some(vec![T::default(); self.filters()? as usize])
        } else {
            None
        };
        self.get_weights_into(layout, &mut kernel, bias.as_deref_mut())?;
        Ok(Weights { kernel, bias })
    }

    // kernel_size * filters * in_channels / groups, or 1 before in_channels is known: the
    // library then refuses the call with State (no weights yet), the error to return.
    fn kernel_elements(&self) -> Result<usize> {
        let c = self.in_channels()?;
        let g = self.groups()?;
        Ok(if c > 0 && g > 0 {
            product(self.kernel_size()?, self.filters()?, c / g).unwrap_or(1)
        } else {
            1
        })
    }

    /// `convt_layer_init_weights`: the layer's initializers for `in_channels` inputs; the
    /// same seed gives bitwise the same weights everywhere.
    pub fn init_weights(&mut self, in_channels: i64, seed: u64) -> Result<()> {
        // SAFETY: a valid layer, borrowed mutably.
        check(unsafe { sys::convt_layer_init_weights(self.as_mut_ptr(), in_channels, seed) })
    }

    // -- shapes and the forward pass --

    /// `convt_layer_output_shape`: [batch, out_steps, filters] or [batch, filters, out_steps].
    pub fn output_shape(&self, batch: i64, steps: i64) -> Result<[i64; 3]> {
        let mut shape = [0i64; 3];
        // SAFETY: shape holds the three values the function writes.
        check(unsafe {
            sys::convt_layer_output_shape(self.as_ptr(), batch, steps, shape.as_mut_ptr())
        })?;
        Ok(shape)
    }

    /// The default output length for `steps` input steps.
    pub fn output_steps(&self, steps: i64) -> Result<i64> {
        self.out_steps_for(1, steps)
    }

    fn out_steps_for(&self, batch: i64, steps: i64) -> Result<i64> {
        let shape = self.output_shape(batch, steps)?;
        Ok(match self.data_format()? {
            DataFormat::ChannelsFirst => shape[2],
            DataFormat::ChannelsLast => shape[1],
        })
    }

    /// `convt_layer_forward_f32` / `_f64`: writes the first batch * filters * out_steps
    /// elements of `output`, in the layer's data format.
    pub fn forward_into<T: Element>(
        &self,
        input: &[T],
        batch: i64,
        steps: i64,
        output: &mut [T],
        out_steps: i64,
    ) -> Result<()> {
        // SAFETY: slices with their lengths; nothing is kept.
        check(unsafe { T::forward(self.as_ptr(), input, batch, steps, output, out_steps) })
    }

    /// The output of the given length (TF's output_shape, PyTorch's output_size).
    pub fn forward_with_out_steps<T: Element>(
        &self,
        input: &[T],
        batch: i64,
        steps: i64,
        out_steps: i64,
    ) -> Result<Vec<T>> {
        // A length the library rejects still gets one element, so that its message is the
        // error returned.
        let n = product(batch, self.filters()?, out_steps).unwrap_or(1);
        let mut output = vec![T::default(); n];
        self.forward_into(input, batch, steps, &mut output, out_steps)?;
        Ok(output)
    }

    /// The output of the default length, in a new vector.
    pub fn forward<T: Element>(&self, input: &[T], batch: i64, steps: i64) -> Result<Vec<T>> {
        let out_steps = self.out_steps_for(batch, steps)?;
        self.forward_with_out_steps(input, batch, steps, out_steps)
    }

    // -- training --

    /// `convt_layer_backward_f32` / `_f64`: dL/dinput, dL/dkernel (in `layout`) and dL/dbias
    /// into the caller's slices, for `grad_output` = dL/dy of the forward pass of length
    /// `out_steps`. `None` skips a gradient.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_into<T: Element>(
        &self,
        input: &[T],
        batch: i64,
        steps: i64,
        grad_output: &[T],
        out_steps: i64,
        grad_input: Option<&mut [T]>,
        layout: Layout,
        grad_kernel: Option<&mut [T]>,
        grad_bias: Option<&mut [T]>,
    ) -> Result<()> {
        // SAFETY: slices with their lengths; nothing is kept.
        check(unsafe {
            T::backward(
                self.as_ptr(),
                input,
                batch,
                steps,
                grad_output,
                out_steps,
                grad_input,
                layout as i32,
                grad_kernel,
                grad_bias,
            )
        })
    }

    /// Every gradient the layer has, in new vectors: the input's always; the kernel's and
    /// the bias's while trainable is 1 (the bias's when use_bias is 1).
    pub fn backward<T: Element>(
        &self,
        input: &[T],
        batch: i64,
        steps: i64,
        grad_output: &[T],
        out_steps: i64,
        layout: Layout,
    ) -> Result<Gradients<T>> {
        let mut g = Gradients {
            input: vec![T::default(); input.len()],
            kernel: None,
            bias: None,
        };
        if self.get_int(Param::Trainable)? != 0 {
            g.kernel = Some(vec![T::default(); self.kernel_elements()?]);
            if self.use_bias()? {
                g.bias = Some(vec![T::default(); self.filters()? as usize]);
            }
        }
        self.backward_into(
            input,
            batch,
            steps,
            grad_output,
            out_steps,
            Some(&mut g.input),
            layout,
            g.kernel.as_deref_mut(),
            g.bias.as_deref_mut(),
        )?;
        Ok(g)
    }

    /// `convt_layer_regularization_loss`: kernel_regularizer(kernel) + bias_regularizer(bias).
    pub fn regularization_loss(&self) -> Result<f64> {
        let mut loss = 0f64;
        // SAFETY: a valid layer and out-pointer.
        check(unsafe { sys::convt_layer_regularization_loss(self.as_ptr(), &mut loss) })?;
        Ok(loss)
    }

    /// `convt_layer_activity_regularization_f32` / `_f64`: activity_regularizer(output) /
    /// batch for an output of batch * filters * out_steps values.
    pub fn activity_regularization<T: Element>(
        &self,
        output: &[T],
        batch: i64,
        out_steps: i64,
    ) -> Result<f64> {
        let mut penalty = 0f64;
        // SAFETY: a slice with its length and an out-pointer.
        check(unsafe { T::activity(self.as_ptr(), output, batch, out_steps, &mut penalty) })?;
        Ok(penalty)
    }

    /// `convt_layer_apply_constraints`: projects the stored weights by the constraints.
    pub fn apply_constraints(&mut self) -> Result<()> {
        // SAFETY: a valid layer, borrowed mutably.
        check(unsafe { sys::convt_layer_apply_constraints(self.as_mut_ptr()) })
    }

    /// `convt_layer_workspace_size`: the bytes one forward call with these arguments uses.
    pub fn workspace_size(&self, batch: i64, steps: i64, out_steps: i64) -> Result<i64> {
        let mut bytes = 0i64;
        // SAFETY: a valid layer and out-pointer.
        check(unsafe {
            sys::convt_layer_workspace_size(self.as_ptr(), batch, steps, out_steps, &mut bytes)
        })?;
        Ok(bytes)
    }

    /// A stream of `batch` signals through this layer. The stream borrows the layer, so the
    /// layer can neither change nor go away while the stream exists.
    pub fn stream(&self, batch: i64) -> Result<Stream<'_>> {
        let filters = self.filters()?;
        let mut raw: *mut sys::convt_stream = ptr::null_mut();
        // SAFETY: a valid layer and out-pointer.
        check(unsafe { sys::convt_stream_create(self.as_ptr(), batch, &mut raw) })?;
        match NonNull::new(raw) {
            Some(raw) => Ok(Stream {
                raw,
                batch,
                filters,
                _layer: PhantomData,
            }),
            None => Err(Error {
                status: Status::Internal,
                message: "convt_stream_create returned CONVT_OK and no stream".to_string(),
            }),
        }
    }
}

// ---- streams ---------------------------------------------------------------------------------

/// A signal of `batch` items run through a layer in chunks (`convt_stream_*`): the outputs of
/// every push and the final flush, concatenated along time, equal `forward` over the whole
/// signal. Chunks and outputs are in the layer's data format. Dropped with its C stream.
pub struct Stream<'a> {
    raw: NonNull<sys::convt_stream>,
    batch: i64,
    filters: i64,
    _layer: PhantomData<&'a Layer>,
}

// SAFETY: a stream may move between threads; it is used by one at a time, which &mut self
// on every call that uses it guarantees.
unsafe impl Send for Stream<'_> {}

impl fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("batch", &self.batch)
            .field("filters", &self.filters)
            .finish()
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        // SAFETY: the stream is owned.
        unsafe { sys::convt_stream_destroy(self.raw.as_ptr()) }
    }
}

impl Stream<'_> {
    /// The output steps the next push of `steps` steps writes (0: what flush would write).
    pub fn max_output_steps(&self, steps: i64) -> Result<i64> {
        let mut n = 0i64;
        // SAFETY: a valid stream and out-pointer.
        check(unsafe { sys::convt_stream_max_output_steps(self.raw.as_ptr(), steps, &mut n) })?;
        Ok(n)
    }

    fn values(&self, steps: i64) -> usize {
        product(self.batch, self.filters, steps).unwrap_or(0)
    }

    /// `convt_stream_push_f32` / `_f64`: consumes `steps` steps of `input` and writes the
    /// output steps that became final into `output`; returns their count per item.
    pub fn push_into<T: Element>(
        &mut self,
        input: &[T],
        steps: i64,
        output: &mut [T],
    ) -> Result<i64> {
        let mut n = 0i64;
        // SAFETY: slices with their lengths; nothing is kept.
        check(unsafe { T::push(self.raw.as_ptr(), input, steps, output, &mut n) })?;
        Ok(n)
    }

    /// The same, returning the final steps in a new vector of batch * filters * n values.
    pub fn push<T: Element>(&mut self, input: &[T], steps: i64) -> Result<Vec<T>> {
        let mut output = vec![T::default(); self.values(self.max_output_steps(steps)?)];
        let n = self.push_into(input, steps, &mut output)?;
        output.truncate(self.values(n));
        Ok(output)
    }

    /// `convt_stream_flush_f32` / `_f64`: writes the rest of the signal; returns its steps.
    pub fn flush_into<T: Element>(&mut self, output: &mut [T]) -> Result<i64> {
        let mut n = 0i64;
        // SAFETY: a slice with its length; nothing is kept.
        check(unsafe { T::flush(self.raw.as_ptr(), output, &mut n) })?;
        Ok(n)
    }

    /// The rest of the signal in a new vector; the stream then starts a new signal.
    pub fn flush<T: Element>(&mut self) -> Result<Vec<T>> {
        let mut output = vec![T::default(); self.values(self.max_output_steps(0)?)];
        let n = self.flush_into(&mut output)?;
        output.truncate(self.values(n));
        Ok(output)
    }

    /// `convt_stream_reset`: drops the signal so far.
    pub fn reset(&mut self) -> Result<()> {
        // SAFETY: a valid stream.
        check(unsafe { sys::convt_stream_reset(self.raw.as_ptr()) })
    }
}
