//! The config file: which one is read, how its errors name the key and the line, and the
//! effective configuration printed back in the same format (`--print-config`).
//!
//! The printed form is itself a valid config file, so `homedrop --print-config > file` is a
//! starting point, and a test can check that what is printed reads back the same.
//!
//! The file is read by serde into `FileConfig` (generated from the settings table) with the
//! same calls a `#[derive(Deserialize)]` with `deny_unknown_fields` and an `_` alias per key
//! would make, so serde words every error, and TOML's spans give the key and the line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::{Config, ConfigError, FileConfig, FileKey};

/// Largest config file accepted.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

/// The file to read: `--config` (or `HOMEDROP_CONFIG`) when given, even if it is missing
/// (that is an error later), else `default` only when it exists.
pub fn config_path(given: Option<PathBuf>, default: &Path) -> Option<PathBuf> {
    given.or_else(|| default.exists().then(|| default.to_path_buf()))
}

/// Read and parse the file; every error names the file, and where it can the key and line.
pub(super) fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let name = path.display().to_string();
    let err = |reason: String| ConfigError::File {
        file: name.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(err("larger than 64 KiB".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    toml::from_str(&text).map_err(|e| {
        let place = e.span().map(|s| locate(&text, s.start)).unwrap_or_default();
        err(format!("{place}{}", e.message()))
    })
}

/// "line N, key `k`: " for the byte offset of a parse error (TOML errors point at the key
/// for unknown keys and at the value for bad values; both are on the key's line).
fn locate(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_no = text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !key.trim_start().starts_with('#') => {
            let key: String = key.trim().chars().take(64).collect();
            format!("line {line_no}, key `{key}`: ")
        }
        _ => format!("line {line_no}: "),
    }
}

impl<'de> Deserialize<'de> for FileKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = FileKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileKey, E> {
                FileKey::find(v).ok_or_else(|| E::unknown_field(v, FileKey::all()))
            }
        }
        d.deserialize_identifier(Key)
    }
}

impl<'de> Deserialize<'de> for FileConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = FileConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("struct FileConfig")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileConfig, A::Error> {
                let mut file = FileConfig::default();
                while let Some(key) = map.next_key::<FileKey>()? {
                    file.read(key, &mut map)?;
                }
                Ok(file)
            }
        }
        d.deserialize_struct("FileConfig", FileKey::all(), Table)
    }
}

impl Config {
    /// The effective configuration as a config file (`--print-config`). The TURN secret is
    /// never printed.
    pub fn to_toml(&self) -> String {
        let source = match &self.config_file {
            Some(p) => format!("file {}", p.display()),
            None => "no file".to_string(),
        };
        let mut out = format!(
            "# homedrop {}: effective configuration (flags > HOMEDROP_* environment > {source} > defaults)\n",
            env!("CARGO_PKG_VERSION")
        );
        self.print_settings(&mut out);
        out.push_str(match self.turn_secret {
            Some(_) => "# turn-secret: set (not shown)\n",
            None => "# turn-secret: not set, generated once into <state-dir>/turn-secret\n",
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Args;
    use clap::Parser;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hd-cfgfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn default_file_is_read_only_when_it_exists() {
        let dir = temp("default");
        let default = dir.join("homedrop.toml");
        let given = dir.join("given.toml");
        assert_eq!(config_path(None, &default), None);
        assert_eq!(
            config_path(Some(given.clone()), &default),
            Some(given.clone())
        );
        std::fs::write(&default, "room-capacity = 7\n").unwrap();
        assert_eq!(config_path(None, &default), Some(default.clone()));
        assert_eq!(config_path(Some(given.clone()), &default), Some(given));
        let args = Args::try_parse_from(["homedrop"]).unwrap();
        let c = Config::from_args_with_default(args, &default).unwrap();
        assert_eq!(c.room_capacity, 7);
        assert_eq!(c.config_file.as_deref(), Some(default.as_path()));
        std::fs::remove_file(&default).unwrap();
        let args = Args::try_parse_from(["homedrop"]).unwrap();
        let c = Config::from_args_with_default(args, &default).unwrap();
        assert_eq!((c.room_capacity, c.config_file), (10, None));
        // A missing file named explicitly is an error, not silently skipped.
        let args = Args::try_parse_from(["homedrop", "--config", default.to_str().unwrap()]);
        let e = Config::from_args(args.unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("homedrop.toml") && e.contains("cannot read"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_errors_name_the_key_and_line() {
        let dir = temp("errors");
        let f = dir.join("bad.toml");
        let cases = [
            ("http = \"127.0.0.1:1\"\nhtp = \"x\"\n", "line 2, key `htp`"),
            ("room-capacity = \"x\"\n", "line 1, key `room-capacity`"),
            ("\nmax-connections = -1\n", "line 2, key `max-connections`"),
            ("no-mdns = 3\n", "line 1, key `no-mdns`"),
            ("room-capacity = 99\n", "key `room-capacity`"),
            ("http = \"nowhere\"\n", "key `http`"),
            ("log = \"=[\"\n", "key `log`"),
            ("trusted-proxy = [\"proxy\"]\n", "key `trusted-proxy`"),
            ("this is not toml\n", "line 1"),
        ];
        for (text, want) in cases {
            std::fs::write(&f, text).unwrap();
            let args = Args::try_parse_from(["homedrop", "--config", f.to_str().unwrap()]);
            let e = Config::from_args(args.unwrap()).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("bad.toml"), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
