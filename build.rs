//! Embeds `migrations/NNNN_name.sql` (SQLite) and `migrations/postgres/NNNN_name.sql` in the binary,
//! in name order.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations/postgres");
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    let mut out = table("MIGRATIONS", &root);
    out.push_str(&table("PG_MIGRATIONS", &root.join("postgres")));
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
}

/// `pub const NAME: &[(version, name, sql)]` for the `.sql` files of `dir`, in name order.
fn table(const_name: &str, dir: &Path) -> String {
    let mut files: Vec<_> = fs::read_dir(dir)
        .expect("migrations folder exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    // (version, name, sql): the version is the file's number, so numbers must be unique and only grow.
    let mut out = format!("pub const {const_name}: &[(i64, &str, &str)] = &[\n");
    let mut last = 0i64;
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let num: i64 = name
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("migration names start with a number");
        assert!(
            num > last,
            "migration numbers must be unique and increasing: {name}"
        );
        last = num;
        out.push_str(&format!(
            "    ({num}, {name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    out
}
