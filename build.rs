//! Embeds the web client (`web/`), each file deflated (zlib, the HTTP `deflate` coding) at
//! build time: the catalogs, modules and styles shrink to about a quarter, which keeps the
//! static binary under 10 MB with ten languages, and browsers get the compressed bytes as
//! they are (`src/http/assets.rs`). Already-compressed formats (PNG) are stored as they are.
//! Writes `$OUT_DIR/web.rs`: one `Embedded` per file, sorted by path.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=web");
    let mut list = Vec::new();
    files(&root, &mut list);
    let mut code = String::from("static FILES: &[Embedded] = &[\n");
    for (i, path) in list.iter().enumerate() {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let raw = std::fs::read(path).unwrap();
        let deflate = !name.ends_with(".png");
        let data = if deflate {
            miniz_oxide::deflate::compress_to_vec_zlib(&raw, 10)
        } else {
            raw
        };
        let stored = out.join(format!("web-{i}.bin"));
        std::fs::write(&stored, &data).unwrap();
        writeln!(
            code,
            "    Embedded {{ path: {name:?}, data: include_bytes!({:?}), deflated: {deflate} }},",
            stored.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("web.rs"), code).unwrap();
}
