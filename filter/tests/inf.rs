//! The INF (`inf/mpfilter.inx`) checked against the code: identity, filter type and class,
//! service, driver-store install, and every configuration key with the same type, default and
//! range as `mpfilter::config::KEYS` — no key missing, none the filter ignores.

use mpfilter::config::keys::{Accepts, KEYS};
use mpfilter::config::value::MAX_TEXT;
use mpfilter::driver::entry::{SERVICE_NAME, UNIQUE_NAME};
use std::collections::BTreeMap;

/// An INF: section name (lower case) → its lines, each split into fields.
struct Inf(BTreeMap<String, Vec<Line>>);

#[derive(Debug, Clone)]
struct Line {
    /// `key = value` lines: the key (lower case); AddReg-style lines: None.
    key: Option<String>,
    /// The comma-separated fields (of the value for `key = value`), unquoted and trimmed.
    fields: Vec<String>,
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn fields(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

impl Inf {
    fn load() -> Inf {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../inf/mpfilter.inx"))
                .expect("inf/mpfilter.inx");
        let mut sections: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        let mut current = String::new();
        for raw in text.lines() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.trim().to_ascii_lowercase();
                sections.entry(current.clone()).or_default();
                continue;
            }
            let parsed = match line.split_once('=') {
                Some((k, v)) if !k.contains(',') && !k.contains('"') => Line {
                    key: Some(k.trim().to_ascii_lowercase()),
                    fields: fields(v),
                },
                _ => Line {
                    key: None,
                    fields: fields(line),
                },
            };
            sections.entry(current.clone()).or_default().push(parsed);
        }
        Inf(sections)
    }

    fn section(&self, name: &str) -> &[Line] {
        self.0
            .get(&name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("section [{name}] missing"))
    }

    /// Every `key = …` value of `key` in any section, with the section name.
    fn values(&self, key: &str) -> Vec<(&str, &Line)> {
        self.0
            .iter()
            .flat_map(|(s, lines)| lines.iter().map(move |l| (s.as_str(), l)))
            .filter(|(_, l)| l.key.as_deref() == Some(key))
            .collect()
    }

    /// The sections an install section's `AddReg` names.
    fn add_reg_of(&self, section: &str) -> Vec<String> {
        self.section(section)
            .iter()
            .filter(|l| l.key.as_deref() == Some("addreg"))
            .flat_map(|l| l.fields.iter().map(|f| f.to_ascii_lowercase()))
            .collect()
    }

    /// The value of `HKR, <subkey>, <name>, …` in `section`.
    fn reg(&self, section: &str, subkey: &str, name: &str) -> Option<&Line> {
        self.section(section).iter().find(|l| {
            l.key.is_none()
                && l.fields
                    .first()
                    .is_some_and(|f| f.eq_ignore_ascii_case("HKR"))
                && l.fields
                    .get(1)
                    .is_some_and(|f| f.eq_ignore_ascii_case(subkey))
                && l.fields
                    .get(2)
                    .is_some_and(|f| f.eq_ignore_ascii_case(name))
        })
    }
}

fn data(line: &Line) -> &str {
    line.fields.get(4).map_or("", String::as_str)
}

#[test]
fn identity_matches_the_characteristics() {
    let inf = Inf::load();
    let ids = inf.values("netcfginstanceid");
    assert!(ids.len() >= 2, "both install sections set NetCfgInstanceId");
    for (section, l) in ids {
        assert!(
            l.fields[0].eq_ignore_ascii_case(UNIQUE_NAME),
            "[{section}] NetCfgInstanceId"
        );
        let characteristics = inf
            .section(section)
            .iter()
            .find(|l| l.key.as_deref() == Some("characteristics"));
        assert_eq!(
            characteristics.map(|l| l.fields[0].as_str()),
            Some("0x40000"),
            "[{section}] NCF_LW_FILTER"
        );
    }
    let services = inf.values("addservice");
    assert!(services.len() >= 2);
    for (section, l) in services {
        assert_eq!(l.fields[0], SERVICE_NAME, "[{section}] AddService");
    }
    let version = inf.section("version");
    let class = version
        .iter()
        .find(|l| l.key.as_deref() == Some("class"))
        .unwrap();
    assert_eq!(class.fields[0], "NetService");
}

#[test]
fn the_ndi_keys_make_an_optional_modifying_failover_filter_on_ethernet() {
    let inf = Inf::load();
    let ndi = |name: &str| {
        inf.reg("inst_ndi", "Ndi", name)
            .map_or_else(|| panic!("Ndi {name}"), data)
    };
    assert_eq!(ndi("Service"), SERVICE_NAME);
    assert_eq!(ndi("CoServices"), SERVICE_NAME);
    assert_eq!(ndi("FilterClass"), "failover");
    assert_eq!(ndi("FilterType"), "2");
    assert_eq!(ndi("FilterRunType"), "2");
    let media = inf
        .reg("inst_ndi", "Ndi\\Interfaces", "FilterMediaTypes")
        .map(data);
    assert_eq!(media, Some("ethernet"));
}

#[test]
fn the_service_loads_in_the_ndis_group_from_the_driver_store() {
    let inf = Inf::load();
    for (section, l) in inf.values("loadordergroup") {
        assert_eq!(l.fields[0], "NDIS", "[{section}]");
    }
    let dirs = inf.section("destinationdirs");
    assert!(
        dirs.iter().any(|l| l.fields[0] == "13"),
        "a DIRID 13 (driver store) destination"
    );
    let binaries: Vec<_> = inf
        .values("servicebinary")
        .into_iter()
        .map(|(_, l)| l.fields[0].clone())
        .collect();
    assert!(
        binaries.iter().any(|b| b == "%13%\\mpfilter.sys"),
        "{binaries:?}"
    );
}

/// `FilterAdapterParams\<Name>` → its values (ParamDesc, type, default, min, max, enum entries).
fn params(inf: &Inf) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut sections = Vec::new();
    for (section, _) in inf.values("servicebinary") {
        sections.extend(inf.add_reg_of(section));
    }
    sections.sort();
    sections.dedup();
    assert!(
        !sections.is_empty(),
        "the service sections AddReg their parameters"
    );
    for section in sections {
        for l in inf.section(&section).iter().filter(|l| l.key.is_none()) {
            let Some(rest) = l.fields[1].strip_prefix("FilterAdapterParams\\") else {
                continue;
            };
            let (name, value_name) = match rest.strip_suffix("\\enum") {
                Some(name) => (name, format!("enum:{}", l.fields[2])),
                None => (rest, l.fields[2].to_ascii_lowercase()),
            };
            out.entry(name.to_owned())
                .or_default()
                .insert(value_name, data(l).to_owned());
        }
    }
    out
}

#[test]
fn every_configuration_key_has_its_default_and_range_in_the_inf_and_nothing_else_is_there() {
    let inf = Inf::load();
    let params = params(&inf);
    for k in KEYS {
        let p = params
            .get(k.name)
            .unwrap_or_else(|| panic!("{} has no FilterAdapterParams entry", k.name));
        assert_eq!(
            p.get("default").map(String::as_str),
            Some(k.default),
            "{} default",
            k.name
        );
        assert!(p.contains_key("paramdesc"), "{} ParamDesc", k.name);
        match k.accepts {
            Accepts::Integer { min, max } => {
                assert_eq!(
                    p.get("type").map(String::as_str),
                    Some("int"),
                    "{} type",
                    k.name
                );
                assert_eq!(p.get("min"), Some(&min.to_string()), "{} min", k.name);
                assert_eq!(p.get("max"), Some(&max.to_string()), "{} max", k.name);
            }
            Accepts::Text { forms } => {
                let enums: Vec<&str> = p.keys().filter_map(|v| v.strip_prefix("enum:")).collect();
                match p.get("type").map(String::as_str) {
                    Some("enum") => {
                        let mut want: Vec<&str> = forms.split(" | ").collect();
                        let mut got = enums.clone();
                        want.sort_unstable();
                        got.sort_unstable();
                        assert_eq!(got, want, "{} enum values", k.name);
                    }
                    Some("edit") => {
                        assert!(enums.is_empty(), "{}", k.name);
                        // The property page must not take text the filter would refuse as long.
                        assert_eq!(
                            p.get("limittext"),
                            Some(&MAX_TEXT.to_string()),
                            "{} LimitText",
                            k.name
                        );
                    }
                    other => panic!("{} type {other:?}", k.name),
                }
            }
        }
    }
    for name in params.keys() {
        assert!(
            KEYS.iter().any(|k| k.name == name),
            "the INF sets {name}, which the filter never reads"
        );
    }
}
