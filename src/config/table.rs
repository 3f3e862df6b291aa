//! `settings!`: the one table of settings (in `config.rs`) turned into everything that needs
//! the list: the command line and its `HOMEDROP_*` variables ([`Args`](super::Args)), the
//! file's keys (`FileConfig`), the validated values (`Layer`), [`Config`](super::Config) with
//! its `Default`, and the `--print-config` lines.
//!
//! Why a `macro_rules!` table and not a derive on a struct: each setting exists in five
//! shapes (flag, variable, file key, field, printed line) with different types; a table
//! keeps them one entry, in one order, without a new crate. The expansion names `kinds`,
//! `Kind`, `Print`, `Sources`, `flag_err`, `show`, `base_command` and `ConfigError` as they
//! are in scope where the table is (config.rs imports them).

/// A key spelled at compile time for the environment (`spelled!("HOMEDROP_", "room-capacity",
/// true)` is `"HOMEDROP_ROOM_CAPACITY"`) or as the file's other spelling (`room_capacity`).
macro_rules! spelled {
    ($prefix:literal, $key:literal, $upper:literal) => {{
        const KEY: &str = $key;
        const BYTES: [u8; $prefix.len() + KEY.len()] = kinds::spell($prefix, KEY, $upper);
        const TEXT: &str = match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("keys are ASCII"),
        };
        TEXT
    }};
}

/// The table's grammar is in config.rs's module doc. This macro is long because it writes
/// every shape of the list in one place; each block below is one shape.
macro_rules! settings {
    (@check) => { Default::default() };
    (@check $check:expr) => { $check };
    (@print $c:expr, $field:ident, [$($cty:ty)?], [$print:expr]) => { show($c, $print) };
    (@print $c:expr, $field:ident, [$cty:ty], []) => { Print::toml(&$c.$field) };
    (
        $(
            #[doc = $doc:literal]
            $key:literal $field:ident : $kind:ty $([$check:expr])?, $vname:literal
                $(=> $cty:ty = $default:expr)? $(, print $print:expr)?;
        )*
        more {
            $( $(#[doc = $xdoc:literal])* $xfield:ident : $xty:ty = $xdefault:expr, )*
        }
    ) => {
        /// The command line and its environment variables, before validation: what is not
        /// given is `None` (or empty), so that the file and the defaults can fill it.
        #[derive(Debug, Default)]
        pub struct Args {
            /// `--config`: the file to read instead of [`DEFAULT_CONFIG_FILE`].
            pub config: Option<PathBuf>,
            /// `--print-config`: print the effective configuration and exit.
            pub print_config: bool,
            $( #[doc = $doc] pub $field: <$kind as Kind>::Flag, )*
        }

        impl clap::CommandFactory for Args {
            fn command() -> clap::Command {
                base_command()$(.arg(<$kind as Kind>::arg(
                    clap::Arg::new($key)
                        .long($key)
                        .env(spelled!("HOMEDROP_", $key, true))
                        .value_name($vname)
                        .help($doc.trim()),
                )))*
            }
            fn command_for_update() -> clap::Command {
                Self::command()
            }
        }

        impl clap::FromArgMatches for Args {
            fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
                Ok(Args {
                    config: m.get_one::<PathBuf>("config").cloned(),
                    print_config: m.get_flag("print-config"),
                    $( $field: <$kind as Kind>::flag(m, $key), )*
                })
            }
            fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
                *self = Self::from_arg_matches(m)?;
                Ok(())
            }
        }

        impl clap::Parser for Args {}

        /// The keys a config file may hold, each as the file types it (see file.rs).
        #[derive(Debug, Default)]
        struct FileConfig {
            $( $field: Option<<$kind as Kind>::File>, )*
        }

        /// A key of the file, by the field it fills.
        #[allow(non_camel_case_types)]
        enum FileKey {
            $( $field, )*
        }

        impl FileKey {
            /// The key spelled with `-` (the flag's name) or `_`.
            fn find(k: &str) -> Option<FileKey> {
                $( if k == $key || k == spelled!("", $key, false) {
                    return Some(FileKey::$field);
                } )*
                None
            }

            /// Every spelling, in the order an unknown key's error lists them.
            fn all() -> &'static [&'static str] {
                static ALL: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
                    let mut all = Vec::new();
                    $(
                        all.push($key);
                        let other = spelled!("", $key, false);
                        if other != $key {
                            all.push(other);
                        }
                    )*
                    all
                });
                &ALL
            }
        }

        impl FileConfig {
            /// One key's value into its field; a key given twice (`-` and `_`) is an error.
            fn read<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: FileKey,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $( FileKey::$field => {
                        if self.$field.is_some() {
                            return Err(serde::de::Error::duplicate_field($key));
                        }
                        self.$field = map.next_value()?;
                    } )*
                }
                Ok(())
            }
        }

        /// Every setting validated, the flag's (or variable's) value over the file's; `None`:
        /// given by neither.
        struct Layer {
            $( $field: Option<<$kind as Kind>::Value>, )*
        }

        impl Layer {
            /// A bad value in the file is an error even when a flag overrides it.
            fn merge(a: Args, f: FileConfig, src: &Sources) -> Result<Layer, ConfigError> {
                Ok(Layer { $( $field: {
                    let check: <$kind as Kind>::Check = settings!(@check $($check)?);
                    let file = f.$field
                        .map(|v| <$kind as Kind>::from_file(check, v))
                        .transpose()
                        .map_err(|b| src.file_err($key, &b.value, b.reason))?;
                    let flag = <$kind as Kind>::from_flag(check, a.$field)
                        .map_err(|b| flag_err($key, &b.value, b.reason))?;
                    flag.or(file)
                }, )* })
            }
        }

        /// Validated configuration the whole application runs from.
        #[derive(Debug, Clone)]
        pub struct Config {
            $( $( #[doc = $doc] pub $field: $cty, )? )*
            $( $(#[doc = $xdoc])* pub $xfield: $xty, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    $( $( $field: $default, )? )*
                    $( $xfield: $xdefault, )*
                }
            }
        }

        impl Config {
            /// The settings that are fields: a given value replaces the default.
            fn apply(&mut self, l: &Layer) {
                $( $(
                    if let Some(v) = &l.$field {
                        let v: $cty = v.clone().into();
                        self.$field = v;
                    }
                )? )*
            }

            /// `key = value` lines for `--print-config`, in the table's order.
            fn print_settings(&self, out: &mut String) {
                $(
                    if let Some(v) = settings!(@print self, $field, [$($cty)?], [$($print)?]) {
                        out.push_str(&format!("{} = {v}\n", $key));
                    }
                )*
            }
        }
    };
}
