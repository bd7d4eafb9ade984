//! The raw C API of libconvt (`include/convt/convt.h`), declared by hand: every function,
//! with the exact C types (status and enums are `i32`, sizes `i64`, lengths element counts).
//! Everything here is `unsafe` to call; [`crate::Layer`] is the safe way in.
#![allow(non_camel_case_types)]

use std::os::raw::c_char;

pub type convt_status = i32;
pub type convt_param = i32;
pub type convt_padding = i32;
pub type convt_data_format = i32;
pub type convt_dtype = i32;
pub type convt_layout = i32;
pub type convt_regularizer = i32;
pub type convt_constraint = i32;

/// The opaque layer; only pointers to it exist.
#[repr(C)]
pub struct convt_layer {
    _private: [u8; 0],
}

/// The opaque stream; only pointers to it exist.
#[repr(C)]
pub struct convt_stream {
    _private: [u8; 0],
}

pub const CONVT_OK: convt_status = 0;
pub const CONVT_E_INVALID_ARGUMENT: convt_status = 1;
pub const CONVT_E_SHAPE: convt_status = 2;
pub const CONVT_E_STATE: convt_status = 3;
pub const CONVT_E_OUT_OF_MEMORY: convt_status = 4;
pub const CONVT_E_UNSUPPORTED: convt_status = 5;
pub const CONVT_E_INTERNAL: convt_status = 6;

pub const CONVT_PARAM_FILTERS: convt_param = 1;
pub const CONVT_PARAM_KERNEL_SIZE: convt_param = 2;
pub const CONVT_PARAM_IN_CHANNELS: convt_param = 3;
pub const CONVT_PARAM_STRIDES: convt_param = 4;
pub const CONVT_PARAM_DILATION_RATE: convt_param = 5;
pub const CONVT_PARAM_PADDING: convt_param = 6;
pub const CONVT_PARAM_PAD_BEGIN: convt_param = 7;
pub const CONVT_PARAM_PAD_END: convt_param = 8;
pub const CONVT_PARAM_OUTPUT_PADDING: convt_param = 9;
pub const CONVT_PARAM_DATA_FORMAT: convt_param = 10;
pub const CONVT_PARAM_GROUPS: convt_param = 11;
pub const CONVT_PARAM_USE_BIAS: convt_param = 12;
pub const CONVT_PARAM_ACTIVATION: convt_param = 13;
pub const CONVT_PARAM_ACTIVATION_ALPHA: convt_param = 14;
pub const CONVT_PARAM_DTYPE: convt_param = 15;
pub const CONVT_PARAM_INPUT_STEPS: convt_param = 16;
pub const CONVT_PARAM_BATCH_SIZE: convt_param = 17;
pub const CONVT_PARAM_NAME: convt_param = 18;
pub const CONVT_PARAM_NUM_THREADS: convt_param = 19;
pub const CONVT_PARAM_KERNEL_INITIALIZER: convt_param = 20;
pub const CONVT_PARAM_BIAS_INITIALIZER: convt_param = 21;
pub const CONVT_PARAM_TRAINABLE: convt_param = 22;
pub const CONVT_PARAM_KERNEL_REGULARIZER: convt_param = 23;
pub const CONVT_PARAM_KERNEL_REGULARIZER_L1: convt_param = 24;
pub const CONVT_PARAM_KERNEL_REGULARIZER_L2: convt_param = 25;
pub const CONVT_PARAM_BIAS_REGULARIZER: convt_param = 26;
pub const CONVT_PARAM_BIAS_REGULARIZER_L1: convt_param = 27;
pub const CONVT_PARAM_BIAS_REGULARIZER_L2: convt_param = 28;
pub const CONVT_PARAM_ACTIVITY_REGULARIZER: convt_param = 29;
pub const CONVT_PARAM_ACTIVITY_REGULARIZER_L1: convt_param = 30;
pub const CONVT_PARAM_ACTIVITY_REGULARIZER_L2: convt_param = 31;
pub const CONVT_PARAM_KERNEL_CONSTRAINT: convt_param = 32;
pub const CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE: convt_param = 33;
pub const CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE: convt_param = 34;
pub const CONVT_PARAM_KERNEL_CONSTRAINT_RATE: convt_param = 35;
pub const CONVT_PARAM_KERNEL_CONSTRAINT_AXES: convt_param = 36;
pub const CONVT_PARAM_BIAS_CONSTRAINT: convt_param = 37;
pub const CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE: convt_param = 38;
pub const CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE: convt_param = 39;
pub const CONVT_PARAM_BIAS_CONSTRAINT_RATE: convt_param = 40;
pub const CONVT_PARAM_BACKWARD_REGULARIZATION: convt_param = 41;

pub const CONVT_PADDING_VALID: convt_padding = 0;
pub const CONVT_PADDING_SAME: convt_padding = 1;
pub const CONVT_PADDING_SAME_LOWER: convt_padding = 2;
pub const CONVT_PADDING_EXPLICIT: convt_padding = 3;
pub const CONVT_OUTPUT_PADDING_UNSET: i64 = -1;

pub const CONVT_CHANNELS_LAST: convt_data_format = 0;
pub const CONVT_CHANNELS_FIRST: convt_data_format = 1;

pub const CONVT_DTYPE_FLOAT32: convt_dtype = 0;
pub const CONVT_DTYPE_FLOAT64: convt_dtype = 1;

pub const CONVT_LAYOUT_WOI: convt_layout = 0;
pub const CONVT_LAYOUT_IOW: convt_layout = 1;

pub const CONVT_REGULARIZER_NONE: convt_regularizer = 0;
pub const CONVT_REGULARIZER_L1: convt_regularizer = 1;
pub const CONVT_REGULARIZER_L2: convt_regularizer = 2;
pub const CONVT_REGULARIZER_L1_L2: convt_regularizer = 3;

pub const CONVT_CONSTRAINT_NONE: convt_constraint = 0;
pub const CONVT_CONSTRAINT_MAX_NORM: convt_constraint = 1;
pub const CONVT_CONSTRAINT_MIN_MAX_NORM: convt_constraint = 2;
pub const CONVT_CONSTRAINT_NON_NEG: convt_constraint = 3;
pub const CONVT_CONSTRAINT_UNIT_NORM: convt_constraint = 4;

extern "C" {
    pub fn convt_version_number() -> u32;
    pub fn convt_version_string() -> *const c_char;
    pub fn convt_status_string(status: convt_status) -> *const c_char;
    pub fn convt_last_error() -> *const c_char;

    pub fn convt_layer_create(
        filters: i64,
        kernel_size: i64,
        out: *mut *mut convt_layer,
    ) -> convt_status;
    pub fn convt_layer_destroy(layer: *mut convt_layer);

    pub fn convt_layer_set_int(
        layer: *mut convt_layer,
        param: convt_param,
        value: i64,
    ) -> convt_status;
    pub fn convt_layer_get_int(
        layer: *const convt_layer,
        param: convt_param,
        value: *mut i64,
    ) -> convt_status;
    pub fn convt_layer_set_double(
        layer: *mut convt_layer,
        param: convt_param,
        value: f64,
    ) -> convt_status;
    pub fn convt_layer_get_double(
        layer: *const convt_layer,
        param: convt_param,
        value: *mut f64,
    ) -> convt_status;
    pub fn convt_layer_set_string(
        layer: *mut convt_layer,
        param: convt_param,
        value: *const c_char,
    ) -> convt_status;
    pub fn convt_layer_get_string(
        layer: *const convt_layer,
        param: convt_param,
        buf: *mut c_char,
        capacity: i64,
        length: *mut i64,
    ) -> convt_status;

    pub fn convt_layer_set_weights_f32(
        layer: *mut convt_layer,
        in_channels: i64,
        layout: convt_layout,
        kernel: *const f32,
        kernel_len: i64,
        bias: *const f32,
        bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_set_weights_f64(
        layer: *mut convt_layer,
        in_channels: i64,
        layout: convt_layout,
        kernel: *const f64,
        kernel_len: i64,
        bias: *const f64,
        bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_get_weights_f32(
        layer: *const convt_layer,
        layout: convt_layout,
        kernel: *mut f32,
        kernel_len: i64,
        bias: *mut f32,
        bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_get_weights_f64(
        layer: *const convt_layer,
        layout: convt_layout,
        kernel: *mut f64,
        kernel_len: i64,
        bias: *mut f64,
        bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_init_weights(
        layer: *mut convt_layer,
        in_channels: i64,
        seed: u64,
    ) -> convt_status;

    pub fn convt_layer_output_shape(
        layer: *const convt_layer,
        batch: i64,
        steps: i64,
        out_shape: *mut i64,
    ) -> convt_status;
    pub fn convt_layer_forward_f32(
        layer: *const convt_layer,
        input: *const f32,
        input_len: i64,
        batch: i64,
        steps: i64,
        output: *mut f32,
        output_len: i64,
        out_steps: i64,
    ) -> convt_status;
    pub fn convt_layer_forward_f64(
        layer: *const convt_layer,
        input: *const f64,
        input_len: i64,
        batch: i64,
        steps: i64,
        output: *mut f64,
        output_len: i64,
        out_steps: i64,
    ) -> convt_status;

    pub fn convt_layer_backward_f32(
        layer: *const convt_layer,
        input: *const f32,
        input_len: i64,
        batch: i64,
        steps: i64,
        grad_output: *const f32,
        grad_output_len: i64,
        out_steps: i64,
        grad_input: *mut f32,
        grad_input_len: i64,
        layout: convt_layout,
        grad_kernel: *mut f32,
        grad_kernel_len: i64,
        grad_bias: *mut f32,
        grad_bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_backward_f64(
        layer: *const convt_layer,
        input: *const f64,
        input_len: i64,
        batch: i64,
        steps: i64,
        grad_output: *const f64,
        grad_output_len: i64,
        out_steps: i64,
        grad_input: *mut f64,
        grad_input_len: i64,
        layout: convt_layout,
        grad_kernel: *mut f64,
        grad_kernel_len: i64,
        grad_bias: *mut f64,
        grad_bias_len: i64,
    ) -> convt_status;
    pub fn convt_layer_regularization_loss(
        layer: *const convt_layer,
        loss: *mut f64,
    ) -> convt_status;
    pub fn convt_layer_activity_regularization_f32(
        layer: *const convt_layer,
        output: *const f32,
        output_len: i64,
        batch: i64,
        out_steps: i64,
        penalty: *mut f64,
    ) -> convt_status;
    pub fn convt_layer_activity_regularization_f64(
        layer: *const convt_layer,
        output: *const f64,
        output_len: i64,
        batch: i64,
        out_steps: i64,
        penalty: *mut f64,
    ) -> convt_status;
    pub fn convt_layer_apply_constraints(layer: *mut convt_layer) -> convt_status;
    pub fn convt_layer_workspace_size(
        layer: *const convt_layer,
        batch: i64,
        steps: i64,
        out_steps: i64,
        bytes: *mut i64,
    ) -> convt_status;

    pub fn convt_stream_create(
        layer: *const convt_layer,
        batch: i64,
        out: *mut *mut convt_stream,
    ) -> convt_status;
    pub fn convt_stream_destroy(stream: *mut convt_stream);
    pub fn convt_stream_max_output_steps(
        stream: *const convt_stream,
        steps: i64,
        max_out: *mut i64,
    ) -> convt_status;
    pub fn convt_stream_push_f32(
        stream: *mut convt_stream,
        input: *const f32,
        input_len: i64,
        steps: i64,
        output: *mut f32,
        output_len: i64,
        out_steps: *mut i64,
    ) -> convt_status;
    pub fn convt_stream_push_f64(
        stream: *mut convt_stream,
        input: *const f64,
        input_len: i64,
        steps: i64,
        output: *mut f64,
        output_len: i64,
        out_steps: *mut i64,
    ) -> convt_status;
    pub fn convt_stream_flush_f32(
        stream: *mut convt_stream,
        output: *mut f32,
        output_len: i64,
        out_steps: *mut i64,
    ) -> convt_status;
    pub fn convt_stream_flush_f64(
        stream: *mut convt_stream,
        output: *mut f64,
        output_len: i64,
        out_steps: *mut i64,
    ) -> convt_status;
    pub fn convt_stream_reset(stream: *mut convt_stream) -> convt_status;
}
