//! The API's modules depend on each other in one direction: no module reaches back to one that
//! reaches it (the areas use the shared modules; the document and the routes use the areas).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module a source file belongs to (`leads/dto.rs` → `leads`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// Top-level modules named as `crate::<module>` in `source`.
fn named(source: &str) -> BTreeSet<String> {
    source
        .match_indices("crate::")
        .map(|(i, _)| {
            source[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

fn walk(dir: &Path, root: &Path, graph: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, root, graph);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let module = module_of(rel);
            if module == "lib" {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let deps = graph.entry(module.clone()).or_default();
            deps.extend(named(&source).into_iter().filter(|m| *m != module));
        }
    }
}

fn cycle_from(
    m: &str,
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|p| p == m) {
        let mut cycle = path[i..].to_vec();
        cycle.push(m.to_owned());
        return Some(cycle);
    }
    if done.contains(m) {
        return None;
    }
    path.push(m.to_owned());
    for d in graph.get(m).into_iter().flatten() {
        if let Some(c) = cycle_from(d, graph, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(m.to_owned());
    None
}

#[test]
fn no_module_of_the_api_imports_one_that_imports_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    walk(&root, &root, &mut graph);
    assert!(graph.len() >= 10, "modules found: {graph:?}");
    assert!(
        graph["openapi"].contains("leads"),
        "the scan sees the document's uses"
    );
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        let cycle = cycle_from(m, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import circle: {:?}",
            cycle.unwrap_or_default()
        );
    }
}
