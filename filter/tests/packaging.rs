//! The Windows packaging flow of `Makefile.toml` (`cargo make package`) checked where it cannot
//! run: the host tasks stay as they were and run anywhere, every task of the flow is Windows-only,
//! the flow has windows-drivers-rs' steps in their order, and it names this crate, this INX and a
//! package holding what the INF installs — so renaming the crate, the INX or a package file breaks
//! this test instead of the first Windows build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The tasks that run on any host, untouched by the packaging flow.
const HOST_TASKS: [&str; 6] = ["test", "lint", "sim", "sys", "sys-test", "ci"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Makefile {
    env: BTreeMap<String, String>,
    tasks: Table,
}

impl Makefile {
    fn load() -> Makefile {
        let file: Table = toml::from_str(&read("Makefile.toml")).expect("Makefile.toml is TOML");
        let mut env = BTreeMap::new();
        for (name, value) in file["env"].as_table().expect("[env]") {
            // A plain string, `{ value = .. }` (conditional) or a decode map's `default_value`.
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Table(t) => t
                    .get("value")
                    .or_else(|| t.get("default_value"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            };
            if let Some(text) = text {
                env.insert(name.clone(), text);
            }
        }
        let tasks = file["tasks"].as_table().expect("[tasks]").clone();
        Makefile { env, tasks }
    }

    fn task(&self, name: &str) -> &Table {
        self.tasks
            .get(name)
            .and_then(Value::as_table)
            .unwrap_or_else(|| panic!("Makefile.toml has no task {name}"))
    }

    /// `${NAME}` replaced by the Makefile's own [env] values; cargo-make's variables stay.
    fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for _ in 0..8 {
            let mut next = out.clone();
            for (name, value) in &self.env {
                next = next.replace(&format!("${{{name}}}"), value);
            }
            if next == out {
                return out;
            }
            out = next;
        }
        panic!("[env] does not settle: {out}");
    }

    fn dependencies(&self, name: &str) -> Vec<String> {
        self.task(name)
            .get("dependencies")
            .and_then(Value::as_array)
            .map(|deps| {
                deps.iter()
                    .map(|d| d.as_str().expect("dependency names").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every task `name` runs, itself included; panics on a dangling name or a cycle.
    fn closure(&self, name: &str) -> BTreeSet<String> {
        fn visit(m: &Makefile, name: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
            assert!(
                !path.iter().any(|p| p == name),
                "dependency cycle: {path:?} -> {name}"
            );
            if done.contains(name) {
                return;
            }
            path.push(name.to_owned());
            for dep in m.dependencies(name) {
                visit(m, &dep, path, done);
            }
            path.pop();
            done.insert(name.to_owned());
        }
        let mut done = BTreeSet::new();
        visit(self, name, &mut Vec::new(), &mut done);
        done
    }

    /// The command line of a command task, expanded (`@@split` arguments kept as written).
    fn command_line(&self, name: &str) -> (String, Vec<String>) {
        let task = self.task(name);
        let command = task.get("command").and_then(Value::as_str);
        let command = command.unwrap_or_else(|| panic!("{name} runs a command"));
        let args = task
            .get("args")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |args| {
                args.iter()
                    .map(|a| self.expand(a.as_str().expect("args are strings")))
                    .collect()
            });
        (command.to_owned(), args)
    }

    fn script(&self, name: &str) -> String {
        let script = self.task(name).get("script").and_then(Value::as_str);
        self.expand(script.unwrap_or_else(|| panic!("{name} runs a script")))
    }

    fn var(&self, name: &str) -> String {
        self.expand(&format!("${{{name}}}"))
    }
}

fn windows_only(task: &Table) -> bool {
    let platforms = task
        .get("condition")
        .and_then(Value::as_table)
        .and_then(|c| c.get("platforms"))
        .and_then(Value::as_array);
    platforms.is_some_and(|p| p.len() == 1 && p[0].as_str() == Some("windows"))
}

#[test]
fn host_tasks_still_run_on_any_host() {
    let m = Makefile::load();
    for name in HOST_TASKS {
        assert!(
            !m.task(name).contains_key("condition"),
            "{name} must run on Linux: no condition"
        );
    }
    assert_eq!(
        m.command_line("test"),
        ("cargo".into(), vec!["test".into(), "--workspace".into()])
    );
}

#[test]
fn every_other_task_is_windows_only_and_package_is_the_entry() {
    let m = Makefile::load();
    let windows: Vec<&String> = m
        .tasks
        .keys()
        .filter(|n| !HOST_TASKS.contains(&n.as_str()))
        .collect();
    assert!(
        windows.len() > 10,
        "the packaging flow's tasks are missing: {windows:?}"
    );
    for name in windows {
        let task = m.task(name);
        assert!(
            windows_only(task),
            "{name}: condition = {{ platforms = [\"windows\"] }}"
        );
        let private = task.get("private").and_then(Value::as_bool) == Some(true);
        assert_eq!(
            !private,
            name == "package",
            "{name}: only `package` is public"
        );
    }
    assert!(m.task("package").contains_key("description"));
}

#[test]
fn the_flow_has_upstreams_steps_in_order() {
    let m = Makefile::load();
    let flow = m.closure("package");
    for step in [
        "wdk-tools",
        "build-driver",
        "generate-driver-binary-file",
        "copy-inx-to-output",
        "stampinf",
        "infverif",
        "copy-driver-binary-to-package",
        "copy-pdb-to-package",
        "copy-inf-to-package",
        "inf2cat",
        "generate-certificate",
        "copy-certificate-to-package",
        "sign-driver-binary",
        "sign-cat",
        "verify-signature-driver-binary",
        "verify-signature-cat",
    ] {
        assert!(flow.contains(step), "package does not run {step}");
    }
    // What each step needs done before it (cargo-make runs a task's dependencies first).
    for (step, before) in [
        ("generate-driver-binary-file", "build-driver"),
        ("copy-pdb-to-package", "build-driver"),
        ("stampinf", "copy-inx-to-output"),
        ("infverif", "stampinf"),
        ("copy-inf-to-package", "stampinf"),
        (
            "copy-driver-binary-to-package",
            "generate-driver-binary-file",
        ),
        ("inf2cat", "copy-driver-binary-to-package"),
        ("inf2cat", "copy-inf-to-package"),
        ("sign-driver-binary", "generate-certificate"),
        ("sign-driver-binary", "copy-driver-binary-to-package"),
        ("sign-cat", "inf2cat"),
        ("sign-cat", "sign-driver-binary"),
        ("verify-signature-driver-binary", "sign-driver-binary"),
        ("verify-signature-cat", "sign-cat"),
    ] {
        assert!(
            m.closure(step).contains(before),
            "{step} must run after {before}"
        );
    }
    // Each WDK/SDK tool runs only after `wdk-tools` found it on PATH.
    for step in &flow {
        let task = m.task(step);
        let command = task
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let script = task
            .get("script")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let tools = [
            "stampinf", "inf2cat", "infverif", "signtool", "makecert", "certmgr",
        ];
        let uses_tool = tools.contains(&command) || tools.iter().any(|t| script.contains(t));
        if uses_tool && step != "wdk-tools" {
            assert!(
                m.closure(step).contains("wdk-tools"),
                "{step} runs a WDK tool before wdk-tools"
            );
        }
    }
}

#[test]
fn it_builds_this_crate_with_the_wdk_feature() {
    let m = Makefile::load();
    let name = env!("CARGO_PKG_NAME");
    assert_eq!(m.var("MPFILTER_CRATE"), name);
    let (command, args) = m.command_line("build-driver");
    assert_eq!(command, "cargo");
    assert_eq!(args[0], "build");
    let package = args.iter().position(|a| a == "-p").map(|i| &args[i + 1]);
    assert_eq!(package.map(String::as_str), Some(name));
    assert!(
        !args
            .iter()
            .any(|a| a.contains("no-default-features") || a == "--target"),
        "the WDK build is the host build with default features: {args:?}"
    );
    let manifest: Table = toml::from_str(&read("filter/Cargo.toml")).expect("filter/Cargo.toml");
    let features = manifest["features"].as_table().expect("[features]");
    let default = features["default"].as_array().expect("default features");
    assert!(
        default.iter().any(|f| f.as_str() == Some("wdk")),
        "wdk must stay a default feature"
    );
    let wdk = features["wdk"].as_array().expect("the wdk feature");
    assert!(wdk.iter().any(|f| f.as_str() == Some("dep:wdk-build")));
    // cargo names the cdylib `<crate>.dll`; the flow copies that to the .sys.
    let script = m.script("generate-driver-binary-file");
    let out = m.var("MPFILTER_OUT");
    assert!(
        script.contains(&format!("cp {out}/{name}.dll {out}/{name}.sys")),
        "{script}"
    );
}

/// The INX's `key = value` lines and its `[SourceDisksFiles]` names.
fn inx_lines() -> (BTreeMap<String, String>, Vec<String>) {
    let (mut keys, mut disk_files, mut section) = (BTreeMap::new(), Vec::new(), String::new());
    for raw in read("inf/mpfilter.inx").lines() {
        let line = raw.split(';').next().unwrap_or_default().trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_ascii_lowercase();
        } else if let Some((key, value)) = line.split_once('=') {
            let (key, value) = (key.trim().to_owned(), value.trim().to_owned());
            if section == "sourcedisksfiles" {
                disk_files.push(key.clone());
            }
            keys.insert(key, value);
        }
    }
    (keys, disk_files)
}

#[test]
fn it_stamps_the_repositorys_inx() {
    let m = Makefile::load();
    let name = env!("CARGO_PKG_NAME");
    let inx = m.var("MPFILTER_INX");
    assert!(
        repo().join(&inx).is_file(),
        "MPFILTER_INX = {inx} does not exist"
    );
    let out = m.var("MPFILTER_OUT");
    let inf = format!("{out}/{name}.inf");
    assert!(
        m.script("copy-inx-to-output")
            .contains(&format!("cp {inx} {inf}"))
    );
    let (command, args) = m.command_line("stampinf");
    assert_eq!(command, "stampinf");
    let flag = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .map(|i| args[i + 1].clone())
    };
    assert_eq!(flag("-f"), Some(inf.clone()));
    assert_eq!(flag("-a").as_deref(), Some("amd64"));
    assert_eq!(
        flag("-d").as_deref(),
        Some("*"),
        "DriverVer date from the build"
    );
    assert_eq!(
        flag("-v").as_deref(),
        Some("*"),
        "DriverVer version from the build"
    );
    let (keys, _) = inx_lines();
    assert_eq!(
        flag("-c").as_ref(),
        keys.get("CatalogFile"),
        "stampinf -c and the INX's CatalogFile"
    );
    assert!(
        keys.contains_key("DriverVer"),
        "stampinf fills the INX's DriverVer"
    );
    let (command, args) = m.command_line("infverif");
    assert_eq!((command.as_str(), args.last()), ("infverif", Some(&inf)));
}

#[test]
fn the_package_holds_what_the_inf_installs() {
    let m = Makefile::load();
    let name = env!("CARGO_PKG_NAME");
    let package = m.var("MPFILTER_PACKAGE");
    // The files the copy tasks write into the package, and the catalog inf2cat writes there.
    let mut files = BTreeSet::new();
    for step in m.closure("package") {
        let Some(script) = m.task(&step).get("script").and_then(Value::as_str) else {
            continue;
        };
        for line in m.expand(script).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["cp", from, to] = words[..]
                && let Some(file) = to.strip_prefix(&format!("{package}/"))
            {
                assert!(
                    from.ends_with(&format!("/{file}")),
                    "{step} renames {from} to {to}"
                );
                files.insert(file.to_owned());
            }
        }
    }
    let (command, args) = m.command_line("inf2cat");
    assert_eq!(command, "inf2cat");
    assert!(args.contains(&format!("/driver:{package}")), "{args:?}");
    assert!(args.contains(&"/os:10_x64".to_owned()), "{args:?}");
    let (keys, disk_files) = inx_lines();
    let catalog = keys
        .get("CatalogFile")
        .expect("the INX names its catalog")
        .clone();
    files.insert(catalog.clone());
    let cert = format!("{}.cer", m.var("MPFILTER_CERT_NAME"));
    let want: BTreeSet<String> = [
        format!("{name}.sys"),
        format!("{name}.inf"),
        format!("{name}.pdb"),
        catalog.clone(),
        cert,
    ]
    .into();
    assert_eq!(files, want);
    assert_eq!(catalog, format!("{name}.cat"));
    assert_eq!(
        disk_files,
        [format!("{name}.sys")],
        "the INF installs the package's .sys"
    );
    assert!(keys["ServiceBinary"].ends_with(&format!("\\{name}.sys")));
    // Both signed files are the package's, with the test certificate.
    for (step, file) in [
        ("sign-driver-binary", format!("{name}.sys")),
        ("sign-cat", catalog),
    ] {
        let (command, args) = m.command_line(step);
        assert_eq!(command, "signtool");
        assert_eq!(args.first().map(String::as_str), Some("sign"));
        assert_eq!(args.last(), Some(&format!("{package}/{file}")));
        assert!(args.contains(&m.var("MPFILTER_CERT_STORE")));
        assert!(args.contains(&m.var("MPFILTER_CERT_NAME")));
    }
}

#[test]
fn the_windows_workflow_runs_the_flow_on_windows() {
    let m = Makefile::load();
    let workflow = read(".github/workflows/windows.yml");
    assert!(workflow.contains("runs-on: windows-"), "a Windows runner");
    let runs: Vec<&str> = workflow
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: cargo make "))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(runs, ["package"], "the workflow's cargo-make runs");
    for task in runs {
        assert!(windows_only(m.task(task)));
    }
    // The artifact is the package folder cargo-make fills (the default target dir, this profile).
    let profile = m.var("MPFILTER_CARGO_PROFILE");
    let package = m
        .var("MPFILTER_PACKAGE")
        .replace("${CARGO_MAKE_CRATE_TARGET_DIRECTORY}", "target");
    assert!(
        package.starts_with(&format!("target/{profile}/")),
        "{package}"
    );
    assert!(
        workflow.contains(&format!("path: {package}/")),
        "the workflow uploads {package}"
    );
    assert!(workflow.contains(&format!("MPFILTER_CARGO_PROFILE: {profile}")));
    assert!(workflow.contains(&format!("-p {} --{profile}", env!("CARGO_PKG_NAME"))));
}
