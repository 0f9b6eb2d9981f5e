//! AWS Elastic Beanstalk: the environment is described in a file the
//! platform writes for X-Ray.

use std::io::Read;
use std::path::Path;

use opentelemetry::KeyValue;

use super::json;
use super::{CLOUD_PLATFORM, CLOUD_PROVIDER};

/// The most read of the file.
const MAX_FILE: u64 = 64 * 1024;

/// Nothing when the file is not there (not Elastic Beanstalk).
pub(super) fn detect(file: &Path) -> Result<Vec<KeyValue>, String> {
    let Ok(opened) = std::fs::File::open(file) else {
        return Ok(Vec::new());
    };
    let mut text = Vec::new();
    opened
        .take(MAX_FILE)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let document = json::parse(&text).ok_or_else(|| format!("{} is not JSON", file.display()))?;
    let mut attributes = vec![
        KeyValue::new(CLOUD_PROVIDER, "aws"),
        KeyValue::new(CLOUD_PLATFORM, "aws_elastic_beanstalk"),
    ];
    if let Some(name) = json::string(&document, &["environment_name"]) {
        attributes.push(KeyValue::new("service.namespace", name.to_string()));
    }
    if let Some(deployment) = json::text(&document, &["deployment_id"]) {
        attributes.push(KeyValue::new("service.instance.id", deployment));
    }
    if let Some(version) = json::string(&document, &["version_label"]) {
        attributes.push(KeyValue::new("service.version", version.to_string()));
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_or_adds_nothing() {
        let dir = std::env::temp_dir().join(format!("xray-eb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("environment.conf");
        std::fs::write(
            &file,
            r#"{"deployment_id":23,"version_label":"app-1.2","environment_name":"orders-prod"}"#,
        )
        .unwrap();
        let attributes = detect(&file).unwrap();
        let get = |key: &str| super::super::text_of(&attributes, key);
        assert_eq!(
            get("cloud.platform").as_deref(),
            Some("aws_elastic_beanstalk")
        );
        assert_eq!(get("service.instance.id").as_deref(), Some("23"));
        assert_eq!(get("service.namespace").as_deref(), Some("orders-prod"));
        std::fs::write(&file, "garbage").unwrap();
        assert!(detect(&file).unwrap_err().contains("not JSON"));
        assert!(detect(&dir.join("missing")).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
