//! The PE loader on synthetic images whose every byte is known: relocation, import binding,
//! win64 calls both ways, page protections, `__chkstk`, the pool and bug checks. (The real
//! `mpfilter.sys` runs in `sys_passthrough.rs`.)
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use ndis_emu::abi::{Export, resolve};
use ndis_emu::pe::bugcheck::BAD_POOL_CALLER;
use ndis_emu::pe::{BugCheck, LoadError, LoadedImage, kernel, run_guarded};
use pecheck::image::{DATA_RVA, IMAGE_BASE, ImageBuilder, TEXT_RVA};

const TAG: u32 = u32::from_le_bytes(*b"test");

fn tables() -> [&'static [Export]; 2] {
    [kernel::EXPORTS, kernel::ASM_EXPORTS]
}

/// x64 machine code, assembled by hand; offsets are RVAs from the start of `.text`.
#[derive(Default)]
struct Code(Vec<u8>);

impl Code {
    fn rva(&self) -> u32 {
        TEXT_RVA + u32::try_from(self.0.len()).unwrap()
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// `call qword ptr [rip + disp32]` to an IAT slot.
    fn call_import(&mut self, slot_rva: u32) -> &mut Self {
        let next = self.rva() + 6;
        let disp = i32::try_from(i64::from(slot_rva) - i64::from(next)).unwrap();
        self.bytes(&[0xFF, 0x15]).bytes(&disp.to_le_bytes())
    }
    /// `mov r32, imm32` for ecx (1), edx (2).
    fn mov_imm(&mut self, reg: u8, imm: u32) -> &mut Self {
        self.bytes(&[0xB8 + reg]).bytes(&imm.to_le_bytes())
    }
}

fn driver_with_pool() -> ImageBuilder {
    ImageBuilder::driver()
        .import("ntoskrnl.exe", "ExAllocatePool2")
        .import("ntoskrnl.exe", "ExFreePoolWithTag")
        .import("ntoskrnl.exe", "KeBugCheckEx")
        .import("ntoskrnl.exe", "__chkstk")
}

/// Builds the test driver: `DriverEntry` reads a value through a relocated pointer; `Alloc`,
/// `Free`, `Stop` and `BigFrame` exercise the imports.
fn test_driver() -> ImageBuilder {
    let b = driver_with_pool();
    let slot = |name| b.iat_rva("ntoskrnl.exe", name).unwrap();
    let mut c = Code::default();
    // DriverEntry: mov rax, [rip + ptr]; mov eax, [rax]; ret
    let next = c.rva() + 7;
    c.bytes(&[0x48, 0x8B, 0x05])
        .bytes(&(DATA_RVA - next).to_le_bytes())
        .bytes(&[0x8B, 0x00, 0xC3]);
    // Alloc(): ExAllocatePool2(NON_PAGED, 64, TAG)
    let alloc = c.rva();
    c.bytes(&[0x48, 0x83, 0xEC, 0x28])
        .mov_imm(1, 0x40)
        .mov_imm(2, 64)
        .bytes(&[0x41, 0xB8])
        .bytes(&TAG.to_le_bytes())
        .call_import(slot("ExAllocatePool2"))
        .bytes(&[0x48, 0x83, 0xC4, 0x28, 0xC3]);
    // Free(p): ExFreePoolWithTag(p, TAG)
    let free = c.rva();
    c.bytes(&[0x48, 0x83, 0xEC, 0x28])
        .mov_imm(2, TAG)
        .call_import(slot("ExFreePoolWithTag"))
        .bytes(&[0x48, 0x83, 0xC4, 0x28, 0xC3]);
    // Stop(): KeBugCheckEx(0xDEAD, 1, 2, 3, 4)
    let stop = c.rva();
    c.bytes(&[0x48, 0x83, 0xEC, 0x38])
        .mov_imm(1, 0xDEAD)
        .mov_imm(2, 1)
        .bytes(&[0x41, 0xB8, 2, 0, 0, 0]) // mov r8d, 2
        .bytes(&[0x41, 0xB9, 3, 0, 0, 0]) // mov r9d, 3
        .bytes(&[0x48, 0xC7, 0x44, 0x24, 0x20, 4, 0, 0, 0]) // mov qword [rsp+0x20], 4
        .call_import(slot("KeBugCheckEx"))
        .bytes(&[0xCC]);
    // BigFrame(): a 12 KiB frame through __chkstk, writes its bottom, returns 7.
    let big = c.rva();
    c.bytes(&[0xB8, 0x00, 0x30, 0, 0]) // mov eax, 0x3000
        .call_import(slot("__chkstk"))
        .bytes(&[0x48, 0x29, 0xC4]) // sub rsp, rax
        .bytes(&[0x48, 0xC7, 0x04, 0x24, 7, 0, 0, 0]) // mov qword [rsp], 7
        .bytes(&[0x48, 0x8B, 0x04, 0x24]) // mov rax, [rsp]
        .bytes(&[0x48, 0x81, 0xC4, 0x00, 0x30, 0, 0]) // add rsp, 0x3000
        .bytes(&[0xC3]);
    let mut data = (IMAGE_BASE + u64::from(DATA_RVA) + 8)
        .to_le_bytes()
        .to_vec();
    data.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    b.code(c.0)
        .data(data)
        .reloc(DATA_RVA)
        .export("Alloc", alloc)
        .export("Free", free)
        .export("Stop", stop)
        .export("BigFrame", big)
}

fn load(builder: &ImageBuilder) -> LoadedImage {
    LoadedImage::load(&builder.build(), &tables()).expect("loads")
}

/// Calls a loaded win64 function `name` with up to one pointer argument.
fn call(image: &LoadedImage, name: &str, arg: usize) -> usize {
    let f = image.export(name).expect("exported");
    // SAFETY: every test function above has this shape: one integer argument (possibly unused)
    // and an integer result, Microsoft x64 convention.
    let f: unsafe extern "win64" fn(usize) -> usize = unsafe { std::mem::transmute(f) };
    // SAFETY: the image is mapped and bound for the duration of the call.
    unsafe { f(arg) }
}

#[test]
fn relocated_image_runs_its_entry_point() {
    let image = load(&test_driver());
    assert_ne!(
        image.base() as u64,
        IMAGE_BASE,
        "mapped away from the preferred base"
    );
    assert_eq!(image.entry(), image.export("DriverEntry").unwrap());
    // Without the DIR64 relocation the pointer would still say IMAGE_BASE and this would fault.
    assert_eq!(call(&image, "DriverEntry", 0), 0x1234_5678);
}

#[test]
fn imports_bind_to_the_emulated_pool_with_the_win64_convention() {
    let image = load(&test_driver());
    let before = kernel::outstanding_pool().len();
    let p = call(&image, "Alloc", 0);
    assert_ne!(p, 0);
    assert_eq!(p % 16, 0, "pool blocks are 16-aligned");
    let blocks = kernel::outstanding_pool();
    assert_eq!(blocks.len(), before + 1);
    let block = blocks.iter().find(|b| b.address == p).expect("tracked");
    assert_eq!((block.size, block.tag), (64, TAG));
    call(&image, "Free", p);
    assert_eq!(kernel::outstanding_pool().len(), before);
}

#[test]
fn chkstk_probes_a_large_frame() {
    let image = load(&test_driver());
    assert_eq!(call(&image, "BigFrame", 0), 7);
}

#[test]
fn a_missing_import_fails_the_load_and_is_named() {
    let builder = driver_with_pool()
        .import("ntoskrnl.exe", "ZwNotProvided")
        .import("ndis.sys", "NdisFSendNetBufferLists");
    let err = LoadedImage::load(&builder.build(), &tables()).unwrap_err();
    assert_eq!(
        err,
        LoadError::MissingImports(vec![
            "ntoskrnl.exe!ZwNotProvided".into(),
            "ndis.sys!NdisFSendNetBufferLists".into()
        ])
    );
    assert!(err.to_string().contains("ntoskrnl.exe!ZwNotProvided"));
}

#[test]
fn sections_get_rx_r_and_rw_protections() {
    let image = load(&test_driver());
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let perms_at = |address: usize| -> String {
        maps.lines()
            .find_map(|l| {
                let (range, rest) = l.split_once(' ')?;
                let (lo, hi) = range.split_once('-')?;
                let lo = usize::from_str_radix(lo, 16).ok()?;
                let hi = usize::from_str_radix(hi, 16).ok()?;
                (lo..hi).contains(&address).then(|| rest[..4].to_owned())
            })
            .expect("mapped")
    };
    let base = image.base() as usize;
    assert_eq!(perms_at(base), "r--p", "headers");
    assert_eq!(perms_at(base + 0x1000), "r-xp", ".text");
    assert_eq!(perms_at(base + 0x2000), "r--p", ".rdata");
    assert_eq!(perms_at(base + 0x3000), "rw-p", ".data");
}

#[test]
fn writable_executable_and_malformed_images_are_refused() {
    let mut bytes = test_driver().build();
    let characteristics = pecheck::image::section_header_offset(0) + 36;
    bytes[characteristics..characteristics + 4].copy_from_slice(&0xE000_0020u32.to_le_bytes());
    assert!(matches!(
        LoadedImage::load(&bytes, &tables()),
        Err(LoadError::Unsupported(m)) if m.contains("writable and executable")
    ));
    for garbage in [&b""[..], b"MZ\0\0", &[0xFF; 512]] {
        assert!(matches!(
            LoadedImage::load(garbage, &tables()),
            Err(LoadError::Malformed(_))
        ));
    }
    let whole = test_driver().build();
    assert!(LoadedImage::load(&whole[..0x500], &tables()).is_err());
}

#[test]
fn a_bug_check_stops_the_emulated_cpu_not_the_test() {
    let result = run_guarded(|| {
        let image = load(&test_driver());
        call(&image, "Stop", 0)
    });
    assert_eq!(
        result,
        Err(BugCheck {
            code: 0xDEAD,
            parameters: [1, 2, 3, 4]
        })
    );
}

#[test]
fn freeing_a_foreign_block_is_bad_pool_caller() {
    let result = run_guarded(|| {
        let image = load(&test_driver());
        let p = call(&image, "Alloc", 0);
        call(&image, "Free", p);
        call(&image, "Free", p) // double free
    });
    let stop = result.unwrap_err();
    assert_eq!(stop.code, BAD_POOL_CALLER);
}

#[test]
fn run_guarded_returns_values_and_propagates_panics() {
    assert_eq!(run_guarded(|| 41 + 1), Ok(42));
    let panicked = std::panic::catch_unwind(|| run_guarded(|| panic!("assertion in the body")));
    assert!(panicked.is_err());
}

type Cmp = unsafe extern "win64" fn(*const u8, *const u8, usize) -> i32;
type Set = unsafe extern "win64" fn(*mut u8, i32, usize) -> *mut u8;
type Move = unsafe extern "win64" fn(*mut u8, *const u8, usize) -> *mut u8;

fn crt(name: &str) -> *const () {
    resolve(&tables(), "ntoskrnl.exe", name).expect(name)
}

#[test]
fn crt_routines_follow_the_c_contracts() {
    // SAFETY: the table entries are the win64 wrappers with these signatures.
    let memcmp = unsafe { std::mem::transmute::<*const (), Cmp>(crt("memcmp")) };
    // SAFETY: as above.
    let memset = unsafe { std::mem::transmute::<*const (), Set>(crt("memset")) };
    // SAFETY: as above.
    let memmove = unsafe { std::mem::transmute::<*const (), Move>(crt("memmove")) };
    let (abc, abd) = (b"abc".as_ptr(), b"abd".as_ptr());
    // SAFETY: three readable bytes each.
    assert!(unsafe { memcmp(abc, abd, 3) } < 0);
    // SAFETY: as above.
    assert_eq!(unsafe { memcmp(abc, abd, 2) }, 0);
    let mut buf = *b"abcdef";
    let p = buf.as_mut_ptr();
    // SAFETY: both ranges (1..5 and 0..4) lie inside `buf`; memmove allows the overlap.
    unsafe { memmove(p.wrapping_add(1), p, 4) };
    assert_eq!(&buf, b"aabcdf");
    // SAFETY: two bytes of `buf`; only the low byte of the fill counts (0x7A = 'z').
    unsafe { memset(buf.as_mut_ptr(), 0x17A, 2) };
    assert_eq!(&buf[..3], b"zzb");
}

#[test]
fn load_driver_reads_a_file_and_finds_driver_entry() {
    let path = std::env::temp_dir().join(format!("sys_loader_{}.sys", std::process::id()));
    std::fs::write(&path, test_driver().build()).unwrap();
    let loaded = ndis_emu::pe::load_driver_with(&path, &tables());
    std::fs::remove_file(&path).unwrap();
    let driver = loaded.expect("loads");
    // SAFETY: the test DriverEntry ignores its arguments and returns the relocated constant.
    let status = unsafe { (driver.entry)(std::ptr::null_mut(), std::ptr::null_mut()) };
    assert_eq!(status, 0x1234_5678);

    let missing = std::path::Path::new("/nonexistent/mpfilter.sys");
    assert!(matches!(
        ndis_emu::pe::load_driver_with(missing, &tables()),
        Err(LoadError::Io(m)) if m.contains("/nonexistent/mpfilter.sys")
    ));
}
