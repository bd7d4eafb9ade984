//! Links libconvt as pkg-config describes it: `pkg-config --libs convt`, with the
//! environment's PKG_CONFIG (the program) and PKG_CONFIG_PATH (where convt.pc is).
//! No crates: the output is parsed here.
use std::env;
use std::process::Command;

fn main() {
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = match Command::new(&program).args(["--libs", "convt"]).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "could not run `{} --libs convt` ({}): install pkg-config, or set PKG_CONFIG",
            program, e
        ),
    };
    if !output.status.success() {
        panic!(
            "`{} --libs convt` failed: {}\nInstall libconvt, or set PKG_CONFIG_PATH to the \
             directory holding convt.pc (<prefix>/lib/pkgconfig).",
            program,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let libs = String::from_utf8(output.stdout).expect("pkg-config printed UTF-8");
    let mut linked = false;
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", dir);
            // For dependants' build scripts (DEP_CONVT_LIBDIR), as `links` crates do.
            println!("cargo:libdir={}", dir);
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", lib);
            linked |= lib == "convt";
        }
    }
    if !linked {
        panic!(
            "`{} --libs convt` did not name -lconvt: {}",
            program,
            libs.trim()
        );
    }
}
