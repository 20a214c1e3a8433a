//! Hashes the SQL of `migrations/` so test templates are rebuilt whenever a migration changes.
use std::hash::{Hash, Hasher};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            println!("cargo:rerun-if-changed={}", e.path().display());
            for f in ["up.sql", "down.sql"] {
                let p = e.path().join(f);
                if let Ok(s) = std::fs::read_to_string(&p) {
                    files.push((p.display().to_string(), s));
                }
            }
        }
    }
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (_, s) in &files {
        s.hash(&mut h);
    }
    println!("cargo:rustc-env=MIGRATIONS_HASH={:016x}", h.finish());
}
