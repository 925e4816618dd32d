//! `docs/install.md` against what it describes: its configuration table is the filter's key table,
//! and the names an administrator types (component id, certificate, package folder, ETW GUID) are
//! the ones the INF, `Makefile.toml` and the ETW provider use. The commands themselves cannot run
//! here; this keeps a rename from leaving the page behind.

use mpfilter::config::keys::{Accepts, KEYS, Scope};
use mpfilter::diag::trace::PROVIDER_GUID_TEXT;

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_configuration_table_is_the_filters() {
    let doc = read("docs/install.md");
    let table = doc
        .lines()
        .skip_while(|l| *l != "| key | scope | accepted | default |");
    let rows: Vec<&str> = table.skip(2).take_while(|l| l.starts_with("| `")).collect();
    assert_eq!(rows.len(), KEYS.len(), "one row per key");
    for (row, key) in rows.iter().zip(KEYS) {
        let cells: Vec<&str> = row
            .trim_end_matches(" |")
            .split(" | ")
            .map(str::trim)
            .collect();
        let scope = match key.scope {
            Scope::Member => "member",
            Scope::Group => "group",
        };
        let accepted = match key.accepts {
            Accepts::Integer { min, max } => format!("{min}..={max}"),
            Accepts::Text { forms } => forms.replace('|', "\\|"),
        };
        let want = [
            format!("| `{}`", key.name),
            scope.into(),
            accepted,
            key.default.into(),
        ];
        assert_eq!(cells, want, "{}", key.name);
    }
}

/// The words following `marker` in `text`, each up to white space.
fn after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(i, _)| {
            text[i + marker.len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn the_names_it_uses_are_the_inf_makefile_and_providers() {
    let doc = read("docs/install.md");
    // The INF's component id: the second field of its models lines.
    let inx = read("inf/mpfilter.inx");
    let ids: Vec<&str> = inx
        .lines()
        .filter(|l| l.starts_with("%mpfilter_Desc%"))
        .filter_map(|l| l.rsplit(',').next())
        .map(str::trim)
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
    let id = ids[0];
    let used: Vec<&str> = [" -i ", "netcfg -u ", "-ComponentID "]
        .iter()
        .flat_map(|m| after(&doc, m))
        .collect();
    assert!(used.len() >= 5, "{used:?}");
    for u in used {
        assert_eq!(u.trim_end_matches('`'), id);
    }
    let makefile = read("Makefile.toml");
    for (var, doc_marker) in [
        ("MPFILTER_CERT_NAME", "-addstore Root "),
        ("MPFILTER_CERT_STORE", "-ss "),
    ] {
        let line = makefile
            .lines()
            .find(|l| l.starts_with(&format!("{var} = ")));
        let value = line.expect(var).split('"').nth(1).expect("a quoted value");
        for used in after(&doc, doc_marker) {
            assert_eq!(used.trim_end_matches(".cer"), value, "{var}");
        }
    }
    assert!(doc.contains("target\\release\\mpfilter_package\\"));
    assert!(makefile.contains(r#"MPFILTER_PACKAGE = "${MPFILTER_OUT}/${MPFILTER_CRATE}_package""#));
    assert!(doc.contains(PROVIDER_GUID_TEXT), "the ETW provider's GUID");
}
