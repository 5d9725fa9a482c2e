//! Data flows one way: no module of `src/` imports one that imports it back, at the level
//! of top-level modules (`node`, `work`, `share`, `stratum`, …) nor at the level of files
//! within one. Read from the sources: `crate::a::b` and `super::b` paths outside comments
//! and `#[cfg(test)]` modules (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, relative to `root`.
fn sources(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

/// `a/b/mod.rs` and `a/b.rs` are the module `a/b`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The file's code without comments and without its test module.
fn product_code(text: &str) -> String {
    let cut = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(test)]\npub(crate) mod tests",
        "#[cfg(test)]\npub(super) mod tests",
    ]
    .iter()
    .filter_map(|m| text.find(m))
    .min()
    .unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers following each occurrence of `prefix`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(i, _)| {
            // Not the tail of a longer identifier (`self::super::`, `my_crate::`).
            *i == 0
                || !code[..*i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn modules_and_files_import_each_other_one_way_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut within: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        // The binary's own files sit beside the library's root.
        if matches!(module.as_slice(), [m] if m == "main" || m == "instance" || m == "lib") {
            continue;
        }
        let code = product_code(&std::fs::read_to_string(root.join(file)).unwrap());
        let name = module.join("/");
        for path in paths_after(&code, "crate::") {
            let mut segs = path.split("::").filter(|s| !s.is_empty());
            let Some(first) = segs.next() else { continue };
            if first != module[0] {
                top.entry(module[0].clone())
                    .or_default()
                    .insert(first.to_string());
            } else if let Some(second) = segs.next() {
                let target = format!("{first}/{second}");
                if target != name && !name.starts_with(&format!("{target}/")) {
                    within.entry(name.clone()).or_default().insert(target);
                }
            }
        }
        for path in paths_after(&code, "super::") {
            let Some(first) = path.split("::").next().filter(|s| !s.is_empty()) else {
                continue;
            };
            let parent = &module[..module.len() - 1];
            let target = parent
                .iter()
                .cloned()
                .chain([first.to_string()])
                .collect::<Vec<_>>()
                .join("/");
            if target != name && files.iter().any(|f| module_of(f).join("/") == target) {
                within.entry(name.clone()).or_default().insert(target);
            }
        }
    }
    assert!(
        top.contains_key("stratum"),
        "the scan found the modules: {top:?}"
    );
    if let Some(cycle) = find_cycle(&top) {
        panic!(
            "top-level modules import each other: {}",
            cycle.join(" -> ")
        );
    }
    if let Some(cycle) = find_cycle(&within) {
        panic!("files import each other: {}", cycle.join(" -> "));
    }
}
