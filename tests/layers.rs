//! `src/` is layered one way: `scripts/check-layers.py` finds no import circle and no import
//! from a lower floor to a higher one (the floors are listed at the top of the script); and
//! the check does fail on a tree that has either. Likewise `scripts/check-sizes.py`: no file
//! over 500 lines and no function over 60 unless a `long:` comment above it says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the layer check on `src` and returns (success, output).
fn check(src: &Path) -> (bool, String) {
    run_script("check-layers.py", src)
}

/// Runs `scripts/<script>` on `src` and returns (success, output).
fn run_script(script: &str, src: &Path) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("scripts").join(script))
        .arg(src)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A small source tree in a fresh temporary directory (removed on drop).
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str, files: &[(&str, &str)]) -> Tree {
        let dir =
            std::env::temp_dir().join(format!("homedrop-layers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        Tree(dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn src_has_no_import_circle_and_no_upward_import() {
    let (ok, out) = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(ok, "{out}");
}

#[test]
fn downward_imports_pass_and_test_code_comments_and_strings_do_not_count() {
    let tree = Tree::new(
        "clean",
        &[
            ("lib.rs", "pub mod app;\npub mod net;\n"),
            (
                "net.rs",
                "//! Not [`crate::app`].\npub fn f() -> &'static str { \"crate::app::run\" }\n\
                 #[cfg(test)]\nmod tests {\n    use crate::app::run;\n}\n",
            ),
            ("app.rs", "use crate::net;\npub fn run() { net::f(); }\n"),
        ],
    );
    let (ok, out) = check(&tree.0);
    assert!(ok, "{out}");
}

#[test]
fn a_circle_fails_the_check() {
    let tree = Tree::new(
        "circle",
        &[
            ("lib.rs", "pub mod config;\npub mod net;\n"),
            ("net.rs", "use crate::config::Config;\npub struct Subnet;\n"),
            (
                "config.rs",
                "use crate::{net::Subnet};\npub struct Config;\n",
            ),
        ],
    );
    let (ok, out) = check(&tree.0);
    assert!(!ok, "{out}");
    assert!(
        out.contains("import circle config -> net -> config"),
        "{out}"
    );
    assert!(
        out.contains("upward import net (floor 0) -> config (floor 1)"),
        "{out}"
    );
}

#[test]
fn an_upward_import_a_circle_inside_the_relay_and_a_module_on_no_floor_fail_the_check() {
    let tree = Tree::new(
        "upward",
        &[
            (
                "lib.rs",
                "pub mod app;\npub mod net;\npub mod relay;\npub mod extra;\n",
            ),
            ("app.rs", "pub fn run() {}\n"),
            ("net.rs", "pub fn f() { crate::app::run() }\n"),
            ("extra.rs", ""),
            (
                "relay/mod.rs",
                "mod shell;\nmod udp;\npub use shell::Shell;\n",
            ),
            ("relay/shell.rs", "use super::udp;\npub struct Shell;\n"),
            ("relay/udp.rs", "use super::Shell;\n"),
        ],
    );
    let (ok, out) = check(&tree.0);
    assert!(!ok, "{out}");
    assert!(
        out.contains("upward import net (floor 0) -> app (floor 6)"),
        "{out}"
    );
    assert!(
        out.contains("relay/: import circle shell -> udp -> shell"),
        "{out}"
    );
    assert!(out.contains("`extra` is on no floor"), "{out}");
}

#[test]
fn src_has_no_file_over_500_lines_and_no_function_over_60() {
    let (ok, out) = run_script(
        "check-sizes.py",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    );
    assert!(ok, "{out}");
}

#[test]
fn the_size_check_fails_on_a_long_function_or_file_unless_a_comment_says_why() {
    let body = |n: usize| {
        (0..n)
            .map(|i| format!("    let _x{i} = \"}}{{\";\n"))
            .collect::<String>()
    };
    let long_fn = format!("fn too_long() {{\n{}}}\n", body(60));
    let excused = format!(
        "// long: a table, read in one piece.\nfn table() {{\n{}}}\n",
        body(60)
    );
    let short_fn = format!("fn fine() {{\n{}}}\n", body(58));
    let tree = Tree::new("sizes-fn", &[("lib.rs", &long_fn)]);
    let (ok, out) = run_script("check-sizes.py", &tree.0);
    assert!(!ok && out.contains("fn too_long is 62 lines"), "{out}");
    let tree = Tree::new("sizes-ok", &[("lib.rs", &format!("{excused}{short_fn}"))]);
    let (ok, out) = run_script("check-sizes.py", &tree.0);
    assert!(ok, "{out}");
    let tree = Tree::new("sizes-file", &[("lib.rs", &"// x\n".repeat(501))]);
    let (ok, out) = run_script("check-sizes.py", &tree.0);
    assert!(!ok && out.contains("501 lines"), "{out}");
}
