//! The crates' module graphs run one way: drawn from the `crate::` paths of
//! each source file, neither crate has an import cycle, between top-level
//! modules or between the files of one folder, and nothing in the runtime
//! imports `private` (the macros' expansions' door, not a hub).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Module path (`["span", "stack"]`) -> the module paths its code names.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/span/stack.rs` -> `["span", "stack"]`; `src/span/mod.rs` -> `["span"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The module paths named by `crate::a::b` in the code (comments and the
/// trailing `#[cfg(test)]` module excluded), at most two segments deep.
fn named_modules(text: &str, modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: Vec<String> = rest
            .split("::")
            .take(2)
            .map(|segment| {
                segment
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect()
            })
            .take_while(|segment: &String| !segment.is_empty())
            .collect();
        // `use crate::span::{a, b}` names `span`; `crate::span::stack::x` names `span::stack`.
        for depth in (1..=path.len()).rev() {
            if modules.contains(&path[..depth]) {
                named.insert(path[..depth].to_vec());
                break;
            }
        }
    }
    named
}

fn graph(crate_dir: &str) -> Graph {
    let src = workspace().join(crate_dir).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == ["lib"] {
            continue; // the crate root assembles the modules
        }
        let text = fs::read_to_string(file).expect("readable source file");
        graph.insert(module, named_modules(&text, &modules));
    }
    graph
}

/// A cycle among `nodes` following `edges`, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// Edges between top-level modules, and between the files of each folder.
fn layers(graph: &Graph) -> Vec<(String, BTreeMap<String, BTreeSet<String>>)> {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut folders: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, named) in graph {
        for to in named {
            if from[0] != to[0] {
                top.entry(from[0].clone())
                    .or_default()
                    .insert(to[0].clone());
            } else if from.len() > 1 && to.len() > 1 && from != to {
                folders
                    .entry(from[0].clone())
                    .or_default()
                    .entry(from[1].clone())
                    .or_default()
                    .insert(to[1].clone());
            }
        }
    }
    let mut layers = vec![("top-level modules".to_string(), top)];
    layers.extend(
        folders
            .into_iter()
            .map(|(folder, edges)| (format!("files of {folder}/"), edges)),
    );
    layers
}

fn assert_acyclic(crate_dir: &str) -> Graph {
    let graph = graph(crate_dir);
    assert!(
        graph.len() > 5,
        "{crate_dir}: found only {:?}",
        graph.keys()
    );
    for (what, edges) in layers(&graph) {
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "{crate_dir}: import cycle between {what}: {}",
                cycle.join(" -> ")
            );
        }
    }
    graph
}

#[test]
fn the_runtime_imports_one_way() {
    let graph = assert_acyclic("xray-runtime");
    let importers: Vec<_> = graph
        .iter()
        .filter(|(_, named)| named.contains(&vec!["private".to_string()]))
        .map(|(module, _)| module.join("::"))
        .collect();
    assert!(
        importers.is_empty(),
        "`private` is for the macros' expansions only, yet {importers:?} import it"
    );
}

#[test]
fn the_macros_import_one_way() {
    assert_acyclic("xray-macros");
}

#[test]
fn the_checker_finds_cycles() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let cycle = find_cycle(&edges).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    let modules: BTreeSet<Vec<String>> = [
        vec!["span".to_string()],
        vec!["span".into(), "stack".into()],
    ]
    .into_iter()
    .collect();
    let named = named_modules(
        "use crate::span::stack::Frame;\n// crate::span\nuse crate::span::{a, b};",
        &modules,
    );
    assert_eq!(
        named,
        [
            vec!["span".to_string()],
            vec!["span".to_string(), "stack".to_string()]
        ]
        .into_iter()
        .collect()
    );
}
