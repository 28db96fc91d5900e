//! Safe wrapper over libsmoothquant.
//!
//! * [`Plan`] owns an `sq_plan`; dropping it calls `sq_plan_destroy`.
//! * Every fallible call returns `Result<_, Error>`; an [`Error`] carries the library's
//!   status and its `sq_last_error_message()` text, read on the calling thread right after
//!   the failing call.
//! * Slice-based runs are offered for host plans only (GPU plans take device pointers,
//!   which need a CUDA binding; use [`Plan::raw`] with `smoothquant_sys` for those).
pub use smoothquant_sys as sys;

use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;
use std::ptr;

/// A failed call: the library's status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: sys::sq_status,
    message: String,
}

impl Error {
    /// The error of the call that just failed on this thread.
    fn last(status: sys::sq_status) -> Error {
        Error { status, message: unsafe { static_str(sys::sq_last_error_message()) }.to_string() }
    }

    /// An error found by this wrapper before calling the library.
    fn wrapper(status: sys::sq_status, message: String) -> Error {
        Error { status, message: format!("smoothquant (rust): {}", message) }
    }

    /// The `SQ_STATUS_*` value.
    pub fn status(&self) -> sys::sq_status {
        self.status
    }

    /// The status name, e.g. "SQ_STATUS_INVALID_ARGUMENT".
    pub fn status_name(&self) -> &'static str {
        unsafe { static_str(sys::sq_status_string(self.status)) }
    }

    /// What was wrong, and with which value.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status_name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn check(status: sys::sq_status) -> Result<()> {
    if status == sys::SQ_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(Error::last(status))
    }
}

/// A NUL-terminated string in the library's static storage (never null per the ABI).
unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    CStr::from_ptr(p).to_str().unwrap_or("<non-UTF-8 text from libsmoothquant>")
}

/// Version of the loaded library, as `SQ_VERSION_NUMBER` computes it.
pub fn version() -> u32 {
    unsafe { sys::sq_version() }
}

/// Version of the loaded library as "MAJOR.MINOR.PATCH".
pub fn version_string() -> &'static str {
    unsafe { static_str(sys::sq_version_string()) }
}

/// Which kernel family `Plan::select` may pick (never a silent fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    Fastest,
    HostReference,
    GpuPortable,
    GpuHopper,
}

impl Preference {
    fn raw(self) -> sys::sq_preference {
        match self {
            Preference::Fastest => sys::SQ_PREFERENCE_FASTEST,
            Preference::HostReference => sys::SQ_PREFERENCE_HOST_REFERENCE,
            Preference::GpuPortable => sys::SQ_PREFERENCE_GPU_PORTABLE,
            Preference::GpuHopper => sys::SQ_PREFERENCE_GPU_HOPPER,
        }
    }
}

/// A descriptor with every field zero except `struct_size`.
pub fn empty_desc() -> sys::sq_plan_desc {
    sys::sq_plan_desc {
        struct_size: std::mem::size_of::<sys::sq_plan_desc>() as u32,
        op: 0,
        act_dtype: sys::SQ_DTYPE_INVALID,
        weight_dtype: sys::SQ_DTYPE_INVALID,
        scale_dtype: sys::SQ_DTYPE_INVALID,
        out_dtype: sys::SQ_DTYPE_INVALID,
        n: 0,
        k: 0,
        max_m: 0,
        act_scale: 0.0,
        host_threads: 0,
        reserved: 0,
        quant_mode: sys::SQ_QUANT_DEFAULT,
        quant_dtype: sys::SQ_DTYPE_INVALID,
        act_zero_point: 0,
        flags: 0,
        eps: 0.0,
    }
}

/// Run arguments with every pointer null and every number zero except `struct_size`.
pub fn empty_args() -> sys::sq_run_args {
    sys::sq_run_args {
        struct_size: std::mem::size_of::<sys::sq_run_args>() as u32,
        reserved: 0,
        m: 0,
        act: ptr::null(),
        ld_act: 0,
        weight: ptr::null(),
        ld_weight: 0,
        weight_scale: ptr::null(),
        bias: ptr::null(),
        smooth: ptr::null(),
        act_scale_scratch: ptr::null_mut(),
        out: ptr::null_mut(),
        ld_out: 0,
        act_scale: ptr::null(),
        weight_zero_point: ptr::null(),
        weight_sums: ptr::null(),
        act_zero_point: ptr::null_mut(),
        act_sums: ptr::null_mut(),
        absmax: ptr::null_mut(),
        residual: ptr::null(),
        ld_residual: 0,
        residual_out: ptr::null_mut(),
        ld_residual_out: 0,
        norm_weight: ptr::null(),
    }
}

/// `sq_weight_sums` (0.2): the column sums a linear needs when its activations have zero points,
/// for a packed `rows` x `cols` weight of dtype S8 or U8 given as its bytes.
pub fn weight_sums(weight_q: &[u8], rows: i64, cols: i64, dtype: sys::sq_dtype) -> Result<Vec<i32>> {
    if rows < 1 || cols < 1 || weight_q.len() as i64 != rows * cols {
        return Err(Error::wrapper(
            sys::SQ_STATUS_INVALID_ARGUMENT,
            format!("weight_q has {} bytes, expected {} x {}", weight_q.len(), rows, cols),
        ));
    }
    let view = sys::sq_matrix_view {
        struct_size: std::mem::size_of::<sys::sq_matrix_view>() as u32,
        dtype,
        rows,
        cols,
        ld: 0,
        data: weight_q.as_ptr() as *const _,
    };
    let mut sums = vec![0i32; rows as usize];
    check(unsafe { sys::sq_weight_sums(&view, sums.as_mut_ptr()) })?;
    Ok(sums)
}

/// Descriptor of SQ_OP_SMOOTHQUANT_LINEAR with f32 scales and outputs.
pub fn smoothquant_linear_f32_desc(n: i64, k: i64, max_m: i64, act_scale: f64) -> sys::sq_plan_desc {
    let mut desc = empty_desc();
    desc.op = sys::SQ_OP_SMOOTHQUANT_LINEAR;
    desc.act_dtype = sys::SQ_DTYPE_S8;
    desc.weight_dtype = sys::SQ_DTYPE_S8;
    desc.scale_dtype = sys::SQ_DTYPE_F32;
    desc.out_dtype = sys::SQ_DTYPE_F32;
    desc.n = n;
    desc.k = k;
    desc.max_m = max_m;
    desc.act_scale = act_scale;
    desc
}

/// An immutable plan. Runs may happen from many threads at once (the ABI allows it).
#[derive(Debug)]
pub struct Plan {
    raw: sys::sq_plan,
    desc: sys::sq_plan_desc,
    family: sys::sq_kernel_family,
}

// The library documents plans as immutable after select and safe to run concurrently.
unsafe impl Send for Plan {}
unsafe impl Sync for Plan {}

impl Plan {
    /// `sq_plan_select` on the default stream (`desc.struct_size` is set here).
    pub fn select(desc: &sys::sq_plan_desc, preference: Preference) -> Result<Plan> {
        let mut desc = *desc;
        desc.struct_size = std::mem::size_of::<sys::sq_plan_desc>() as u32;
        let mut raw: sys::sq_plan = ptr::null_mut();
        check(unsafe { sys::sq_plan_select(ptr::null_mut(), &desc, preference.raw(), &mut raw) })?;
        // Owned from here on: an error below drops (destroys) it.
        let mut plan = Plan { raw, desc, family: 0 };
        plan.family = plan.info()?.family;
        Ok(plan)
    }

    /// The raw handle, still owned by this `Plan`.
    pub fn raw(&self) -> sys::sq_plan {
        self.raw
    }

    /// The descriptor the plan was selected with.
    pub fn desc(&self) -> &sys::sq_plan_desc {
        &self.desc
    }

    pub fn info(&self) -> Result<sys::sq_plan_info> {
        let mut info = sys::sq_plan_info {
            struct_size: std::mem::size_of::<sys::sq_plan_info>() as u32,
            family: 0,
            op: 0,
            device: 0,
            sm_version: 0,
            reserved: 0,
            n: 0,
            k: 0,
            max_m: 0,
        };
        check(unsafe { sys::sq_plan_get_info(self.raw, &mut info) })?;
        Ok(info)
    }

    pub fn precision_guarantee(&self) -> Result<sys::sq_precision_guarantee> {
        let mut g = sys::sq_precision_guarantee {
            struct_size: std::mem::size_of::<sys::sq_precision_guarantee>() as u32,
            bit_exact_with_host: 0,
            deterministic: 0,
            exact_accumulation: 0,
            accumulate_dtype: 0,
            epilogue_dtype: 0,
            max_k: 0,
        };
        check(unsafe { sys::sq_plan_precision_guarantee(self.raw, &mut g) })?;
        Ok(g)
    }

    pub fn workspace_size(&self) -> Result<usize> {
        let mut bytes = 0usize;
        check(unsafe { sys::sq_plan_workspace_size(self.raw, &mut bytes) })?;
        Ok(bytes)
    }

    /// The name of the kernel run for `m` rows (static storage in the library).
    pub fn kernel_name(&self, m: i64) -> Result<&'static str> {
        let mut name: *const c_char = ptr::null();
        check(unsafe { sys::sq_plan_kernel_name(self.raw, m, &mut name) })?;
        Ok(unsafe { static_str(name) })
    }

    /// SQ_OP_SMOOTHQUANT_LINEAR with f32 scales/outputs on a host plan, packed row-major:
    /// act [m, k], weight [n, k], weight_scale [n], bias [n], act_scale_scratch [m], out [m, n].
    #[allow(clippy::too_many_arguments)]
    pub fn run_linear_f32(
        &self,
        m: i64,
        act: &[i8],
        weight: &[i8],
        weight_scale: &[f32],
        bias: Option<&[f32]>,
        act_scale_scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<()> {
        let d = &self.desc;
        if self.family != sys::SQ_KERNEL_FAMILY_HOST {
            return Err(Error::wrapper(
                sys::SQ_STATUS_WRONG_MEMORY_SPACE,
                "slice runs need a host plan (Preference::HostReference)".to_string(),
            ));
        }
        if d.op != sys::SQ_OP_SMOOTHQUANT_LINEAR || d.out_dtype != sys::SQ_DTYPE_F32 {
            return Err(Error::wrapper(
                sys::SQ_STATUS_INVALID_ARGUMENT,
                format!("run_linear_f32 on a plan with op {} and out_dtype {}", d.op, d.out_dtype),
            ));
        }
        if m < 1 || m > d.max_m {
            return Err(Error::wrapper(
                sys::SQ_STATUS_INVALID_ARGUMENT,
                format!("m = {} is outside 1..={}", m, d.max_m),
            ));
        }
        let (mu, nu, ku) = (m as usize, d.n as usize, d.k as usize);
        let lengths = [
            ("act", act.len(), mu * ku),
            ("weight", weight.len(), nu * ku),
            ("weight_scale", weight_scale.len(), nu),
            ("bias", bias.map_or(nu, |b| b.len()), nu),
            ("act_scale_scratch", act_scale_scratch.len(), mu),
            ("out", out.len(), mu * nu),
        ];
        for &(name, got, want) in lengths.iter() {
            if got != want {
                return Err(Error::wrapper(
                    sys::SQ_STATUS_INVALID_ARGUMENT,
                    format!("{} has {} elements, expected {}", name, got, want),
                ));
            }
        }
        let mut args = empty_args();
        args.m = m;
        args.act = act.as_ptr() as *const _;
        args.weight = weight.as_ptr() as *const _;
        args.weight_scale = weight_scale.as_ptr() as *const _;
        args.bias = bias.map_or(ptr::null(), |b| b.as_ptr() as *const _);
        args.act_scale_scratch = act_scale_scratch.as_mut_ptr() as *mut _;
        args.out = out.as_mut_ptr() as *mut _;
        check(unsafe { sys::sq_plan_run(self.raw, ptr::null_mut(), ptr::null_mut(), 0, &args) })
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // Cannot fail for a plan this wrapper owns; a status here would be a library bug.
        let status = unsafe { sys::sq_plan_destroy(self.raw) };
        debug_assert_eq!(status, sys::SQ_STATUS_SUCCESS);
    }
}
