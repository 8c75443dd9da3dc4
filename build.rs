//! Embeds `migrations/NNNN_name.sql` in the binary, in name order.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("migrations/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("pub const MIGRATIONS: &[(&str, &str)] = &[\n");
    for (i, f) in files.iter().enumerate() {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let num: usize = name.split('_').next().and_then(|n| n.parse().ok()).expect("migration names start with a number");
        assert_eq!(num, i + 1, "migrations must be numbered 0001, 0002, ... without gaps: {name}");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", f.display().to_string()));
    }
    out.push_str("];\n");
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"), out).unwrap();
}
