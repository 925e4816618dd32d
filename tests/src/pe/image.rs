//! The in-process PE loader.

use crate::abi::{Export, resolve};
use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use std::fmt;
use std::ptr::NonNull;

const PAGE: usize = 0x1000;
const MACHINE_AMD64: u16 = 0x8664;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_READ: u32 = 0x4000_0000;
const SCN_MEM_WRITE: u32 = 0x8000_0000;
const REL_BASED_ABSOLUTE: u16 = 0;
const REL_BASED_DIR64: u16 = 10;

/// Why an image could not be loaded. Every variant names what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Not a PE32+ image, or a table in it is malformed.
    Malformed(String),
    /// A PE32+ image the loader does not support (machine, alignment, relocation type, W+X).
    Unsupported(String),
    /// Imports the emulator does not provide, as `dll!name`.
    MissingImports(Vec<String>),
    /// `mmap`/`mprotect` failed.
    Os(String),
    /// The file could not be read.
    Io(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed PE image: {m}"),
            Self::Unsupported(m) => write!(f, "unsupported PE image: {m}"),
            Self::MissingImports(names) => {
                write!(
                    f,
                    "imports the emulator does not provide: {}",
                    names.join(", ")
                )
            }
            Self::Os(m) => write!(f, "mapping the image failed: {m}"),
            Self::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LoadError {}

fn malformed(e: impl fmt::Display) -> LoadError {
    LoadError::Malformed(e.to_string())
}

/// A PE image mapped, relocated, bound and protected in this process. Unmapped on drop: nothing
/// may call into it after that (the emulator drops it only after the driver has unloaded).
pub struct LoadedImage {
    base: NonNull<u8>,
    size: usize,
    entry_rva: u32,
    exports: Vec<(String, u32)>,
}

impl fmt::Debug for LoadedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedImage")
            .field("base", &self.base)
            .field("size", &self.size)
            .field("entry_rva", &self.entry_rva)
            .finish_non_exhaustive()
    }
}

impl LoadedImage {
    /// Loads `file` (the bytes of a `.sys`), binding its imports against `tables`.
    ///
    /// # Errors
    /// See [`LoadError`]; a missing import fails the load and is named.
    pub fn load(file: &[u8], tables: &[&[Export]]) -> Result<Self, LoadError> {
        let pe = PeFile64::parse(file).map_err(malformed)?;
        let nt = pe.nt_headers();
        let machine = nt.file_header().machine.get(LE).0;
        if machine != MACHINE_AMD64 {
            return Err(LoadError::Unsupported(format!(
                "machine {machine:#06x}, not AMD64"
            )));
        }
        let oh = nt.optional_header();
        if oh.section_alignment() as usize != PAGE {
            return Err(LoadError::Unsupported(format!(
                "section alignment {:#x}, expected the page size",
                oh.section_alignment()
            )));
        }
        let size = (oh.size_of_image() as usize).div_ceil(PAGE) * PAGE;
        let headers = oh.size_of_headers() as usize;
        if size == 0 || headers > size || headers > file.len() {
            return Err(LoadError::Malformed(
                "bad SizeOfImage or SizeOfHeaders".into(),
            ));
        }
        let mut image = Self {
            base: map_anonymous(size)?,
            size,
            entry_rva: oh.address_of_entry_point(),
            exports: Vec::new(),
        };
        image.bytes_mut()[..headers].copy_from_slice(&file[..headers]);
        image.copy_sections(&pe, file)?;
        image.relocate(&pe, oh.image_base())?;
        image.bind_imports(&pe, tables)?;
        image.exports = read_exports(&pe)?;
        if image.entry_rva as usize >= size {
            return Err(LoadError::Malformed("entry point outside the image".into()));
        }
        image.protect(&pe)?;
        Ok(image)
    }

    /// The address the image was mapped at.
    pub fn base(&self) -> *const u8 {
        self.base.as_ptr()
    }

    /// The mapped size (SizeOfImage rounded up to pages).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The entry point (`AddressOfEntryPoint`), as an address in this process.
    pub fn entry(&self) -> *const () {
        self.at(self.entry_rva)
    }

    /// The address of a named export, if the image exports it.
    pub fn export(&self, name: &str) -> Option<*const ()> {
        self.exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, rva)| self.at(*rva))
    }

    /// Whether `address` lies inside the mapped image (e.g. a callback pointer the driver gave).
    pub fn contains(&self, address: *const ()) -> bool {
        let start = self.base.as_ptr() as usize;
        (start..start + self.size).contains(&(address as usize))
    }

    fn at(&self, rva: u32) -> *const () {
        self.base.as_ptr().wrapping_add(rva as usize).cast()
    }

    /// The whole mapping; only used before [`Self::protect`] while it is all read-write.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `base` is a private read-write mapping of `size` bytes owned by `self`, and
        // `&mut self` makes this the only reference to it.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.size) }
    }

    fn copy_sections(&mut self, pe: &PeFile64<'_>, file: &[u8]) -> Result<(), LoadError> {
        let size = self.size;
        for s in pe.section_table().iter() {
            let va = s.virtual_address.get(LE) as usize;
            let vsize = section_size(s);
            let raw_at = s.pointer_to_raw_data.get(LE) as usize;
            let raw_len = (s.size_of_raw_data.get(LE) as usize).min(vsize);
            let name = String::from_utf8_lossy(s.raw_name()).into_owned();
            if va.checked_add(vsize).is_none_or(|end| end > size) {
                return Err(LoadError::Malformed(format!(
                    "section {name} outside the image"
                )));
            }
            let raw = raw_at
                .checked_add(raw_len)
                .and_then(|end| file.get(raw_at..end))
                .ok_or_else(|| LoadError::Malformed(format!("section {name} outside the file")))?;
            // The rest of the section stays zero (the mapping is anonymous).
            self.bytes_mut()[va..va + raw_len].copy_from_slice(raw);
        }
        Ok(())
    }

    fn relocate(&mut self, pe: &PeFile64<'_>, preferred: u64) -> Result<(), LoadError> {
        let delta = (self.base.as_ptr() as u64).wrapping_sub(preferred);
        if delta != 0 && pe.nt_headers().file_header().characteristics.get(LE).0 & 1 != 0 {
            return Err(LoadError::Unsupported(
                "relocations stripped (RELOCS_STRIPPED)".into(),
            ));
        }
        // No .reloc at all is fine: the image holds no absolute address.
        let Some(mut blocks) = pe
            .data_directories()
            .relocation_blocks(pe.data(), &pe.section_table())
            .map_err(malformed)?
        else {
            return Ok(());
        };
        let size = self.size;
        while let Some(block) = blocks.next().map_err(malformed)? {
            for reloc in block {
                let at = reloc.virtual_address as usize;
                match reloc.typ.0 {
                    REL_BASED_ABSOLUTE => {}
                    REL_BASED_DIR64 if at + 8 <= size => {
                        let bytes = &mut self.bytes_mut()[at..at + 8];
                        let value = u64::from_le_bytes((&*bytes).try_into().expect("8 bytes"));
                        bytes.copy_from_slice(&value.wrapping_add(delta).to_le_bytes());
                    }
                    REL_BASED_DIR64 => {
                        return Err(LoadError::Malformed(format!(
                            "relocation at {at:#x} outside the image"
                        )));
                    }
                    other => {
                        return Err(LoadError::Unsupported(format!(
                            "relocation type {other} at {at:#x}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn bind_imports(&mut self, pe: &PeFile64<'_>, tables: &[&[Export]]) -> Result<(), LoadError> {
        let Some(table) = pe.import_table().map_err(malformed)? else {
            return Ok(());
        };
        let mut missing = Vec::new();
        let mut descriptors = table.descriptors().map_err(malformed)?;
        let size = self.size;
        while let Some(d) = descriptors.next().map_err(malformed)? {
            let dll = String::from_utf8_lossy(table.name(d.name.get(LE)).map_err(malformed)?)
                .into_owned();
            let iat = d.first_thunk.get(LE) as usize;
            let lookup = match d.original_first_thunk.get(LE) {
                0 => d.first_thunk.get(LE),
                rva => rva,
            };
            let mut thunks = table.thunks(lookup).map_err(malformed)?;
            let mut slot = iat;
            while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().map_err(malformed)? {
                let target = match table
                    .import::<pe::ImageNtHeaders64>(thunk)
                    .map_err(malformed)?
                {
                    object::read::pe::Import::Name(_, name) => {
                        let name = String::from_utf8_lossy(name);
                        resolve(tables, &dll, &name).ok_or_else(|| format!("{dll}!{name}"))
                    }
                    object::read::pe::Import::Ordinal(n) => Err(format!("{dll}!#{n}")),
                };
                match target {
                    Ok(address) if slot + 8 <= size => {
                        self.bytes_mut()[slot..slot + 8]
                            .copy_from_slice(&(address as u64).to_le_bytes());
                    }
                    Ok(_) => return Err(LoadError::Malformed("IAT outside the image".into())),
                    Err(name) => missing.push(name),
                }
                slot += 8;
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LoadError::MissingImports(missing))
        }
    }

    fn protect(&self, pe: &PeFile64<'_>) -> Result<(), LoadError> {
        let headers = pe.nt_headers().optional_header().size_of_headers() as usize;
        self.mprotect(0, headers.div_ceil(PAGE) * PAGE, libc::PROT_READ)?;
        for s in pe.section_table().iter() {
            let c = s.characteristics.get(LE).0;
            let name = String::from_utf8_lossy(s.raw_name()).into_owned();
            let prot = match (c & SCN_MEM_WRITE != 0, c & SCN_MEM_EXECUTE != 0) {
                (true, true) => {
                    return Err(LoadError::Unsupported(format!(
                        "section {name} is writable and executable"
                    )));
                }
                (false, true) => libc::PROT_READ | libc::PROT_EXEC,
                (true, false) => libc::PROT_READ | libc::PROT_WRITE,
                (false, false) if c & SCN_MEM_READ != 0 => libc::PROT_READ,
                (false, false) => libc::PROT_NONE,
            };
            let va = s.virtual_address.get(LE) as usize;
            let len = section_size(s).div_ceil(PAGE) * PAGE;
            self.mprotect(va, len.min(self.size - va), prot)?;
        }
        Ok(())
    }

    fn mprotect(&self, offset: usize, len: usize, prot: i32) -> Result<(), LoadError> {
        if len == 0 {
            return Ok(());
        }
        let start = self.base.as_ptr().wrapping_add(offset);
        // SAFETY: offset..offset+len is a page-aligned range inside this image's own mapping
        // (callers clamp to `size`); no Rust reference into the mapping is alive.
        let rc = unsafe { libc::mprotect(start.cast(), len, prot) };
        if rc == 0 {
            Ok(())
        } else {
            Err(LoadError::Os(format!(
                "mprotect: {}",
                std::io::Error::last_os_error()
            )))
        }
    }
}

impl Drop for LoadedImage {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `map_anonymous` with this size and is unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.size) };
    }
}

/// A section's size in memory (a VirtualSize of 0 means SizeOfRawData, as the NT loader reads it).
fn section_size(s: &pe::ImageSectionHeader) -> usize {
    match s.virtual_size.get(LE) {
        0 => s.size_of_raw_data.get(LE) as usize,
        v => v as usize,
    }
}

fn map_anonymous(size: usize) -> Result<NonNull<u8>, LoadError> {
    // SAFETY: a fresh private anonymous mapping; the kernel chooses the address.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(LoadError::Os(format!(
            "mmap: {}",
            std::io::Error::last_os_error()
        )));
    }
    NonNull::new(p.cast()).ok_or_else(|| LoadError::Os("mmap returned NULL".into()))
}

fn read_exports(pe: &PeFile64<'_>) -> Result<Vec<(String, u32)>, LoadError> {
    let Some(table) = pe.export_table().map_err(malformed)? else {
        return Ok(Vec::new());
    };
    Ok(table
        .exports()
        .map_err(malformed)?
        .into_iter()
        .filter_map(|e| match (e.name, e.target) {
            (Some(name), object::read::pe::ExportTarget::Address(rva)) => {
                Some((String::from_utf8_lossy(name).into_owned(), rva))
            }
            _ => None,
        })
        .collect())
}
