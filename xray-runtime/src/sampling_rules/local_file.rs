//! The local rules file: read once at start.

use std::path::Path;

use xray_sampling::RuleSet;

/// The rules of `path`, or the SDKs' default rule (one trace per second
/// and 5% of the rest) with one stderr line naming the file, the position
/// and the reason when it cannot be used. Rules the file holds but X-Ray
/// would ignore are named on stderr too.
pub(crate) fn load(path: &Path) -> RuleSet {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            fallback(path, &err.to_string());
            return RuleSet::from_local(&xray_sampling::LocalRules::sdk_default());
        }
    };
    match RuleSet::from_rules_file(&text) {
        Ok(set) => {
            for skipped in set.skipped() {
                eprintln!(
                    "xray: sampling rules file {}: rule {:?} left out ({})",
                    path.display(),
                    skipped.name,
                    skipped.reason
                );
            }
            set
        }
        Err(err) => {
            fallback(path, &err.to_string());
            RuleSet::from_local(&xray_sampling::LocalRules::sdk_default())
        }
    }
}

fn fallback(path: &Path, why: &str) {
    eprintln!(
        "xray: cannot use the sampling rules file {}: {why}; using the default rule (1 trace per second and 5% of the rest)",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_file_gives_the_default_rule() {
        let dir = std::env::temp_dir().join(format!("xray-rules-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let broken = dir.join("broken.json");
        std::fs::write(&broken, "{\"version\": 2, \"rules\": [").expect("write");
        let names =
            |set: &RuleSet| -> Vec<String> { set.rules().map(|r| r.name.clone()).collect() };
        assert_eq!(names(&load(&broken)), ["Default"]);
        assert_eq!(names(&load(&dir.join("missing.json"))), ["Default"]);
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            r#"{"version": 2, "rules": [{"description": "health", "host": "*", "http_method": "GET",
               "url_path": "/health", "fixed_target": 0, "rate": 0}],
               "default": {"fixed_target": 1, "rate": 0.1}}"#,
        )
        .expect("write");
        assert_eq!(names(&load(&good)), ["health", "Default"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
