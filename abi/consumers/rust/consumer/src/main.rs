//! Runs one small SmoothQuant linear layer on the host kernel through the safe wrapper and
//! checks every output bit (small integer inputs, power-of-two-friendly scales: the
//! contract's formula is exact in f32, so the expected values are computed exactly here).
//! `sq-rust-consumer --layout` prints the #[repr(C)] layouts of smoothquant-sys instead.
use smoothquant::{sys, Plan, Preference};
use std::process::exit;

const M: usize = 3;
const N: usize = 5;
const K: usize = 24;
const ACT_SCALE: f64 = 0.5;

fn act_value(m: usize, k: usize) -> i8 {
    (((m * K + k) * 7) % 17) as i8 - 8
}
fn weight_value(n: usize, k: usize) -> i8 {
    ((n * 5 + k * 3) % 13) as i8 - 6
}
fn weight_scale_value(n: usize) -> f32 {
    0.25 * (n + 1) as f32
}
fn bias_value(n: usize) -> f32 {
    n as f32 - 1.5
}

macro_rules! layout {
    ($t:ident { $($f:ident),* }) => {{
        println!("{} size {} align {}", stringify!($t),
                 std::mem::size_of::<sys::$t>(), std::mem::align_of::<sys::$t>());
        let u = std::mem::MaybeUninit::<sys::$t>::uninit();
        let base = u.as_ptr();
        $(
            let field = unsafe { std::ptr::addr_of!((*base).$f) };
            println!("{}.{} {}", stringify!($t), stringify!($f), field as usize - base as usize);
        )*
    }};
}

fn print_layout() {
    println!("SQ_PLAN_DESC_SIZE_0_1 {} SQ_RUN_ARGS_SIZE_0_1 {}", sys::SQ_PLAN_DESC_SIZE_0_1,
             sys::SQ_RUN_ARGS_SIZE_0_1);
    layout!(sq_plan_desc { struct_size, op, act_dtype, weight_dtype, scale_dtype, out_dtype,
                           n, k, max_m, act_scale, host_threads, reserved, quant_mode, quant_dtype,
                           act_zero_point, flags, eps });
    layout!(sq_run_args { struct_size, reserved, m, act, ld_act, weight, ld_weight, weight_scale,
                          bias, smooth, act_scale_scratch, out, ld_out, act_scale, weight_zero_point,
                          weight_sums, act_zero_point, act_sums, absmax, residual, ld_residual,
                          residual_out, ld_residual_out, norm_weight });
    layout!(sq_precision_guarantee { struct_size, bit_exact_with_host, deterministic,
                                     exact_accumulation, accumulate_dtype, epilogue_dtype, max_k });
    layout!(sq_plan_info { struct_size, family, op, device, sm_version, reserved, n, k, max_m });
    layout!(sq_matrix_view { struct_size, dtype, rows, cols, ld, data });
    layout!(sq_api_table { struct_size, api_version, version, version_string, status_string,
                           last_error_message, plan_select, plan_can_implement,
                           plan_workspace_size, plan_precision_guarantee, plan_get_info,
                           plan_kernel_name, plan_run, plan_destroy, smooth_factors,
                           smooth_apply_to_norm, smooth_apply_to_weight,
                           quantize_weight_per_channel, static_act_scale, weight_sums,
                           quantize_weight_per_channel_asymmetric });
}

fn run() -> Result<(), String> {
    let header = format!("{}.{}.{}", sys::SQ_VERSION_MAJOR, sys::SQ_VERSION_MINOR,
                         sys::SQ_VERSION_PATCH);
    if smoothquant::version() != sys::SQ_VERSION_NUMBER || smoothquant::version_string() != header {
        return Err(format!("library {} ({}), bindings {}", smoothquant::version_string(),
                           smoothquant::version(), header));
    }

    // Error path: k = 0 is rejected with the library's status and message.
    match Plan::select(&smoothquant::smoothquant_linear_f32_desc(N as i64, 0, M as i64, ACT_SCALE),
                       Preference::HostReference) {
        Ok(_) => return Err("select accepted k = 0".to_string()),
        Err(e) => {
            if e.status() != sys::SQ_STATUS_INVALID_ARGUMENT || e.message().is_empty() {
                return Err(format!("k = 0 gave {} (expected SQ_STATUS_INVALID_ARGUMENT with a message)", e));
            }
        }
    }

    let desc = smoothquant::smoothquant_linear_f32_desc(N as i64, K as i64, M as i64, ACT_SCALE);
    let plan = Plan::select(&desc, Preference::HostReference).map_err(|e| e.to_string())?;
    let info = plan.info().map_err(|e| e.to_string())?;
    if info.family != sys::SQ_KERNEL_FAMILY_HOST || info.n != N as i64 || info.k != K as i64 {
        return Err(format!("unexpected plan info {:?}", info));
    }
    let kernel = plan.kernel_name(M as i64).map_err(|e| e.to_string())?;
    if kernel.is_empty() {
        return Err("empty kernel name".to_string());
    }
    if plan.workspace_size().map_err(|e| e.to_string())? != 0 {
        return Err("SMOOTHQUANT_LINEAR asked for a workspace".to_string());
    }

    let mut act = vec![0i8; M * K];
    let mut weight = vec![0i8; N * K];
    for m in 0..M {
        for k in 0..K {
            act[m * K + k] = act_value(m, k);
        }
    }
    for n in 0..N {
        for k in 0..K {
            weight[n * K + k] = weight_value(n, k);
        }
    }
    let weight_scale: Vec<f32> = (0..N).map(weight_scale_value).collect();
    let bias: Vec<f32> = (0..N).map(bias_value).collect();
    let mut scratch = vec![f32::NAN; M];
    let mut out = vec![f32::NAN; M * N]; // poison: unwritten elements fail

    // The wrapper checks slice lengths before calling the library.
    match plan.run_linear_f32(M as i64, &act[1..], &weight, &weight_scale, Some(&bias),
                              &mut scratch, &mut out) {
        Err(ref e) if e.status() == sys::SQ_STATUS_INVALID_ARGUMENT => {}
        other => return Err(format!("a short act slice gave {:?}", other)),
    }

    plan.run_linear_f32(M as i64, &act, &weight, &weight_scale, Some(&bias), &mut scratch, &mut out)
        .map_err(|e| e.to_string())?;

    for m in 0..M {
        if scratch[m] != ACT_SCALE as f32 {
            return Err(format!("act_scale_scratch[{}] = {}", m, scratch[m]));
        }
        for n in 0..N {
            let acc: i64 = (0..K).map(|k| act_value(m, k) as i64 * weight_value(n, k) as i64).sum();
            let expected =
                acc as f64 * ACT_SCALE * weight_scale_value(n) as f64 + bias_value(n) as f64;
            let got = out[m * N + n];
            if expected as f32 as f64 != expected || got != expected as f32 {
                return Err(format!("out[{},{}] = {}, expected {}", m, n, got, expected));
            }
        }
    }
    drop(plan); // sq_plan_destroy

    // A 0.1 caller's structs (struct_size of 0.1): the new fields are not read, the run is the same.
    let mut old_desc = desc;
    old_desc.struct_size = sys::SQ_PLAN_DESC_SIZE_0_1;
    old_desc.flags = 0xdead; // past the 0.1 size: never read
    let mut raw: sys::sq_plan = std::ptr::null_mut();
    let st = unsafe {
        sys::sq_plan_select(std::ptr::null_mut(), &old_desc, sys::SQ_PREFERENCE_HOST_REFERENCE, &mut raw)
    };
    if st != sys::SQ_STATUS_SUCCESS {
        return Err(format!("a 0.1-size descriptor was refused (status {})", st));
    }
    let mut out01 = vec![f32::NAN; M * N];
    let mut scratch01 = vec![f32::NAN; M];
    let mut args = smoothquant::empty_args();
    args.struct_size = sys::SQ_RUN_ARGS_SIZE_0_1;
    args.m = M as i64;
    args.act = act.as_ptr() as *const _;
    args.weight = weight.as_ptr() as *const _;
    args.weight_scale = weight_scale.as_ptr() as *const _;
    args.bias = bias.as_ptr() as *const _;
    args.act_scale_scratch = scratch01.as_mut_ptr() as *mut _;
    args.out = out01.as_mut_ptr() as *mut _;
    args.norm_weight = 1 as *const _; // past the 0.1 size: never read
    let st = unsafe { sys::sq_plan_run(raw, std::ptr::null_mut(), std::ptr::null_mut(), 0, &args) };
    unsafe { sys::sq_plan_destroy(raw) };
    if st != sys::SQ_STATUS_SUCCESS || out01 != out || scratch01 != scratch {
        return Err(format!("a 0.1-size run gave status {} or other outputs", st));
    }

    // 0.2: the function table's version 2 members, and the column sums of a U8 weight.
    let table = unsafe { &*sys::sq_get_api() };
    if table.api_version < 2 || table.weight_sums.is_none()
        || table.quantize_weight_per_channel_asymmetric.is_none() {
        return Err(format!("function table v{} lacks version 2's members", table.api_version));
    }
    let wq: [u8; 6] = [0, 255, 7, 128, 1, 2];
    let sums = smoothquant::weight_sums(&wq, 2, 3, sys::SQ_DTYPE_U8).map_err(|e| e.to_string())?;
    if sums != vec![262, 131] {
        return Err(format!("weight_sums gave {:?}", sums));
    }
    println!("rust consumer: libsmoothquant {}, {}x{} outputs exact on the host kernel ({})",
             smoothquant::version_string(), M, N, kernel);
    Ok(())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--layout") {
        print_layout();
        return;
    }
    if let Err(message) = run() {
        eprintln!("rust consumer: FAILED: {}", message);
        exit(1);
    }
}
