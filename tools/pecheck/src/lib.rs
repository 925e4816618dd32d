//! `pecheck`: validates a built `mpfilter.sys` the way a careful reviewer would before it goes near a
//! Windows machine: machine, subsystem, entry point, DLL characteristics, imports against an
//! allow-list, section permissions and the image checksum.
//!
//! [`check`] returns a [`Report`] with every finding (a failed check never hides the others);
//! the binary prints it and exits non-zero on any failure.

pub mod checksum;
pub mod image;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use std::fmt::Write as _;

/// The DLLs a kernel driver may import from.
pub const ALLOWED_DLLS: &[&str] = &["ntoskrnl.exe", "ndis.sys", "hal.dll"];

const MACHINE_AMD64: u16 = 0x8664;
const SUBSYSTEM_NATIVE: u16 = 1;
const DLL_DYNAMIC_BASE: u16 = 0x0040;
const DLL_FORCE_INTEGRITY: u16 = 0x0080;
const DLL_NX_COMPAT: u16 = 0x0100;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_WRITE: u32 = 0x8000_0000;
const FILE_RELOCS_STRIPPED: u16 = 0x0001;

/// The import names a driver may use, one `dll!name` per line (`#` starts a comment).
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    entries: Vec<(String, String)>,
}

impl AllowList {
    /// Parses the allow-list text.
    ///
    /// # Errors
    /// A line without `!`, named by its number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (dll, name) = line.split_once('!').ok_or_else(|| {
                format!("allow-list line {}: expected dll!name, got {line:?}", n + 1)
            })?;
            entries.push((dll.trim().to_ascii_lowercase(), name.trim().to_owned()));
        }
        Ok(Self { entries })
    }

    /// Whether `dll!name` is allowed (DLL compared case-insensitively, names exactly).
    pub fn allows(&self, dll: &str, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(d, n)| d.eq_ignore_ascii_case(dll) && n == name)
    }
}

/// One imported function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The DLL, as the image names it.
    pub dll: String,
    /// The function name (`#n` for an import by ordinal).
    pub name: String,
}

/// The outcome of [`check`].
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// File size in bytes.
    pub size: usize,
    /// Every import, in image order.
    pub imports: Vec<Import>,
    /// Sections as `name rwx-flags virtual-size`.
    pub sections: Vec<String>,
    /// The checks that passed, one line each.
    pub passed: Vec<String>,
    /// The checks that failed, each naming what is wrong.
    pub failures: Vec<String>,
}

impl Report {
    /// No check failed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// A human-readable rendering: size, sections, imports, then every check.
    pub fn render(&self, path: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{path}: {} bytes", self.size);
        let _ = writeln!(s, "sections ({}):", self.sections.len());
        for section in &self.sections {
            let _ = writeln!(s, "  {section}");
        }
        let _ = writeln!(s, "imports ({}):", self.imports.len());
        for i in &self.imports {
            let _ = writeln!(s, "  {}!{}", i.dll, i.name);
        }
        for p in &self.passed {
            let _ = writeln!(s, "ok:   {p}");
        }
        for f in &self.failures {
            let _ = writeln!(s, "FAIL: {f}");
        }
        let verdict = if self.ok() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            s,
            "{verdict}: {} checks passed, {} failed",
            self.passed.len(),
            self.failures.len()
        );
        s
    }

    fn expect(&mut self, ok: bool, pass: String, fail: String) {
        if ok {
            self.passed.push(pass);
        } else {
            self.failures.push(fail);
        }
    }
}

/// Checks a PE image. Unparseable input is a failure, never a panic.
pub fn check(image: &[u8], allow: &AllowList) -> Report {
    let mut report = Report {
        size: image.len(),
        ..Report::default()
    };
    let pe = match PeFile64::parse(image) {
        Ok(pe) => pe,
        Err(e) => {
            report.failures.push(format!("not a PE32+ image: {e}"));
            return report;
        }
    };
    let nt = pe.nt_headers();
    let fh = nt.file_header();
    let oh = nt.optional_header();

    let machine = fh.machine.get(LE).0;
    report.expect(
        machine == MACHINE_AMD64,
        "machine AMD64".into(),
        format!("machine is {machine:#06x}, expected AMD64 (0x8664)"),
    );
    let subsystem = oh.subsystem().0;
    report.expect(
        subsystem == SUBSYSTEM_NATIVE,
        "subsystem NATIVE".into(),
        format!("subsystem is {subsystem}, expected NATIVE (1)"),
    );
    check_entry(&pe, oh.address_of_entry_point(), &mut report);
    check_dll_characteristics(oh.dll_characteristics().0, &mut report);
    check_relocations(&pe, fh.characteristics.get(LE).0, &mut report);
    check_sections(&pe, &mut report);
    check_imports(&pe, allow, &mut report);

    let recorded = checksum::recorded(image).unwrap_or(0);
    let computed = checksum::compute(image).unwrap_or(0);
    report.expect(
        recorded != 0 && recorded == computed,
        format!("checksum {recorded:#010x}"),
        format!("checksum in header is {recorded:#010x}, computed {computed:#010x}"),
    );
    report
}

fn check_entry(pe: &PeFile64<'_>, entry: u32, report: &mut Report) {
    let exported = pe.export_table().ok().flatten().and_then(|table| {
        table
            .exports()
            .ok()?
            .into_iter()
            .find_map(|e| match e.target {
                object::read::pe::ExportTarget::Address(rva) if e.name == Some(b"DriverEntry") => {
                    Some(rva)
                }
                _ => None,
            })
    });
    match exported {
        Some(rva) => report.expect(
            rva == entry,
            format!("entry point {entry:#x} = exported DriverEntry"),
            format!("entry point {entry:#x} is not the exported DriverEntry ({rva:#x})"),
        ),
        None => report
            .failures
            .push("DriverEntry is not exported".to_owned()),
    }
}

fn check_dll_characteristics(flags: u16, report: &mut Report) {
    for (bit, name) in [
        (DLL_NX_COMPAT, "NX_COMPAT"),
        (DLL_DYNAMIC_BASE, "DYNAMIC_BASE"),
        (DLL_FORCE_INTEGRITY, "FORCE_INTEGRITY"),
    ] {
        report.expect(
            flags & bit != 0,
            format!("DllCharacteristics has {name}"),
            format!("DllCharacteristics {flags:#06x} lacks {name}"),
        );
    }
}

fn check_relocations(pe: &PeFile64<'_>, file_flags: u16, report: &mut Report) {
    // A linker writes no .reloc when the code holds no absolute address (all RIP-relative, as
    // rust-lld's output usually is); such an image loads at any base. What makes an image
    // unrelocatable is RELOCS_STRIPPED.
    let relocations = pe
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC)
        .map_or(0, |d| d.size.get(LE));
    report.expect(
        file_flags & FILE_RELOCS_STRIPPED == 0,
        if relocations == 0 {
            "relocatable (RELOCS_STRIPPED clear; position-independent, no .reloc needed)".into()
        } else {
            format!("relocatable (RELOCS_STRIPPED clear; {relocations} bytes of base relocations)")
        },
        "RELOCS_STRIPPED is set: the kernel could not load the driver at another base".into(),
    );
}

fn check_sections(pe: &PeFile64<'_>, report: &mut Report) {
    let mut wx = Vec::new();
    for s in pe.section_table().iter() {
        let name = String::from_utf8_lossy(s.raw_name()).into_owned();
        let c = s.characteristics.get(LE).0;
        let perms: String = [
            (0x4000_0000, 'r'),
            (SCN_MEM_WRITE, 'w'),
            (SCN_MEM_EXECUTE, 'x'),
        ]
        .iter()
        .map(|(bit, ch)| if c & bit != 0 { *ch } else { '-' })
        .collect();
        report
            .sections
            .push(format!("{name:<8} {perms} {:#x}", s.virtual_size.get(LE)));
        if c & SCN_MEM_WRITE != 0 && c & SCN_MEM_EXECUTE != 0 {
            wx.push(name);
        }
    }
    report.expect(
        wx.is_empty(),
        "no section is both writable and executable".into(),
        format!("writable and executable section(s): {}", wx.join(", ")),
    );
}

fn check_imports(pe: &PeFile64<'_>, allow: &AllowList, report: &mut Report) {
    let imports = match read_imports(pe) {
        Ok(imports) => imports,
        Err(e) => {
            report
                .failures
                .push(format!("import table unreadable: {e}"));
            return;
        }
    };
    let bad_dlls: Vec<String> = imports
        .iter()
        .filter(|i| !ALLOWED_DLLS.iter().any(|d| d.eq_ignore_ascii_case(&i.dll)))
        .map(|i| format!("{}!{}", i.dll, i.name))
        .collect();
    report.expect(
        bad_dlls.is_empty(),
        format!("imports only from {}", ALLOWED_DLLS.join(", ")),
        format!(
            "import from a DLL a driver may not use: {}",
            bad_dlls.join(", ")
        ),
    );
    let unlisted: Vec<String> = imports
        .iter()
        .filter(|i| !allow.allows(&i.dll, &i.name))
        .map(|i| format!("{}!{}", i.dll, i.name))
        .collect();
    report.expect(
        unlisted.is_empty(),
        format!("all {} imports are on the allow-list", imports.len()),
        format!("import(s) not on the allow-list: {}", unlisted.join(", ")),
    );
    report.imports = imports;
}

/// The image's imports, in order. Imports by ordinal are named `#n`.
///
/// # Errors
/// A malformed import directory.
pub fn read_imports(pe: &PeFile64<'_>) -> object::Result<Vec<Import>> {
    let mut out = Vec::new();
    let Some(table) = pe.import_table()? else {
        return Ok(out);
    };
    let mut descriptors = table.descriptors()?;
    while let Some(d) = descriptors.next()? {
        let dll = String::from_utf8_lossy(table.name(d.name.get(LE))?).into_owned();
        let lookup = match d.original_first_thunk.get(LE) {
            0 => d.first_thunk.get(LE),
            rva => rva,
        };
        let mut thunks = table.thunks(lookup)?;
        while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>()? {
            let name = match table.import::<pe::ImageNtHeaders64>(thunk)? {
                object::read::pe::Import::Name(_, name) => {
                    String::from_utf8_lossy(name).into_owned()
                }
                object::read::pe::Import::Ordinal(n) => format!("#{n}"),
            };
            out.push(Import {
                dll: dll.clone(),
                name,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
