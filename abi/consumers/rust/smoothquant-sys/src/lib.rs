//! Raw declarations of the libsmoothquant C ABI (`smoothquant/smoothquant.h`), written by
//! hand. Only types, constants and `extern "C"` functions: the safe API is the
//! `smoothquant` crate. The consumer's `--layout` mode prints every struct's size,
//! alignment and field offsets so that a test can compare them with the C header.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

pub const SQ_VERSION_MAJOR: u32 = 0;
pub const SQ_VERSION_MINOR: u32 = 2;
pub const SQ_VERSION_PATCH: u32 = 0;
pub const SQ_VERSION_NUMBER: u32 =
    SQ_VERSION_MAJOR * 10000 + SQ_VERSION_MINOR * 100 + SQ_VERSION_PATCH;

pub type sq_status = i32;
pub const SQ_STATUS_SUCCESS: sq_status = 0;
pub const SQ_STATUS_INVALID_ARGUMENT: sq_status = 1;
pub const SQ_STATUS_INVALID_STRUCT_SIZE: sq_status = 2;
pub const SQ_STATUS_INVALID_HANDLE: sq_status = 3;
pub const SQ_STATUS_NOT_SUPPORTED: sq_status = 4;
pub const SQ_STATUS_NO_DEVICE: sq_status = 5;
pub const SQ_STATUS_WRONG_DEVICE: sq_status = 6;
pub const SQ_STATUS_MISALIGNED: sq_status = 7;
pub const SQ_STATUS_WRONG_MEMORY_SPACE: sq_status = 8;
pub const SQ_STATUS_INSUFFICIENT_WORKSPACE: sq_status = 9;
pub const SQ_STATUS_CUDA_ERROR: sq_status = 10;
pub const SQ_STATUS_OUT_OF_MEMORY: sq_status = 11;
pub const SQ_STATUS_INTERNAL_ERROR: sq_status = 12;

pub type sq_dtype = i32;
pub const SQ_DTYPE_INVALID: sq_dtype = 0;
pub const SQ_DTYPE_S8: sq_dtype = 1;
pub const SQ_DTYPE_S32: sq_dtype = 2;
pub const SQ_DTYPE_F16: sq_dtype = 3;
pub const SQ_DTYPE_BF16: sq_dtype = 4;
pub const SQ_DTYPE_F32: sq_dtype = 5;
pub const SQ_DTYPE_F64: sq_dtype = 6;
pub const SQ_DTYPE_U8: sq_dtype = 7;

pub type sq_op = i32;
pub const SQ_OP_SMOOTHQUANT_LINEAR: sq_op = 1;
pub const SQ_OP_QUANTIZED_LINEAR: sq_op = 2;
pub const SQ_OP_QUANTIZE_STATIC: sq_op = 3;
pub const SQ_OP_QUANTIZE_DYNAMIC: sq_op = 4;
pub const SQ_OP_SCALED_LINEAR: sq_op = 5;
pub const SQ_OP_RMSNORM_QUANTIZE: sq_op = 6;
pub const SQ_OP_SILU_MUL_QUANTIZE: sq_op = 7;
pub const SQ_OP_SCALE_ACCUMULATORS: sq_op = 8;

pub type sq_quant_mode = i32;
pub const SQ_QUANT_DEFAULT: sq_quant_mode = 0;
pub const SQ_QUANT_STATIC: sq_quant_mode = 1;
pub const SQ_QUANT_DYNAMIC: sq_quant_mode = 2;
pub const SQ_QUANT_DYNAMIC_ASYMMETRIC: sq_quant_mode = 3;
pub const SQ_QUANT_ABSMAX: sq_quant_mode = 4;
pub const SQ_QUANT_FROM_ABSMAX: sq_quant_mode = 5;

pub const SQ_PLAN_WEIGHT_ZERO_POINT: u32 = 0x1;
pub const SQ_PLAN_ACT_ZERO_POINT: u32 = 0x2;
pub const SQ_PLAN_PER_TENSOR_ACT_SCALE: u32 = 0x4;

pub type sq_preference = i32;
pub const SQ_PREFERENCE_FASTEST: sq_preference = 0;
pub const SQ_PREFERENCE_HOST_REFERENCE: sq_preference = 1;
pub const SQ_PREFERENCE_GPU_PORTABLE: sq_preference = 2;
pub const SQ_PREFERENCE_GPU_HOPPER: sq_preference = 3;

pub type sq_kernel_family = i32;
pub const SQ_KERNEL_FAMILY_HOST: sq_kernel_family = 1;
pub const SQ_KERNEL_FAMILY_SM80: sq_kernel_family = 2;
pub const SQ_KERNEL_FAMILY_SM90: sq_kernel_family = 3;

pub const SQ_MAX_K: i64 = 131071;
pub const SQ_MAX_STRUCT_SIZE: u32 = 4096;
/// sizeof(sq_plan_desc) and sizeof(sq_run_args) in version 0.1: the smallest struct_size accepted.
pub const SQ_PLAN_DESC_SIZE_0_1: u32 = 64;
pub const SQ_RUN_ARGS_SIZE_0_1: u32 = 96;
pub const SQ_API_TABLE_VERSION: u32 = 2;
pub const SQ_GET_API_SYMBOL: &[u8] = b"sq_get_api\0";

/// Opaque plan object; only ever handled through `sq_plan`.
#[repr(C)]
pub struct sq_plan_st {
    _private: [u8; 0],
}
pub type sq_plan = *mut sq_plan_st;

/// Opaque CUDA stream (a `cudaStream_t` passes as it is; null is the default stream).
#[repr(C)]
pub struct CUstream_st {
    _private: [u8; 0],
}
pub type sq_stream = *mut CUstream_st;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sq_plan_desc {
    pub struct_size: u32,
    pub op: sq_op,
    pub act_dtype: sq_dtype,
    pub weight_dtype: sq_dtype,
    pub scale_dtype: sq_dtype,
    pub out_dtype: sq_dtype,
    pub n: i64,
    pub k: i64,
    pub max_m: i64,
    pub act_scale: f64,
    pub host_threads: u32,
    pub reserved: u32,
    // since 0.2 (a 0.1 caller's struct ends above: these read as zero)
    pub quant_mode: sq_quant_mode,
    pub quant_dtype: sq_dtype,
    pub act_zero_point: i32,
    pub flags: u32,
    pub eps: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sq_run_args {
    pub struct_size: u32,
    pub reserved: u32,
    pub m: i64,
    pub act: *const c_void,
    pub ld_act: i64,
    pub weight: *const c_void,
    pub ld_weight: i64,
    pub weight_scale: *const c_void,
    pub bias: *const c_void,
    pub smooth: *const c_void,
    pub act_scale_scratch: *mut c_void,
    pub out: *mut c_void,
    pub ld_out: i64,
    // since 0.2 (a 0.1 caller's struct ends above: these read as NULL/0)
    pub act_scale: *const c_void,
    pub weight_zero_point: *const c_void,
    pub weight_sums: *const i32,
    pub act_zero_point: *mut c_void,
    pub act_sums: *mut i32,
    pub absmax: *mut c_void,
    pub residual: *const c_void,
    pub ld_residual: i64,
    pub residual_out: *mut c_void,
    pub ld_residual_out: i64,
    pub norm_weight: *const c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sq_precision_guarantee {
    pub struct_size: u32,
    pub bit_exact_with_host: u32,
    pub deterministic: u32,
    pub exact_accumulation: u32,
    pub accumulate_dtype: sq_dtype,
    pub epilogue_dtype: sq_dtype,
    pub max_k: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sq_plan_info {
    pub struct_size: u32,
    pub family: sq_kernel_family,
    pub op: sq_op,
    pub device: i32,
    pub sm_version: i32,
    pub reserved: u32,
    pub n: i64,
    pub k: i64,
    pub max_m: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sq_matrix_view {
    pub struct_size: u32,
    pub dtype: sq_dtype,
    pub rows: i64,
    pub cols: i64,
    pub ld: i64,
    pub data: *const c_void,
}

/// The dlopen function table (grows only at the end; check `struct_size`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sq_api_table {
    pub struct_size: u32,
    pub api_version: u32,
    // version 1
    pub version: Option<unsafe extern "C" fn() -> u32>,
    pub version_string: Option<unsafe extern "C" fn() -> *const c_char>,
    pub status_string: Option<unsafe extern "C" fn(sq_status) -> *const c_char>,
    pub last_error_message: Option<unsafe extern "C" fn() -> *const c_char>,
    pub plan_select: Option<
        unsafe extern "C" fn(sq_stream, *const sq_plan_desc, sq_preference, *mut sq_plan) -> sq_status,
    >,
    pub plan_can_implement: Option<unsafe extern "C" fn(sq_plan, *const sq_run_args) -> sq_status>,
    pub plan_workspace_size: Option<unsafe extern "C" fn(sq_plan, *mut usize) -> sq_status>,
    pub plan_precision_guarantee:
        Option<unsafe extern "C" fn(sq_plan, *mut sq_precision_guarantee) -> sq_status>,
    pub plan_get_info: Option<unsafe extern "C" fn(sq_plan, *mut sq_plan_info) -> sq_status>,
    pub plan_kernel_name:
        Option<unsafe extern "C" fn(sq_plan, i64, *mut *const c_char) -> sq_status>,
    pub plan_run: Option<
        unsafe extern "C" fn(sq_plan, sq_stream, *mut c_void, usize, *const sq_run_args) -> sq_status,
    >,
    pub plan_destroy: Option<unsafe extern "C" fn(sq_plan) -> sq_status>,
    pub smooth_factors: Option<
        unsafe extern "C" fn(i64, *const f32, *const sq_matrix_view, i32, f32, *mut f32) -> sq_status,
    >,
    pub smooth_apply_to_norm:
        Option<unsafe extern "C" fn(i64, *const f32, sq_dtype, *mut c_void, *mut c_void) -> sq_status>,
    pub smooth_apply_to_weight:
        Option<unsafe extern "C" fn(i64, *const f32, sq_dtype, i64, i64, *mut c_void) -> sq_status>,
    pub quantize_weight_per_channel: Option<
        unsafe extern "C" fn(*const sq_matrix_view, *mut i8, i64, sq_dtype, *mut c_void) -> sq_status,
    >,
    pub static_act_scale:
        Option<unsafe extern "C" fn(i64, *const f32, *const f32, *mut f64) -> sq_status>,
    // version 2 (0.2)
    pub weight_sums: Option<unsafe extern "C" fn(*const sq_matrix_view, *mut i32) -> sq_status>,
    pub quantize_weight_per_channel_asymmetric: Option<
        unsafe extern "C" fn(
            *const sq_matrix_view,
            sq_dtype,
            *mut c_void,
            i64,
            sq_dtype,
            *mut c_void,
            *mut c_void,
        ) -> sq_status,
    >,
}

pub type sq_get_api_fn = unsafe extern "C" fn() -> *const sq_api_table;

extern "C" {
    pub fn sq_version() -> u32;
    pub fn sq_version_string() -> *const c_char;
    pub fn sq_status_string(status: sq_status) -> *const c_char;
    pub fn sq_last_error_message() -> *const c_char;

    pub fn sq_plan_select(
        stream: sq_stream,
        desc: *const sq_plan_desc,
        preference: sq_preference,
        plan: *mut sq_plan,
    ) -> sq_status;
    pub fn sq_plan_can_implement(plan: sq_plan, args: *const sq_run_args) -> sq_status;
    pub fn sq_plan_workspace_size(plan: sq_plan, bytes: *mut usize) -> sq_status;
    pub fn sq_plan_precision_guarantee(
        plan: sq_plan,
        guarantee: *mut sq_precision_guarantee,
    ) -> sq_status;
    pub fn sq_plan_get_info(plan: sq_plan, info: *mut sq_plan_info) -> sq_status;
    pub fn sq_plan_kernel_name(plan: sq_plan, m: i64, name: *mut *const c_char) -> sq_status;
    pub fn sq_plan_run(
        plan: sq_plan,
        stream: sq_stream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const sq_run_args,
    ) -> sq_status;
    pub fn sq_plan_destroy(plan: sq_plan) -> sq_status;

    pub fn sq_smooth_factors(
        k: i64,
        act_absmax: *const f32,
        weights: *const sq_matrix_view,
        num_weights: i32,
        alpha: f32,
        smooth_out: *mut f32,
    ) -> sq_status;
    pub fn sq_smooth_apply_to_norm(
        k: i64,
        smooth: *const f32,
        dtype: sq_dtype,
        norm_weight: *mut c_void,
        norm_bias: *mut c_void,
    ) -> sq_status;
    pub fn sq_smooth_apply_to_weight(
        k: i64,
        smooth: *const f32,
        dtype: sq_dtype,
        rows: i64,
        ld: i64,
        weight: *mut c_void,
    ) -> sq_status;
    pub fn sq_quantize_weight_per_channel(
        weight: *const sq_matrix_view,
        q_out: *mut i8,
        ld_q: i64,
        scale_dtype: sq_dtype,
        scale_out: *mut c_void,
    ) -> sq_status;
    pub fn sq_static_act_scale(
        k: i64,
        act_absmax: *const f32,
        smooth: *const f32,
        act_scale_out: *mut f64,
    ) -> sq_status;

    pub fn sq_weight_sums(weight_q: *const sq_matrix_view, sums_out: *mut i32) -> sq_status;
    pub fn sq_quantize_weight_per_channel_asymmetric(
        weight: *const sq_matrix_view,
        q_dtype: sq_dtype,
        q_out: *mut c_void,
        ld_q: i64,
        scale_dtype: sq_dtype,
        scale_out: *mut c_void,
        zero_point_out: *mut c_void,
    ) -> sq_status;

    pub fn sq_get_api() -> *const sq_api_table;
}
