//! Reading environment variables, and reporting bad values once.

use std::time::Duration;

use crate::say_once::say_once;

/// Reads a variable; an empty value counts as unset (as the OTel spec says).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// One stderr line per bad variable for the life of the process.
pub(crate) fn report_bad_var(name: &'static str, value: &str, why: &str, fallback: &str) {
    say_once(name, || {
        format!("xray: ignoring {name}={value:?} ({why}); using {fallback}")
    });
}

/// The first of `names` that is set, with its name.
pub(crate) fn first_set(env: Env<'_>, names: &[&'static str]) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|&name| env(name).map(|value| (name, value)))
}

/// A positive integer in `name`, else `default` (a bad value is reported).
pub(crate) fn positive(env: Env<'_>, name: &'static str, default: u64) -> u64 {
    match env(name) {
        None => default,
        Some(value) => match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                report_bad_var(
                    name,
                    &value,
                    "expected a positive integer",
                    &default.to_string(),
                );
                default
            }
        },
    }
}

/// Milliseconds in the first set of `names`, else `default`.
pub(crate) fn millis(env: Env<'_>, names: &[&'static str], default: Duration) -> Duration {
    match first_set(env, names) {
        None => default,
        Some((name, value)) => match value.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                report_bad_var(
                    name,
                    &value,
                    "expected milliseconds",
                    &format!("{} ms", default.as_millis()),
                );
                default
            }
        },
    }
}

/// A fixed environment for tests: `vars`, and nothing else.
#[cfg(test)]
pub(crate) fn fixed(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// One of `choices` (names, case-insensitive) in `name`, else `default`;
/// a value that is none of them is reported with the names.
pub(crate) fn choice<T: Copy>(
    env: Env<'_>,
    name: &'static str,
    choices: &[(&str, T)],
    default: (&str, T),
) -> T {
    let Some(value) = env(name) else {
        return default.1;
    };
    let wanted = value.trim().to_ascii_lowercase();
    if let Some(&(_, chosen)) = choices.iter().find(|(n, _)| *n == wanted) {
        return chosen;
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    report_bad_var(
        name,
        &value,
        &format!("expected one of {}", names.join(", ")),
        default.0,
    );
    default.1
}
