//! The two calling conventions the emulator serves, and the export table the PE loader resolves
//! imports against.
//!
//! Every NDIS (and kernel) function the emulator implements is written once, as an ordinary Rust
//! function taking the caller's [`Abi`] first, and exported by [`exports!`](macro@crate::exports) twice:
//! - as an `extern "system"` `#[no_mangle]` symbol, which the host-linked filter's imports resolve
//!   to at link time (on x86_64 Linux "system" is the SysV C convention);
//! - as an `extern "win64"` function listed in an [`Export`] table, which the PE loader writes into a
//!   loaded `mpfilter.sys`'s import address table.

/// Which calling convention a caller (and so its callbacks) uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Abi {
    /// The filter linked into the host process (`extern "system"` = SysV on x86_64 Linux).
    Host,
    /// A PE image (`mpfilter.sys`) loaded in-process: Microsoft x64 calling convention.
    Win64,
}

/// One function a loaded PE image may import.
#[derive(Clone, Copy, Debug)]
pub struct Export {
    /// The DLL the image imports it from, e.g. `ndis.sys` or `ntoskrnl.exe` (compared case-insensitively).
    pub dll: &'static str,
    /// The exported name.
    pub name: &'static str,
    /// Address of the `extern "win64"` entry point.
    pub win64: *const (),
}

// SAFETY: `win64` is the address of a function (code), never written or dereferenced as data, so
// sharing it between threads is sound.
unsafe impl Sync for Export {}

/// Defines exports once for both ABIs.
///
/// ```ignore
/// exports! {
///     "ndis.sys" => {
///         fn NdisGetVersion() -> u32 => impls::get_version;
///     }
///     win64_only "ntoskrnl.exe" => {
///         fn memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void => impls::memset;
///     }
/// }
/// ```
/// Each `impl` path is an `unsafe fn(Abi, args...) -> ret`. A block marked `win64_only` gets no
/// host symbol (for names such as `memset` that the host's C library already defines). The
/// invocation defines, in the calling module, the host symbols, a `win64` module with the
/// `extern "win64"` entry points, and `pub static EXPORTS: &[Export]`.
#[macro_export]
macro_rules! exports {
    ($($(#[$kind:ident])? $dll:literal => { $(fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:path;)* })*) => {
        $( $crate::exports!(@host [$($kind)?] $( fn $name($($arg: $ty),*) $(-> $ret)? => $imp; )*); )*

        /// `extern "win64"` entry points for PE images loaded in-process.
        #[allow(non_snake_case, clippy::missing_safety_doc)]
        pub mod win64 {
            #[allow(unused_imports)]
            use super::*;
            $($(
                /// Win64-ABI entry point; forwards to the single implementation.
                pub unsafe extern "win64" fn $name($($arg: $ty),*) $(-> $ret)? {
                    $crate::world::driver_called();
                    // SAFETY: the arguments are passed through unchanged; the implementation is
                    // written to validate what it is given, exactly as for host callers.
                    unsafe { $imp($crate::abi::Abi::Win64, $($arg),*) }
                }
            )*)*
        }

        /// Every function of this module a PE image may import, with its Win64 entry point.
        pub static EXPORTS: &[$crate::abi::Export] = &[
            $($(
                $crate::abi::Export { dll: $dll, name: stringify!($name), win64: win64::$name as *const () },
            )*)*
        ];
    };
    (@host [win64_only] $($rest:tt)*) => {};
    (@host [] $( fn $name:ident($($arg:ident : $ty:ty),*) $(-> $ret:ty)? => $imp:path; )*) => {
        $(
            /// Host (SysV) entry point resolved by the host-linked filter's import; forwards to the
            /// single implementation.
            #[unsafe(no_mangle)]
            #[allow(non_snake_case, clippy::missing_safety_doc)]
            pub unsafe extern "system" fn $name($($arg: $ty),*) $(-> $ret)? {
                $crate::world::driver_called();
                // SAFETY: the arguments are passed through unchanged; the implementation is
                // written to validate what it is given.
                unsafe { $imp($crate::abi::Abi::Host, $($arg),*) }
            }
        )*
    };
}

/// Finds the Win64 entry point for `dll!name` in the given tables (DLL name compared case-insensitively).
pub fn resolve(tables: &[&[Export]], dll: &str, name: &str) -> Option<*const ()> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .find(|e| e.dll.eq_ignore_ascii_case(dll) && e.name == name)
        .map(|e| e.win64)
}

#[cfg(test)]
mod tests {
    use super::{Abi, resolve};

    // SAFETY (for the callers): a plain function of its arguments.
    unsafe fn tagged_add(abi: Abi, a: u32, b: u32) -> u32 {
        match abi {
            Abi::Host => a + b,
            Abi::Win64 => a + b + 1000,
        }
    }

    mod defs {
        #[allow(clippy::wildcard_imports)]
        use super::*;
        crate::exports! {
            "emu-selftest.sys" => {
                fn EmuAbiSelfTestAdd(a: u32, b: u32) -> u32 => tagged_add;
            }
            #[win64_only] "ntoskrnl.exe" => {
                fn EmuAbiSelfTestWin64Only(a: u32, b: u32) -> u32 => tagged_add;
            }
        }
    }

    #[test]
    fn one_implementation_reaches_both_abis() {
        // SAFETY: the host symbol has the declared signature.
        assert_eq!(unsafe { defs::EmuAbiSelfTestAdd(1, 2) }, 3);
        let addr =
            resolve(&[defs::EXPORTS], "EMU-SELFTEST.SYS", "EmuAbiSelfTestAdd").expect("listed");
        // SAFETY: the table entry is the `extern "win64"` wrapper with this exact signature.
        let f: unsafe extern "win64" fn(u32, u32) -> u32 = unsafe { core::mem::transmute(addr) };
        // SAFETY: calling the wrapper with plain integers.
        assert_eq!(unsafe { f(1, 2) }, 1003);
        assert!(resolve(&[defs::EXPORTS], "ntoskrnl.exe", "EmuAbiSelfTestWin64Only").is_some());
        assert!(resolve(&[defs::EXPORTS], "ndis.sys", "EmuAbiSelfTestAdd").is_none());
    }
}
