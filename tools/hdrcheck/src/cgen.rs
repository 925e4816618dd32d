//! The generated C: the DDK headers, the simple `#define`s that only ndis.h has (ndis.h itself does
//! not compile beside ntddndis.h in mingw-w64), and one `const long long` per checked item.

use crate::items::Item;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The symbol the compiler emits for item `i`.
pub fn symbol(i: usize) -> String {
    format!("hdrcheck_{i}")
}

/// Keeps the `#define NAME BODY` lines of a `gcc -E -dM` dump whose bodies are plain numbers,
/// casts of numbers, `STATUS_*` codes (ntstatus.h) or other kept names: the ones that can be
/// evaluated without ndis.h's types. Function-like macros are dropped.
pub fn simple_defines(dump: &str) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for line in dump.lines() {
        let Some(rest) = line.strip_prefix("#define ") else {
            continue;
        };
        let (name, body) = rest.split_once(' ').unwrap_or((rest, ""));
        if name.contains('(') || body.is_empty() {
            continue;
        }
        all.insert(name.to_owned(), body.trim().to_owned());
    }
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let before = kept.len();
        for (name, body) in &all {
            if !kept.contains_key(name) && tokens(body).all(|tok| token_ok(tok, &kept)) {
                kept.insert(name.clone(), body.clone());
            }
        }
        if kept.len() == before {
            return kept;
        }
    }
}

fn tokens(body: &str) -> impl Iterator<Item = &str> {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
}

fn token_ok(tok: &str, kept: &BTreeMap<String, String>) -> bool {
    const CASTS: &[&str] = &[
        "NDIS_STATUS",
        "NTSTATUS",
        "ULONG",
        "LONG",
        "UINT",
        "USHORT",
        "UCHAR",
    ];
    tok.as_bytes()[0].is_ascii_digit()
        || CASTS.contains(&tok)
        || tok.starts_with("STATUS_")
        || kept.contains_key(tok)
}

/// The C translation unit for `items`, with ndis.h's simple defines.
pub fn source(items: &[Item], ndis_defines: &BTreeMap<String, String>) -> String {
    let mut c = String::from(
        "#include <ntddk.h>\n#include <ntddndis.h>\n#include <netpnp.h>\n\
         typedef int NDIS_STATUS;\n",
    );
    for (name, body) in ndis_defines {
        let _ = writeln!(c, "#ifndef {name}\n#define {name} {body}\n#endif");
    }
    for (i, item) in items.iter().enumerate() {
        let line = format!(
            "const long long {} = (long long)({});\n",
            symbol(i),
            item.c_expr
        );
        match &item.guard {
            Some(g) => {
                let _ = write!(c, "#ifdef {g}\n{line}#endif\n");
            }
            None => c.push_str(&line),
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_numbers_casts_status_codes_and_chains() {
        let dump = "#define A ((NDIS_STATUS)0xC001000CL)\n#define B ((NDIS_STATUS)STATUS_PENDING)\n\
                    #define C A\n#define D sizeof(struct X)\n#define E(x) x\n#define F (D + 1)\n#define G\n";
        let kept = simple_defines(dump);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["A", "B", "C"]);
    }

    #[test]
    fn guarded_items_are_wrapped() {
        let items = [Item {
            label: "X".into(),
            c_expr: "X".into(),
            guard: Some("X".into()),
            rust: 1,
        }];
        let c = source(&items, &BTreeMap::new());
        assert!(c.contains("#ifdef X\nconst long long hdrcheck_0 = (long long)(X);\n#endif\n"));
    }
}
