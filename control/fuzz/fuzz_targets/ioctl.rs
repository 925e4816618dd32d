//! The control device's decoders with arbitrary bytes: a request for any code, a group list, a
//! list head, a module answer. None panics; whatever decodes encodes back to the same bytes, and a
//! refusal maps to an error status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpctl_proto::response::list_len;
use mpctl_proto::{
    DecodeError, GroupList, GroupRecord, Ioctl, ModuleCounters, PathRecord, Request,
};

fn refused(e: DecodeError) {
    assert!(e.status() < 0, "{e:?} maps to an error status");
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    // The first byte picks the code: one of ours (most of the time) or a foreign one.
    let code = Ioctl::ALL
        .get(usize::from(pick % 7))
        .map_or(u32::from_le_bytes([pick, 0x60, 0x17, 0]), |i| i.code());
    match Request::decode(code, body) {
        Ok(r) => {
            assert_eq!(r.ioctl().code(), code);
            let mut again = vec![0; r.len()];
            assert_eq!(r.encode(&mut again), Ok(body.len()));
            assert_eq!(again, body, "a decoded request encodes to its bytes");
        }
        Err(e) => refused(e),
    }
    match GroupList::decode(body) {
        Ok(list) => {
            let groups: Vec<GroupRecord> = list.groups().collect();
            let paths: Vec<PathRecord> = list.paths().collect();
            let mut again = vec![0; list_len(groups.len(), paths.len())];
            assert_eq!(
                GroupList::encode(&mut again, &groups, &paths),
                Ok(again.len())
            );
            assert_eq!(&again[..], &body[..again.len()]);
            assert_eq!(GroupList::needed(body), Ok(again.len()));
        }
        Err(e) => refused(e),
    }
    if let Err(e) = GroupList::needed(body) {
        refused(e);
    }
    match ModuleCounters::decode(body) {
        Ok(m) => {
            let mut again = vec![0; body.len()];
            let n = m.encode(&mut again).expect("room");
            assert_eq!(&again[..n], &body[..n]);
        }
        Err(e) => refused(e),
    }
});
