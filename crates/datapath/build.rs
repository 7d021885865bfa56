use std::env;
use std::ffi::OsString;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

// The BPF source lives at the repository top level (bpf/), next to its README.
const SRC: &str = "../../bpf/xskd.bpf.c";

fn main() {
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR set by cargo")).join("xskd.skel.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("target arch set by cargo");
    // clang -target bpf does not search the multiarch include directory, where
    // Debian keeps <asm/types.h>.
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        other => {
            panic!("unsupported target arch {other}: add its multiarch include dir in build.rs")
        }
    };
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([
            OsString::from(format!("-I/usr/include/{multiarch}")),
            OsString::from("-O2"),
        ])
        .build_and_generate(&out)
        .unwrap_or_else(|e| {
            panic!(
                "building {SRC} failed (is clang installed? the README commands install it): {e:#}"
            )
        });
    println!("cargo:rerun-if-changed={SRC}");
}
