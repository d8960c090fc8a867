//! Log output: what is logged comes from `RUST_LOG` (or `PRINTBRIDGE_LOG`, an alias read when
//! `RUST_LOG` is unset), in tracing's filter syntax; how it is written comes from
//! `PRINTBRIDGE_LOG_FORMAT`: `text` (the default; coloured only when standard error is a
//! terminal, so log files hold no escape codes) or `json` (one object per line).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The environment variables that choose the filter, in order of precedence.
pub const FILTER_VARS: [&str; 2] = ["RUST_LOG", "PRINTBRIDGE_LOG"];

/// The filter of the first variable of [`FILTER_VARS`] that is set, else `default`. A
/// filter that cannot be parsed is reported on standard error and `default` is used.
pub fn filter(var: impl Fn(&str) -> Option<String>, default: &str) -> EnvFilter {
    for name in FILTER_VARS {
        let Some(value) = var(name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        match EnvFilter::try_new(&value) {
            Ok(f) => return f,
            Err(e) => {
                eprintln!("printbridge: {name} is not a log filter ({e}); using {default:?}");
                break;
            }
        }
    }
    EnvFilter::new(default)
}

/// `PRINTBRIDGE_LOG_FORMAT`: `json`, or text for anything else (an unknown value is reported).
pub fn format(var: impl Fn(&str) -> Option<String>) -> LogFormat {
    match var("PRINTBRIDGE_LOG_FORMAT").as_deref().map(str::trim) {
        Some("json") => LogFormat::Json,
        None | Some("" | "text") => LogFormat::Text,
        Some(other) => {
            eprintln!(
                "printbridge: PRINTBRIDGE_LOG_FORMAT {other:?} is neither text nor json; using text"
            );
            LogFormat::Text
        }
    }
}

/// Installs the process's subscriber on standard error; `default` is the filter when no
/// variable sets one.
pub fn init(default: &str) {
    let var = |name: &str| std::env::var(name).ok();
    let filter = filter(var, default);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format(var) {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn rust_log_wins_and_printbridge_log_is_an_alias() {
        let f = filter(
            vars(&[("RUST_LOG", "debug"), ("PRINTBRIDGE_LOG", "error")]),
            "info",
        );
        assert_eq!(f.to_string(), "debug");
        let f = filter(vars(&[("PRINTBRIDGE_LOG", "error")]), "info");
        assert_eq!(f.to_string(), "error");
        let f = filter(vars(&[]), "warn");
        assert_eq!(f.to_string(), "warn");
        let f = filter(vars(&[("RUST_LOG", "=[")]), "warn");
        assert_eq!(f.to_string(), "warn");
    }

    #[test]
    fn json_is_chosen_by_name() {
        assert_eq!(
            format(vars(&[("PRINTBRIDGE_LOG_FORMAT", "json")])),
            LogFormat::Json
        );
        assert_eq!(
            format(vars(&[("PRINTBRIDGE_LOG_FORMAT", "text")])),
            LogFormat::Text
        );
        assert_eq!(format(vars(&[])), LogFormat::Text);
        assert_eq!(
            format(vars(&[("PRINTBRIDGE_LOG_FORMAT", "xml")])),
            LogFormat::Text
        );
    }
}
