//! `hdrcheck`: an independent check of `mpfilter::ndis` against mingw-w64's DDK headers.
//!
//! The Rust FFI and the emulator share one set of constants, so a wrong value is wrong on both
//! sides and no emulator test can see it. This tool compiles the headers with
//! `x86_64-w64-mingw32-gcc -S` (no Windows runtime needed), reads every size, offset and constant
//! back from the assembly, and compares each with the Rust value. It prints one line per item,
//! then what rests on documentation alone, and exits non-zero on any mismatch.
//!
//! `MINGW_GCC` overrides the compiler, `MINGW_INCLUDE` the include folder (the one holding `ddk/`).

mod asm;
mod cgen;
mod items;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hdrcheck: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let gcc = std::env::var("MINGW_GCC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into());
    let include = include_dir()?;
    let ddk = include.join("ddk");
    let ndis_dump = compile(&gcc, &ddk, &["-E", "-dM"], "#include <ndis.h>\n")?;
    let defines = cgen::simple_defines(&ndis_dump);
    let items = items::checked();
    let asm = compile(&gcc, &ddk, &["-S"], &cgen::source(&items, &defines))?;
    let values = asm::values(&asm);

    println!(
        "hdrcheck: {} items against {} ({gcc})",
        items.len(),
        ddk.display()
    );
    let (mut same, mut differ, mut absent) = (0, 0, Vec::new());
    for (i, item) in items.iter().enumerate() {
        match values.get(&cgen::symbol(i)) {
            Some(&c) if c == item.rust => {
                same += 1;
                println!("  ok        {:<72} {}", item.label, hex(c));
            }
            Some(&c) => {
                differ += 1;
                println!(
                    "  MISMATCH  {:<72} headers {}, Rust {}",
                    item.label,
                    hex(c),
                    hex(item.rust)
                );
            }
            None if item.guard.is_some() => absent.push(item),
            None => return Err(format!("{}: compiled but no value found", item.label)),
        }
    }
    println!("\nnot in mingw-w64 (rest on documentation, see docs/ndis-header-check.md):");
    for item in &absent {
        println!("  {:<72} Rust {}", item.label, hex(item.rust));
    }
    for (what, source) in items::DOCUMENTATION_ONLY {
        println!("  {what}\n      source: {source}");
    }
    println!(
        "\nhdrcheck: {same} match, {differ} differ, {} constants and {} structure groups not in mingw-w64",
        absent.len(),
        items::DOCUMENTATION_ONLY.len()
    );
    Ok(differ == 0)
}

/// Hex as the headers write it: a negative 32-bit status as its unsigned bit pattern.
fn hex(v: i64) -> String {
    match i32::try_from(v) {
        #[allow(clippy::cast_sign_loss)]
        Ok(n) if n < 0 => format!("{:#x}", n as u32),
        _ => format!("{v:#x}"),
    }
}

fn include_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("MINGW_INCLUDE") {
        return Ok(PathBuf::from(dir));
    }
    [
        "/usr/share/mingw-w64/include",
        "/usr/x86_64-w64-mingw32/include",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.join("ddk/ntddk.h").exists())
    .ok_or_else(|| {
        "mingw-w64 DDK headers not found: apt-get install mingw-w64-x86-64-dev gcc-mingw-w64-x86-64"
            .into()
    })
}

fn compile(gcc: &str, ddk: &Path, args: &[&str], source: &str) -> Result<String, String> {
    let mut child = Command::new(gcc)
        .args(args)
        // NDIS 6.20, the newest mingw-w64 knows (ntddndis.h hides NDIS 6 items otherwise).
        .args(["-DNDIS620=1", "-DNDIS_SUPPORT_NDIS6=1"])
        .arg("-I")
        .arg(ddk)
        .args(["-x", "c", "-o", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {gcc}: {e} (apt-get install gcc-mingw-w64-x86-64)"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{gcc} {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}
