//! `pecheck <mpfilter.sys> [--allowlist <file>]`: validates a built driver image; exit status 0 if
//! every check passes, 1 if any fails, 2 on a usage or I/O error.

use std::process::ExitCode;

/// The allow-list kept beside this tool in the repository.
const DEFAULT_ALLOWLIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/allowlist.txt");

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("pecheck: {message}");
            eprintln!("usage: pecheck <path/to/mpfilter.sys> [--allowlist <file>]");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<bool, String> {
    let mut image_path = None;
    let mut allow_path = DEFAULT_ALLOWLIST.to_owned();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allowlist" => {
                allow_path = args.next().ok_or("--allowlist needs a file")?;
            }
            "-h" | "--help" => return Err("help".into()),
            _ if image_path.is_none() && !arg.starts_with('-') => image_path = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let image_path = image_path.ok_or("no image given")?;
    let image = std::fs::read(&image_path).map_err(|e| format!("cannot read {image_path}: {e}"))?;
    let allow_text = std::fs::read_to_string(&allow_path)
        .map_err(|e| format!("cannot read {allow_path}: {e}"))?;
    let allow = pecheck::AllowList::parse(&allow_text)?;
    let report = pecheck::check(&image, &allow);
    print!("{}", report.render(&image_path));
    Ok(report.ok())
}
