// Finds the installed libsmoothquant and links it (no crates: runs pkg-config itself).
//   SMOOTHQUANT_LIB_DIR=<dir>   use this directory (skips pkg-config)
//   otherwise                   `pkg-config --libs-only-L smoothquant` (honours PKG_CONFIG_PATH;
//                               PKG_CONFIG names another pkg-config binary)
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SMOOTHQUANT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");

    let lib_dirs: Vec<String> = match env::var("SMOOTHQUANT_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => vec![dir],
        _ => pkg_config_lib_dirs(),
    };
    for dir in &lib_dirs {
        println!("cargo:rustc-link-search=native={}", dir);
    }
    if let Some(dir) = lib_dirs.first() {
        // Exposed to dependents as DEP_SMOOTHQUANT_LIB_DIR.
        println!("cargo:lib_dir={}", dir);
    }
    println!("cargo:rustc-link-lib=dylib=smoothquant");
}

fn pkg_config_lib_dirs() -> Vec<String> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = match Command::new(&pkg_config)
        .args(&["--libs-only-L", "smoothquant"])
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!(
            "smoothquant-sys: cannot run `{}` ({}); install pkg-config or set SMOOTHQUANT_LIB_DIR",
            pkg_config, e
        ),
    };
    if !output.status.success() {
        panic!(
            "smoothquant-sys: `{} --libs-only-L smoothquant` failed: {}\n\
             install libsmoothquant-dev, set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig, \
             or set SMOOTHQUANT_LIB_DIR",
            pkg_config,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(|dir| dir.to_string())
        .collect()
}
