//! Holds each crate of the workspace to the layers its `src/lib.rs` writes
//! down ("# Layers"): reads that list, reads every source file's `crate::`
//! paths, and fails
//! on an import that goes up a layer, on one the list forbids by name, on
//! a cycle among the top-level modules, and on a module the list leaves
//! out. Test code is left out (a test may reach for a fixture anywhere):
//! `*_tests.rs` and other files declared `#[cfg(test)] mod …;`, and a
//! file's tail from `#[cfg(test)] mod tests {`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The lines of lib.rs's doc section `heading` ("# Layers"), trimmed.
fn section<'a>(lib: &'a str, heading: &'a str) -> impl Iterator<Item = &'a str> {
    let mut in_section = false;
    lib.lines().filter_map(move |line| {
        let text = line.strip_prefix("//!")?.trim();
        if text.starts_with("# ") {
            in_section = text == heading;
            return None;
        }
        in_section.then_some(text)
    })
}

/// The names between backticks in `text`.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The layers, bottom first, from lib.rs's list: `//! N. name: \`a\` \`b\``.
fn layers(lib: &str) -> Vec<(String, Vec<String>)> {
    section(lib, "# Layers")
        .filter_map(|text| {
            let (number, rest) = text.split_once(". ")?;
            number.parse::<usize>().ok()?;
            let (name, modules) = rest.split_once(':').expect("`N. name: `a` `b``");
            Some((name.trim().to_string(), quoted(modules)))
        })
        .collect()
}

/// The top-level modules each top-level module imports, with the file and
/// path of one import each, from the code under `src/` (tests left out).
fn imports(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut files = Vec::new();
    walk(src, &mut files);
    let tests = test_files(&files);
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !tests.contains(*f)) {
        let relative = file.strip_prefix(src).unwrap();
        let top = top_module(relative);
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code = without_test_tail(&text);
        // In `x.rs` or `x/mod.rs`, `super::y` is the crate's `y`.
        let code = match relative.components().count() {
            1 => code.replace("super::", "crate::"),
            2 if relative.ends_with("mod.rs") => code.replace("super::", "crate::"),
            _ => code.to_string(),
        };
        for (target, path) in crate_paths(&code) {
            if target != top {
                imports
                    .entry(top.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| format!("{}: {path}", relative.display()));
            }
        }
    }
    imports
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `activity/lease.rs` → `activity`; `worker.rs` → `worker`.
fn top_module(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Files that are test code: `*_tests.rs`, and those a file declares under
/// `#[cfg(test)]` (`mod name;`, or `#[path = "…"] mod name;`).
fn test_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut tests = BTreeSet::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name.ends_with("_tests.rs") {
            tests.insert(file.clone());
        }
        let text = std::fs::read_to_string(file).unwrap();
        let dir = if name == "mod.rs" || name == "lib.rs" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if line != "#[cfg(test)]" {
                continue;
            }
            let mut path = None;
            for next in lines.by_ref() {
                if let Some(p) = next.strip_prefix("#[path = \"") {
                    path = Some(file.parent().unwrap().join(p.trim_end_matches("\"]")));
                    continue;
                }
                let declared = next
                    .trim_start_matches("pub(crate) ")
                    .trim_start_matches("pub ");
                if let Some(module) = declared
                    .strip_prefix("mod ")
                    .and_then(|m| m.strip_suffix(';'))
                {
                    tests.insert(path.unwrap_or_else(|| dir.join(format!("{module}.rs"))));
                }
                break;
            }
        }
    }
    tests
}

/// `text` before its tail test module (`#[cfg(test)]` then `mod x {`).
fn without_test_tail(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let next = &text[at + line.len()..];
        let module = next.trim_start().trim_start_matches("pub(crate) ");
        if line.trim() == "#[cfg(test)]" && module.starts_with("mod ") && {
            let head = module.lines().next().unwrap_or("");
            head.trim_end().ends_with('{')
        } {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

/// Each top-level module a `crate::` path in `code` names: `crate::x::…`
/// and the groups of `use crate::{x::…, y};`.
fn crate_paths(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find("};").unwrap_or(group.len())];
            for part in group.split(',') {
                let name = part.trim().split("::").next().unwrap_or("");
                let name = name.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                if !name.is_empty() {
                    found.push((name.to_string(), format!("crate::{{{}…}}", part.trim())));
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        found.push((name, format!("crate::{path}")));
    }
    found
}

/// What goes against `layers`: an import up a layer, one of the rules
/// named in lib.rs, a module no layer lists. Each line names the file.
fn wrong_ways(
    layers: &[(String, Vec<String>)],
    imports: &BTreeMap<String, BTreeMap<String, String>>,
    modules: &BTreeSet<String>,
) -> Vec<String> {
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, ms))| ms.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut wrong = Vec::new();
    for module in modules {
        if !layer_of.contains_key(module.as_str()) {
            wrong.push(format!("`{module}` is in no layer of lib.rs's list"));
        }
    }
    for (from, targets) in imports {
        for (to, at) in targets {
            let (Some(&a), Some(&b)) = (layer_of.get(from.as_str()), layer_of.get(to.as_str()))
            else {
                continue;
            };
            if b > a {
                wrong.push(format!(
                    "`{from}` ({}) imports `{to}` ({}), a layer above it: {at}",
                    layers[a].0, layers[b].0
                ));
            }
            if from == "base" {
                wrong.push(format!("`base` imports nothing of cpsf's, yet: {at}"));
            }
        }
    }
    wrong
}

/// The first cycle among the top-level modules, as `a → b → a`.
fn cycle(imports: &BTreeMap<String, BTreeMap<String, String>>) -> Option<String> {
    fn visit(
        module: &str,
        imports: &BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut ring = path[start..].to_vec();
            ring.push(module.to_string());
            return Some(ring.join(" → "));
        }
        if !done.insert(module.to_string()) {
            return None;
        }
        path.push(module.to_string());
        for next in imports.get(module).into_iter().flat_map(|t| t.keys()) {
            if let Some(found) = visit(next, imports, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    imports
        .keys()
        .find_map(|m| visit(m, imports, &mut Vec::new(), &mut done))
}

/// The workspace's crates. Between crates, Cargo holds the direction: the
/// worker's crate does not depend on the playground's, so it cannot import
/// it.
const CRATES: [&str; 3] = [".", "crates/worker", "crates/playground"];

#[test]
fn imports_go_one_way() {
    for dir in CRATES {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        let layers = layers(&lib);
        assert!(
            layers.len() >= 2,
            "{dir}/src/lib.rs's \"# Layers\" list: {layers:?}"
        );
        let modules: BTreeSet<String> = lib
            .lines()
            .map(|l| l.trim_start_matches("#[cfg(feature = \"playground\")] "))
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';').to_string())
            .collect();
        let imports = imports(&src);
        let wrong = wrong_ways(&layers, &imports, &modules);
        assert!(
            wrong.is_empty(),
            "{dir}: imports that go the wrong way:\n{}",
            wrong.join("\n")
        );
        assert_eq!(
            cycle(&imports),
            None,
            "{dir}: an import cycle among the top-level modules"
        );
    }
}

/// The checker itself: an import up a layer, out of `base`, a module no
/// layer lists, and a cycle are each found.
#[test]
fn a_wrong_way_import_is_found() {
    let layers = layers(
        "//! # Layers\n//! 1. ground: `base` `aws`\n//! 2. middle: `job`\n//! 3. top: `local` `cli`\n//! # Next\n//! 4. not: `x`\n",
    );
    assert_eq!(layers.len(), 3);
    let code = "use crate::job::handle;\nuse crate::{local::env, aws};\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    let found: Vec<String> = crate_paths(without_test_tail(code))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(found, ["job", "local", "aws"]);
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (from, to) in [
        ("base", "aws"),
        ("aws", "job"),
        ("job", "local"),
        ("job", "aws"),
    ] {
        imports
            .entry(from.into())
            .or_default()
            .insert(to.into(), format!("{from}.rs"));
    }
    let modules = ["base", "aws", "job", "local", "cli", "new"]
        .map(String::from)
        .into();
    let wrong = wrong_ways(&layers, &imports, &modules);
    assert_eq!(wrong.len(), 4, "{wrong:#?}");
    assert!(wrong[0].contains("`new` is in no layer"));
    assert!(
        wrong
            .iter()
            .any(|w| w.starts_with("`aws` (ground) imports `job` (middle)"))
    );
    assert!(
        wrong
            .iter()
            .any(|w| w.starts_with("`base` imports nothing"))
    );
    assert_eq!(cycle(&imports).as_deref(), Some("aws → job → aws"));
}

/// The paths lib.rs's "# Pure" section lists, files or folders.
fn pure_paths(lib: &str) -> Vec<String> {
    section(lib, "# Pure")
        .filter_map(|text| text.strip_prefix("- "))
        .flat_map(quoted)
        .collect()
}

/// What pure code does not do, and the words that give it away.
const NOT_PURE: [(&str, &str); 11] = [
    (".send()", "an AWS call"),
    ("Clients", "AWS clients"),
    ("crate::aws", "AWS clients"),
    ("tokio::", "the async runtime (tasks, timers, sockets)"),
    ("std::fs", "files"),
    ("std::net", "the network"),
    ("std::process", "processes"),
    ("std::env::var", "the environment"),
    ("SystemTime::now", "the clock"),
    ("Instant::now", "the clock"),
    ("epoch_now()", "the clock"),
];

/// Each line of `code` that does what pure code does not, as `what: line`.
fn impure_lines(code: &str) -> Vec<String> {
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter_map(|line| {
            NOT_PURE
                .iter()
                .find(|(word, _)| line.contains(word))
                .map(|(_, what)| format!("{what}: {}", line.trim()))
        })
        .collect()
}

#[test]
fn pure_modules_do_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/worker/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let paths = pure_paths(&lib);
    assert!(paths.len() > 20, "lib.rs's \"# Pure\" list: {paths:?}");
    let mut files = Vec::new();
    for path in &paths {
        let at = src.join(path);
        assert!(
            at.exists(),
            "lib.rs lists `{path}` as pure; there is no such file"
        );
        if at.is_dir() {
            walk(&at, &mut files);
        } else {
            files.push(at);
        }
    }
    let tests = test_files(&files);
    let mut wrong = Vec::new();
    for file in files.iter().filter(|f| !tests.contains(*f)) {
        let text = std::fs::read_to_string(file).unwrap();
        for line in impure_lines(without_test_tail(&text)) {
            wrong.push(format!(
                "{}: {line}",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "modules lib.rs calls pure do I/O:\n{}",
        wrong.join("\n")
    );
}

/// The purity check itself: each kind of I/O is found, comments are not.
#[test]
fn io_in_pure_code_is_found() {
    let lib = "//! # Pure\n//!\n//! - `a.rs` `b/`\n//! - `c.rs`\n//! # Next\n//! - `d.rs`\n";
    assert_eq!(pure_paths(lib), ["a.rs", "b/", "c.rs"]);
    let code = "let x = clients.s3.get_object().send().await;\n// tokio::spawn in a comment\nlet now = epoch_now();\nstd::fs::read(p);\n";
    let found = impure_lines(code);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("an AWS call"));
    assert!(found[1].starts_with("the clock"));
    assert!(found[2].starts_with("files"));
}
