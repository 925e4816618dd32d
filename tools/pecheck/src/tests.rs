//! Each check against a well-formed synthetic driver and a copy broken in exactly one way.

use super::{AllowList, Report, check, checksum, image};
use image::ImageBuilder;

fn allow() -> AllowList {
    AllowList::parse("ntoskrnl.exe!ExAllocatePool2\nndis.sys!NdisFRegisterFilterDriver # ok\n")
        .unwrap()
}

fn good() -> ImageBuilder {
    ImageBuilder::driver()
        .import("ntoskrnl.exe", "ExAllocatePool2")
        .import("ndis.sys", "NdisFRegisterFilterDriver")
}

fn run(image: &[u8]) -> Report {
    check(image, &allow())
}

/// The single failure of a report that must have exactly one.
fn only_failure(report: &Report) -> &str {
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    &report.failures[0]
}

fn patch(mut image: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    image[at..at + bytes.len()].copy_from_slice(bytes);
    checksum::stamp(&mut image).unwrap();
    image
}

#[test]
fn a_well_formed_driver_passes_and_lists_its_imports() {
    let report = run(&good().build());
    assert!(report.ok(), "{:#?}", report.failures);
    let names: Vec<String> = report
        .imports
        .iter()
        .map(|i| format!("{}!{}", i.dll, i.name))
        .collect();
    assert_eq!(
        names,
        [
            "ntoskrnl.exe!ExAllocatePool2",
            "ndis.sys!NdisFRegisterFilterDriver"
        ]
    );
    assert!(report.render("x.sys").contains("PASS"));
}

#[test]
fn a_flipped_byte_fails_the_checksum_only() {
    let mut image = good().build();
    let at = 0x400 + 0x10; // inside .text's file padding
    image[at] ^= 1;
    let report = run(&image);
    assert!(only_failure(&report).starts_with("checksum"));
}

#[test]
fn a_zero_checksum_fails() {
    let mut image = good().build();
    let at = checksum::checksum_offset(&image).unwrap();
    image[at..at + 4].fill(0);
    assert!(only_failure(&run(&image)).starts_with("checksum"));
}

#[test]
fn a_writable_and_executable_section_is_named() {
    let image = good().build();
    let characteristics = image::section_header_offset(2) + 36;
    let image = patch(image, characteristics, &0xE000_0040u32.to_le_bytes());
    assert_eq!(
        only_failure(&run(&image)),
        "writable and executable section(s): .data"
    );
}

#[test]
fn an_import_not_on_the_list_is_named() {
    let image = good().import("ntoskrnl.exe", "ZwTerminateProcess").build();
    assert_eq!(
        only_failure(&run(&image)),
        "import(s) not on the allow-list: ntoskrnl.exe!ZwTerminateProcess"
    );
}

#[test]
fn an_import_from_a_user_mode_dll_is_named_twice() {
    let report = run(&good().import("kernel32.dll", "Sleep").build());
    assert_eq!(report.failures.len(), 2, "{:#?}", report.failures);
    assert!(report.failures[0].contains("may not use: kernel32.dll!Sleep"));
    assert!(report.failures[1].contains("kernel32.dll!Sleep"));
}

#[test]
fn wrong_machine_and_subsystem_are_reported() {
    let mut b = good();
    b.machine = 0xAA64;
    assert!(only_failure(&run(&b.build())).starts_with("machine is 0xaa64"));
    let mut b = good();
    b.subsystem = 3;
    assert!(only_failure(&run(&b.build())).starts_with("subsystem is 3"));
}

#[test]
fn each_missing_dll_characteristic_is_named() {
    for (flags, missing) in [
        (0x00C0, "NX_COMPAT"),
        (0x0180, "DYNAMIC_BASE"),
        (0x0140, "FORCE_INTEGRITY"),
    ] {
        let mut b = good();
        b.dll_characteristics = flags;
        let report = run(&b.build());
        assert!(only_failure(&report).ends_with(missing), "{report:#?}");
    }
}

#[test]
fn the_entry_point_must_be_the_exported_driver_entry() {
    let image = good()
        .code(vec![0xC3; 32])
        .entry(image::TEXT_RVA + 16)
        .build();
    assert!(only_failure(&run(&image)).contains("is not the exported DriverEntry (0x1000)"));
    let image = good().export("DriverEntry", image::TEXT_RVA + 1).build();
    assert!(only_failure(&run(&image)).contains("not the exported DriverEntry"));
}

#[test]
fn a_driver_without_driver_entry_export_fails() {
    let mut image = good().build();
    // Rename the export: the name is the only "DriverEntry" string in the image.
    let at = image.windows(11).position(|w| w == b"DriverEntry").unwrap();
    image[at] = b'X';
    checksum::stamp(&mut image).unwrap();
    assert_eq!(only_failure(&run(&image)), "DriverEntry is not exported");
}

#[test]
fn garbage_is_a_failure_not_a_panic() {
    for input in [&b""[..], b"MZ", &[0xFF; 4096]] {
        let report = run(input);
        assert!(report.failures[0].starts_with("not a PE32+ image"));
    }
    // A valid header with a truncated body.
    let image = good().build();
    let report = run(&image[..0x300]);
    assert!(!report.ok());
}

#[test]
fn allow_list_syntax() {
    let list = AllowList::parse("# comment\n\n NDIS.SYS ! NdisFSendNetBufferLists \n").unwrap();
    assert!(list.allows("ndis.sys", "NdisFSendNetBufferLists"));
    assert!(!list.allows("ntoskrnl.exe", "NdisFSendNetBufferLists"));
    assert!(!list.allows("ndis.sys", "ndisfsendnetbufferlists"));
    let err = AllowList::parse("ntoskrnl.exe!A\nmemcpy\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn the_repository_allow_list_parses_and_covers_the_driver_essentials() {
    let text = include_str!("../allowlist.txt");
    let list = AllowList::parse(text).unwrap();
    for (dll, name) in [
        ("ndis.sys", "NdisFRegisterFilterDriver"),
        ("ntoskrnl.exe", "ExAllocatePool2"),
        ("ntoskrnl.exe", "KeBugCheckEx"),
    ] {
        assert!(list.allows(dll, name), "{dll}!{name}");
    }
}

#[test]
fn stripped_relocations_fail() {
    let image = good().build();
    let characteristics = image::MACHINE_OFFSET + 18;
    let image = patch(image, characteristics, &0x0023u16.to_le_bytes());
    assert!(only_failure(&run(&image)).starts_with("RELOCS_STRIPPED is set"));
}
