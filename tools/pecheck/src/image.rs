//! A minimal PE32+ writer for tests: builds small driver-shaped images (code, data, imports,
//! exports, base relocations) so that the checker and the emulator's PE loader can be tested on
//! inputs whose every byte is known, without a prebuilt `.sys`.

use crate::checksum;

/// RVA of `.text` (the only code section).
pub const TEXT_RVA: u32 = 0x1000;
/// RVA of `.rdata` (import and export tables; the IAT starts here).
pub const RDATA_RVA: u32 = 0x2000;
/// RVA of `.data` (writable).
pub const DATA_RVA: u32 = 0x3000;
/// RVA of `.reloc`.
pub const RELOC_RVA: u32 = 0x4000;
/// The preferred base the builder links for (a loader must relocate away from it).
pub const IMAGE_BASE: u64 = 0x1_4000_0000;

const FILE_ALIGNMENT: usize = 0x200;
const SECTION_ALIGNMENT: u32 = 0x1000;
const NT_OFFSET: usize = 0x40;
const OPTIONAL_OFFSET: usize = NT_OFFSET + 4 + 20;
const OPTIONAL_SIZE: usize = 240;
/// File offset of the first section header.
pub const SECTION_TABLE_OFFSET: usize = OPTIONAL_OFFSET + OPTIONAL_SIZE;
/// File offset of `OptionalHeader.DllCharacteristics`.
pub const DLL_CHARACTERISTICS_OFFSET: usize = OPTIONAL_OFFSET + 70;
/// File offset of `OptionalHeader.Subsystem`.
pub const SUBSYSTEM_OFFSET: usize = OPTIONAL_OFFSET + 68;
/// File offset of `OptionalHeader.AddressOfEntryPoint`.
pub const ENTRY_OFFSET: usize = OPTIONAL_OFFSET + 16;
/// File offset of `FileHeader.Machine`.
pub const MACHINE_OFFSET: usize = NT_OFFSET + 4;
const HEADERS_SIZE: usize = 0x400;

/// File offset of the `index`th section header (0 `.text`, 1 `.rdata`, 2 `.data`, 3 `.reloc`).
pub const fn section_header_offset(index: usize) -> usize {
    SECTION_TABLE_OFFSET + 40 * index
}

/// A data directory entry: (rva, size).
type Directory = (u32, u32);

/// Describes a small PE32+ image; [`ImageBuilder::build`] lays it out.
#[derive(Clone, Debug)]
pub struct ImageBuilder {
    code: Vec<u8>,
    data: Vec<u8>,
    imports: Vec<(String, Vec<String>)>,
    exports: Vec<(String, u32)>,
    relocs: Vec<u32>,
    entry: u32,
    /// `FileHeader.Machine`.
    pub machine: u16,
    /// `OptionalHeader.Subsystem`.
    pub subsystem: u16,
    /// `OptionalHeader.DllCharacteristics`.
    pub dll_characteristics: u16,
}

impl ImageBuilder {
    /// A well-formed driver: AMD64, NATIVE, NX | DYNAMIC_BASE | FORCE_INTEGRITY, `DriverEntry` at
    /// the start of `.text` (`xor eax, eax; ret`), exported, and the entry point.
    pub fn driver() -> Self {
        Self {
            code: vec![0x31, 0xC0, 0xC3],
            data: vec![0; 16],
            imports: Vec::new(),
            exports: vec![("DriverEntry".to_owned(), TEXT_RVA)],
            relocs: Vec::new(),
            entry: TEXT_RVA,
            machine: 0x8664,
            subsystem: 1,
            dll_characteristics: 0x0100 | 0x0040 | 0x0080,
        }
    }

    /// Replaces the code of `.text` (at [`TEXT_RVA`]).
    #[must_use]
    pub fn code(mut self, code: Vec<u8>) -> Self {
        self.code = code;
        self
    }

    /// Replaces the contents of `.data` (at [`DATA_RVA`]).
    #[must_use]
    pub fn data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    /// Imports `dll!name` by name.
    #[must_use]
    pub fn import(mut self, dll: &str, name: &str) -> Self {
        match self.imports.iter_mut().find(|(d, _)| d == dll) {
            Some((_, names)) => names.push(name.to_owned()),
            None => self.imports.push((dll.to_owned(), vec![name.to_owned()])),
        }
        self
    }

    /// Exports `name` at `rva` (replacing an export of that name).
    #[must_use]
    pub fn export(mut self, name: &str, rva: u32) -> Self {
        self.exports.retain(|(n, _)| n != name);
        self.exports.push((name.to_owned(), rva));
        self
    }

    /// Sets the entry point RVA.
    #[must_use]
    pub fn entry(mut self, rva: u32) -> Self {
        self.entry = rva;
        self
    }

    /// Adds a DIR64 base relocation for the 8 bytes at `rva`.
    #[must_use]
    pub fn reloc(mut self, rva: u32) -> Self {
        self.relocs.push(rva);
        self
    }

    /// The RVA of the IAT slot the loader fills for `dll!name`.
    pub fn iat_rva(&self, dll: &str, name: &str) -> Option<u32> {
        let mut at = RDATA_RVA;
        for (d, names) in &self.imports {
            if let Some(i) = names.iter().position(|n| n == name).filter(|_| d == dll) {
                return Some(at + 8 * u32::try_from(i).ok()?);
            }
            at += 8 * (u32::try_from(names.len()).ok()? + 1);
        }
        None
    }

    /// Lays the image out and stamps a valid checksum.
    pub fn build(&self) -> Vec<u8> {
        let (rdata, import_dir, iat_dir, export_dir) = self.rdata();
        let reloc = self.reloc_section();
        let sections: [(&[u8; 8], u32, &[u8], u32); 4] = [
            (b".text\0\0\0", TEXT_RVA, &self.code, 0x6000_0020),
            (b".rdata\0\0", RDATA_RVA, &rdata, 0x4000_0040),
            (b".data\0\0\0", DATA_RVA, &self.data, 0xC000_0040),
            (b".reloc\0\0", RELOC_RVA, &reloc, 0x4200_0040),
        ];
        let mut out = vec![0u8; HEADERS_SIZE];
        out[0..2].copy_from_slice(b"MZ");
        put32(&mut out, 0x3C, to_u32(NT_OFFSET));
        out[NT_OFFSET..NT_OFFSET + 4].copy_from_slice(b"PE\0\0");
        let fh = NT_OFFSET + 4;
        put16(&mut out, fh, self.machine);
        put16(&mut out, fh + 2, 4);
        put16(&mut out, fh + 16, to_u16(OPTIONAL_SIZE));
        put16(&mut out, fh + 18, 0x0022); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
        let oh = OPTIONAL_OFFSET;
        put16(&mut out, oh, 0x20B);
        put32(&mut out, oh + 4, to_u32(self.code.len()));
        put32(&mut out, oh + 16, self.entry);
        put32(&mut out, oh + 20, TEXT_RVA);
        out[oh + 24..oh + 32].copy_from_slice(&IMAGE_BASE.to_le_bytes());
        put32(&mut out, oh + 32, SECTION_ALIGNMENT);
        put32(&mut out, oh + 36, to_u32(FILE_ALIGNMENT));
        put16(&mut out, oh + 40, 10);
        put16(&mut out, oh + 48, 10);
        put32(&mut out, oh + 56, RELOC_RVA + SECTION_ALIGNMENT);
        put32(&mut out, oh + 60, to_u32(HEADERS_SIZE));
        put16(&mut out, SUBSYSTEM_OFFSET, self.subsystem);
        put16(
            &mut out,
            DLL_CHARACTERISTICS_OFFSET,
            self.dll_characteristics,
        );
        out[oh + 72..oh + 80].copy_from_slice(&0x4_0000u64.to_le_bytes());
        out[oh + 80..oh + 88].copy_from_slice(&0x1000u64.to_le_bytes());
        put32(&mut out, oh + 108, 16);
        let dirs = oh + 112;
        let set_dir = |out: &mut Vec<u8>, index: usize, (rva, size): (u32, u32)| {
            put32(out, dirs + 8 * index, rva);
            put32(out, dirs + 8 * index + 4, size);
        };
        set_dir(&mut out, 0, export_dir);
        set_dir(&mut out, 1, import_dir);
        set_dir(&mut out, 5, (RELOC_RVA, to_u32(reloc.len())));
        set_dir(&mut out, 12, iat_dir);
        for (i, (name, rva, bytes, characteristics)) in sections.into_iter().enumerate() {
            assert!(
                bytes.len() <= SECTION_ALIGNMENT as usize,
                "test image section too big"
            );
            let raw_at = out.len();
            let raw_size = bytes.len().div_ceil(FILE_ALIGNMENT) * FILE_ALIGNMENT;
            out.extend_from_slice(bytes);
            out.resize(raw_at + raw_size, 0);
            let sh = section_header_offset(i);
            out[sh..sh + 8].copy_from_slice(name);
            put32(&mut out, sh + 8, to_u32(bytes.len()));
            put32(&mut out, sh + 12, rva);
            put32(&mut out, sh + 16, to_u32(raw_size));
            put32(&mut out, sh + 20, to_u32(raw_at));
            put32(&mut out, sh + 36, characteristics);
        }
        checksum::stamp(&mut out).expect("headers are in place");
        out
    }

    /// `.rdata`: IAT, import lookup table, import descriptors, hint/names, DLL names, then the
    /// export directory. Returns it with the import, IAT and export directory (rva, size) pairs.
    fn rdata(&self) -> (Vec<u8>, Directory, Directory, Directory) {
        let slots: usize = self.imports.iter().map(|(_, n)| n.len() + 1).sum();
        let iat_size = slots * 8;
        let ilt_at = iat_size;
        let desc_at = ilt_at + iat_size;
        let desc_size = (self.imports.len() + 1) * 20;
        let mut r = vec![0u8; desc_at + desc_size];
        let rva = |offset: usize| RDATA_RVA + to_u32(offset);
        let mut slot = 0;
        for (d, (dll, names)) in self.imports.iter().enumerate() {
            let first_slot = slot;
            for name in names {
                align(&mut r, 2);
                let hint_name = r.len();
                r.extend_from_slice(&[0, 0]);
                r.extend_from_slice(name.as_bytes());
                r.push(0);
                let thunk = u64::from(rva(hint_name)).to_le_bytes();
                r[slot * 8..slot * 8 + 8].copy_from_slice(&thunk);
                r[ilt_at + slot * 8..ilt_at + slot * 8 + 8].copy_from_slice(&thunk);
                slot += 1;
            }
            slot += 1; // the null terminator
            let dll_name = r.len();
            r.extend_from_slice(dll.as_bytes());
            r.push(0);
            let desc = desc_at + d * 20;
            put32(&mut r, desc, rva(ilt_at + first_slot * 8));
            put32(&mut r, desc + 12, rva(dll_name));
            put32(&mut r, desc + 16, rva(first_slot * 8));
        }
        let import_dir = if self.imports.is_empty() {
            (0, 0)
        } else {
            (rva(desc_at), to_u32(desc_size))
        };
        let iat_dir = if self.imports.is_empty() {
            (0, 0)
        } else {
            (RDATA_RVA, to_u32(iat_size))
        };

        let mut exports = self.exports.clone();
        exports.sort();
        align(&mut r, 4);
        let dir = r.len();
        let n = exports.len();
        let eat = dir + 40;
        let names = eat + 4 * n;
        let ordinals = names + 4 * n;
        r.resize(ordinals + 2 * n, 0);
        let module = r.len();
        r.extend_from_slice(b"test.sys\0");
        put32(&mut r, dir + 12, rva(module));
        put32(&mut r, dir + 16, 1);
        put32(&mut r, dir + 20, to_u32(n));
        put32(&mut r, dir + 24, to_u32(n));
        put32(&mut r, dir + 28, rva(eat));
        put32(&mut r, dir + 32, rva(names));
        put32(&mut r, dir + 36, rva(ordinals));
        for (i, (name, target)) in exports.iter().enumerate() {
            let at = r.len();
            r.extend_from_slice(name.as_bytes());
            r.push(0);
            put32(&mut r, eat + 4 * i, *target);
            put32(&mut r, names + 4 * i, rva(at));
            put16(&mut r, ordinals + 2 * i, to_u16(i));
        }
        let export_dir = (rva(dir), to_u32(r.len() - dir));
        (r, import_dir, iat_dir, export_dir)
    }

    /// `.reloc`: one block per 4 KiB page, DIR64 entries, padded to a 4-byte boundary.
    fn reloc_section(&self) -> Vec<u8> {
        let mut relocs = self.relocs.clone();
        relocs.sort_unstable();
        let mut out = Vec::new();
        let mut pages: Vec<u32> = relocs.iter().map(|r| r & !0xFFF).collect();
        pages.dedup();
        if pages.is_empty() {
            // An empty block keeps the directory present, as a linker's /DYNAMICBASE output has.
            pages.push(DATA_RVA);
        }
        for page in pages {
            let mut entries: Vec<u16> = relocs
                .iter()
                .filter(|r| *r & !0xFFF == page)
                .map(|r| (10 << 12) | to_u16((r & 0xFFF) as usize))
                .collect();
            // IMAGE_REL_BASED_ABSOLUTE padding: blocks are a multiple of 4 bytes, never empty.
            while entries.is_empty() || entries.len() % 2 == 1 {
                entries.push(0);
            }
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&to_u32(8 + 2 * entries.len()).to_le_bytes());
            for e in entries {
                out.extend_from_slice(&e.to_le_bytes());
            }
        }
        out
    }
}

fn align(v: &mut Vec<u8>, to: usize) {
    v.resize(v.len().div_ceil(to) * to, 0);
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("test image offsets fit in 32 bits")
}

fn to_u16(n: usize) -> u16 {
    u16::try_from(n).expect("test image counts fit in 16 bits")
}

fn put16(v: &mut [u8], at: usize, value: u16) {
    v[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn put32(v: &mut [u8], at: usize, value: u32) {
    v[at..at + 4].copy_from_slice(&value.to_le_bytes());
}
