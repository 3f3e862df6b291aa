//! The kinds of setting in the table of `config.rs`: what clap collects for each (flag and
//! `HOMEDROP_*` variable), what the TOML file holds, and how both are validated into one
//! value. A kind fixes the flag's shape (`--no-x[=BOOL]`, repeatable lists, paths); the
//! table entry gives the validator.
//!
//! The file keeps its own types (a number is a TOML integer: `room-capacity = "3"` is a type
//! error naming `u32`, as serde words it) and is validated as it is, never turned back into
//! text.

use std::fmt::Display;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};

use clap::{Arg, ArgAction, ArgMatches};
use serde::de::DeserializeOwned;

use super::validate::{check_range, parse_num};

/// A refused value, as the error shows it (the secret's is hidden), and why.
pub struct Bad {
    pub value: String,
    pub reason: String,
}

/// One kind of setting.
pub trait Kind {
    /// As clap collects it from the flag or its variable.
    type Flag: std::fmt::Debug + Default;
    /// As the config file holds it (serde's type errors name this type).
    type File: DeserializeOwned;
    /// The validator a table entry gives (`()`: none).
    type Check: Copy;
    /// The validated value.
    type Value: Clone;
    /// The flag's shape; `arg` already has its name, variable, value name and help.
    fn arg(arg: Arg) -> Arg;
    fn flag(m: &ArgMatches, id: &str) -> Self::Flag;
    /// `Ok(None)`: not given.
    fn from_flag(check: Self::Check, v: Self::Flag) -> Result<Option<Self::Value>, Bad>;
    fn from_file(check: Self::Check, v: Self::File) -> Result<Self::Value, Bad>;
}

/// Text checked (and parsed) by a function: addresses, names, the log filter.
pub struct Text<T>(PhantomData<T>);

impl<T: Clone> Kind for Text<T> {
    type Flag = Option<String>;
    type File = String;
    type Check = fn(&str) -> Result<T, String>;
    type Value = T;
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(clap::value_parser!(String))
    }
    fn flag(m: &ArgMatches, id: &str) -> Option<String> {
        m.get_one::<String>(id).cloned()
    }
    fn from_flag(check: Self::Check, v: Option<String>) -> Result<Option<T>, Bad> {
        v.map(|v| Self::from_file(check, v)).transpose()
    }
    fn from_file(check: Self::Check, v: String) -> Result<T, Bad> {
        check(&v).map_err(|reason| Bad { value: v, reason })
    }
}

/// Text that is never echoed: not in errors, not in `--help`'s `[env: ...]`.
pub struct Secret;

impl Kind for Secret {
    type Flag = Option<String>;
    type File = String;
    type Check = fn(&str) -> Result<(), String>;
    type Value = String;
    fn arg(arg: Arg) -> Arg {
        Text::<String>::arg(arg).hide_env_values(true)
    }
    fn flag(m: &ArgMatches, id: &str) -> Option<String> {
        m.get_one::<String>(id).cloned()
    }
    fn from_flag(check: Self::Check, v: Option<String>) -> Result<Option<String>, Bad> {
        v.map(|v| Self::from_file(check, v)).transpose()
    }
    fn from_file(check: Self::Check, v: String) -> Result<String, Bad> {
        let hidden = |reason| Bad {
            value: "…".into(),
            reason,
        };
        check(&v).map(|()| v).map_err(hidden)
    }
}

/// A whole number from `min` to `max` (the check is `(min, max)`): text on the command line,
/// an integer of type `F` in the file, stored as `V`.
pub struct Num<F, V>(PhantomData<(F, V)>);

impl<F, V> Kind for Num<F, V>
where
    F: DeserializeOwned + Into<u64> + Display,
    V: TryFrom<u64> + Clone,
{
    type Flag = Option<String>;
    type File = F;
    type Check = (u64, u64);
    type Value = V;
    fn arg(arg: Arg) -> Arg {
        Text::<String>::arg(arg)
    }
    fn flag(m: &ArgMatches, id: &str) -> Option<String> {
        m.get_one::<String>(id).cloned()
    }
    fn from_flag((min, max): (u64, u64), v: Option<String>) -> Result<Option<V>, Bad> {
        let Some(v) = v else { return Ok(None) };
        let n = parse_num(&v, min, max);
        narrow(n, v, min, max).map(Some)
    }
    fn from_file((min, max): (u64, u64), v: F) -> Result<V, Bad> {
        let shown = v.to_string();
        narrow(check_range(v.into(), min, max), shown, min, max)
    }
}

/// A checked number as the setting's type (every range fits it; the error is the range's).
fn narrow<V: TryFrom<u64>>(
    n: Result<u64, String>,
    value: String,
    min: u64,
    max: u64,
) -> Result<V, Bad> {
    let out_of_range = || format!("must be from {min} to {max}");
    n.and_then(|n| V::try_from(n).map_err(|_| out_of_range()))
        .map_err(|reason| Bad { value, reason })
}

/// `--no-x`, `--no-x=false` (which undoes a file's `no-x = true`), or `HOMEDROP_NO_X=yes`.
pub struct Switch;

impl Kind for Switch {
    type Flag = Option<bool>;
    type File = bool;
    type Check = ();
    type Value = bool;
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(clap::builder::BoolishValueParser::new())
    }
    fn flag(m: &ArgMatches, id: &str) -> Option<bool> {
        m.get_one::<bool>(id).copied()
    }
    fn from_flag((): (), v: Option<bool>) -> Result<Option<bool>, Bad> {
        Ok(v)
    }
    fn from_file((): (), v: bool) -> Result<bool, Bad> {
        Ok(v)
    }
}

/// A list: the flag repeated or comma separated, a TOML array of strings in the file. The
/// check takes the whole list and names the refused item.
pub struct List<T>(PhantomData<T>);

impl<T: Clone> Kind for List<T> {
    type Flag = Vec<String>;
    type File = Vec<String>;
    type Check = fn(&[String]) -> Result<Vec<T>, (String, String)>;
    type Value = Vec<T>;
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Append)
            .value_delimiter(',')
            .value_parser(clap::value_parser!(String))
    }
    fn flag(m: &ArgMatches, id: &str) -> Vec<String> {
        m.get_many::<String>(id)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    }
    fn from_flag(check: Self::Check, v: Vec<String>) -> Result<Option<Vec<T>>, Bad> {
        match v.is_empty() {
            true => Ok(None),
            false => Self::from_file(check, v).map(Some),
        }
    }
    fn from_file(check: Self::Check, v: Vec<String>) -> Result<Vec<T>, Bad> {
        check(&v).map_err(|(value, reason)| Bad { value, reason })
    }
}

/// A file or directory name (clap refuses an empty one on the command line).
pub struct Path;

impl Kind for Path {
    type Flag = Option<PathBuf>;
    type File = PathBuf;
    type Check = fn(&FsPath) -> Result<(), String>;
    type Value = PathBuf;
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(clap::value_parser!(PathBuf))
    }
    fn flag(m: &ArgMatches, id: &str) -> Option<PathBuf> {
        m.get_one::<PathBuf>(id).cloned()
    }
    fn from_flag(check: Self::Check, v: Option<PathBuf>) -> Result<Option<PathBuf>, Bad> {
        v.map(|v| Self::from_file(check, v)).transpose()
    }
    fn from_file(check: Self::Check, v: PathBuf) -> Result<PathBuf, Bad> {
        let value = v.display().to_string();
        check(&v)
            .map(|()| v)
            .map_err(|reason| Bad { value, reason })
    }
}

/// Any path (the TLS files: checked when they are read).
pub fn any_path(_: &FsPath) -> Result<(), String> {
    Ok(())
}

/// A value as `--print-config` writes it: TOML, `None` when the key is left out.
pub trait Print {
    fn toml(&self) -> Option<String>;
}

/// A TOML string literal (quoted and escaped).
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

macro_rules! print_as {
    (quoted: $($t:ty),*) => {$(
        impl Print for $t {
            fn toml(&self) -> Option<String> {
                Some(quote(&self.to_string()))
            }
        }
    )*};
    (bare: $($t:ty),*) => {$(
        impl Print for $t {
            fn toml(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}
print_as!(quoted: String, SocketAddr, IpAddr);
print_as!(bare: bool, u32, u64, usize);

impl Print for PathBuf {
    fn toml(&self) -> Option<String> {
        Some(quote(&self.display().to_string()))
    }
}

impl<T: Print> Print for Option<T> {
    fn toml(&self) -> Option<String> {
        self.as_ref().and_then(Print::toml)
    }
}

impl<T: Print> Print for Vec<T> {
    fn toml(&self) -> Option<String> {
        let items: Vec<String> = self.iter().filter_map(Print::toml).collect();
        Some(format!("[{}]", items.join(", ")))
    }
}

/// `key` spelled for the environment (`room-capacity` → `HOMEDROP_ROOM_CAPACITY`) or as the
/// file's other spelling (`room_capacity`), at compile time: clap and serde want
/// `&'static str`, and a `macro_rules!` table cannot change a literal's case. Use through
/// `spelled!`.
pub const fn spell<const N: usize>(prefix: &str, key: &str, upper: bool) -> [u8; N] {
    let (p, k) = (prefix.as_bytes(), key.as_bytes());
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = match i < p.len() {
            true => p[i],
            false => match k[i - p.len()] {
                b'-' => b'_',
                b if upper => b.to_ascii_uppercase(),
                b => b,
            },
        };
        i += 1;
    }
    out
}
