//! AWS Lambda: everything is in the environment the function runs in.

use opentelemetry::{Array, KeyValue, StringValue, Value};

use super::{CLOUD_PLATFORM, CLOUD_PROVIDER, LambdaEnv};

pub(super) fn detect(env: &LambdaEnv) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(CLOUD_PROVIDER, "aws"),
        KeyValue::new(CLOUD_PLATFORM, "aws_lambda"),
        KeyValue::new("faas.name", env.function_name.clone()),
    ];
    if let Some(region) = &env.region {
        attributes.push(KeyValue::new("cloud.region", region.clone()));
    }
    if let Some(version) = &env.function_version {
        attributes.push(KeyValue::new("faas.version", version.clone()));
    }
    if let Some(stream) = &env.log_stream {
        // The execution environment: one log stream each.
        attributes.push(KeyValue::new("faas.instance", stream.clone()));
        attributes.push(names("aws.log.stream.names", stream));
    }
    if let Some(memory) = env.memory_mb {
        let bytes = memory.saturating_mul(1024 * 1024);
        attributes.push(KeyValue::new(
            "faas.max_memory",
            i64::try_from(bytes).unwrap_or(i64::MAX),
        ));
    }
    if let Some(group) = &env.log_group {
        attributes.push(names("aws.log.group.names", group));
    }
    attributes
}

/// A one-element string array attribute.
pub(super) fn names(key: &'static str, name: &str) -> KeyValue {
    KeyValue::new(
        key,
        Value::Array(Array::String(vec![StringValue::from(name.to_string())])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_from_the_environment() {
        let env = LambdaEnv {
            function_name: "orders".into(),
            function_version: Some("$LATEST".into()),
            region: Some("eu-west-1".into()),
            memory_mb: Some(128),
            log_group: Some("/aws/lambda/orders".into()),
            log_stream: Some("2026/01/01/[$LATEST]abc".into()),
        };
        let attributes = detect(&env);
        let get = |key: &str| {
            attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get("cloud.platform"), Some(Value::from("aws_lambda")));
        assert_eq!(get("faas.max_memory"), Some(Value::I64(134_217_728)));
        assert_eq!(
            get("aws.log.group.names"),
            Some(Value::Array(Array::String(vec![
                "/aws/lambda/orders".into()
            ])))
        );
        assert_eq!(
            get("faas.instance"),
            Some(Value::from("2026/01/01/[$LATEST]abc"))
        );
    }
}
