//! Amazon ECS: the task metadata endpoint v4 (`ECS_CONTAINER_METADATA_URI_V4`),
//! which describes this container and its task.

use std::time::Instant;

use aws_smithy_types::Document;
use opentelemetry::{Array, KeyValue, StringValue, Value};

use super::http::request;
use super::json;
use super::lambda::names;
use super::{CLOUD_PLATFORM, CLOUD_PROVIDER};

pub(super) fn detect(uri: &str, deadline: Instant) -> Result<Vec<KeyValue>, String> {
    let base = uri.trim_end_matches('/');
    let container = fetch(base, deadline)?;
    // The task adds the cluster, the launch type and the zone; without it
    // the container's attributes still stand.
    let task = fetch(&format!("{base}/task"), deadline).ok();
    Ok(attributes(&container, task.as_ref()))
}

fn fetch(url: &str, deadline: Instant) -> Result<Document, String> {
    let body = request("GET", url, &[], None, deadline)?.ok()?;
    json::parse(&body).ok_or_else(|| format!("{url} answered something else than JSON"))
}

/// `arn:<partition>:ecs:<region>:<account>:...` split into its fields.
struct Arn<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

fn arn(text: &str) -> Option<Arn<'_>> {
    let mut fields = text.splitn(6, ':');
    if fields.next()? != "arn" {
        return None;
    }
    let partition = fields.next()?;
    let _service = fields.next()?;
    let region = fields.next()?;
    let account = fields.next()?;
    Some(Arn {
        partition,
        region,
        account,
    })
}

/// Adds `key` when there is a value.
fn put(out: &mut Vec<KeyValue>, key: &'static str, value: Option<&str>) {
    if let Some(value) = value {
        out.push(KeyValue::new(key, value.to_string()));
    }
}

fn attributes(container: &Document, task: Option<&Document>) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new(CLOUD_PROVIDER, "aws"),
        KeyValue::new(CLOUD_PLATFORM, "aws_ecs"),
    ];
    put(
        &mut out,
        "container.id",
        json::string(container, &["DockerId"]),
    );
    put(
        &mut out,
        "container.name",
        json::string(container, &["DockerName"]),
    );
    put(
        &mut out,
        "aws.ecs.container.arn",
        json::string(container, &["ContainerARN"]),
    );
    let task_arn = task
        .and_then(|task| json::string(task, &["TaskARN"]))
        .or_else(|| json::string(container, &["Labels", "com.amazonaws.ecs.task-arn"]));
    let parsed = task_arn.and_then(arn);
    put(&mut out, "aws.ecs.task.arn", task_arn);
    put(
        &mut out,
        "aws.ecs.task.id",
        task_arn.and_then(|arn| arn.rsplit('/').next()),
    );
    if let Some(arn) = &parsed {
        put(&mut out, "cloud.account.id", Some(arn.account));
        put(&mut out, "cloud.region", Some(arn.region));
    }
    if let Some(image) = json::string(container, &["Image"]) {
        // `registry/name:tag`: the tag after the last colon past the last slash.
        let slash = image.rfind('/').map_or(0, |i| i + 1);
        match image[slash..].rfind(':') {
            Some(colon) => {
                put(
                    &mut out,
                    "container.image.name",
                    Some(&image[..slash + colon]),
                );
                out.push(KeyValue::new(
                    "container.image.tags",
                    Value::Array(Array::String(vec![StringValue::from(
                        image[slash + colon + 1..].to_string(),
                    )])),
                ));
            }
            None => put(&mut out, "container.image.name", Some(image)),
        }
    }
    if let Some(task) = task {
        put(
            &mut out,
            "aws.ecs.task.family",
            json::string(task, &["Family"]),
        );
        put(
            &mut out,
            "aws.ecs.task.revision",
            json::string(task, &["Revision"]),
        );
        put(
            &mut out,
            "cloud.availability_zone",
            json::string(task, &["AvailabilityZone"]),
        );
        if let Some(launch_type) = json::string(task, &["LaunchType"]) {
            out.push(KeyValue::new(
                "aws.ecs.launchtype",
                launch_type.to_ascii_lowercase(),
            ));
        }
        if let Some(cluster) = json::string(task, &["Cluster"]) {
            let cluster_arn = match (&parsed, cluster.starts_with("arn:")) {
                (_, true) => Some(cluster.to_string()),
                (Some(arn), false) => Some(format!(
                    "arn:{}:ecs:{}:{}:cluster/{cluster}",
                    arn.partition, arn.region, arn.account
                )),
                (None, false) => None,
            };
            if let Some(cluster_arn) = cluster_arn {
                out.push(KeyValue::new("aws.ecs.cluster.arn", cluster_arn));
            }
        }
    }
    if json::string(container, &["LogDriver"]) == Some("awslogs") {
        let group = json::string(container, &["LogOptions", "awslogs-group"]);
        let stream = json::string(container, &["LogOptions", "awslogs-stream"]);
        let region = json::string(container, &["LogOptions", "awslogs-region"]);
        if let Some(group) = group {
            out.push(names("aws.log.group.names", group));
        }
        if let Some(stream) = stream {
            out.push(names("aws.log.stream.names", stream));
        }
        if let (Some(group), Some(region), Some(arn)) = (group, region, &parsed) {
            let group_arn = format!(
                "arn:{}:logs:{region}:{}:log-group:{group}",
                arn.partition, arn.account
            );
            if let Some(stream) = stream {
                out.push(names(
                    "aws.log.stream.arns",
                    &format!("{group_arn}:log-stream:{stream}"),
                ));
            }
            out.push(names("aws.log.group.arns", &group_arn));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_launch_type_cluster_names_become_arns() {
        let container = json::parse(
            br#"{"DockerId": "abc", "DockerName": "ecs-app-1", "Image": "localhost:5000/team/app:1.2",
                "LogDriver": "json-file"}"#,
        )
        .unwrap();
        let task = json::parse(
            br#"{"Cluster": "prod", "TaskARN": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f1e",
                "Family": "app", "Revision": "7", "LaunchType": "EC2", "AvailabilityZone": "eu-west-1a"}"#,
        )
        .unwrap();
        let attributes = attributes(&container, Some(&task));
        let get = |key: &str| super::super::text_of(&attributes, key);
        assert_eq!(
            get("aws.ecs.cluster.arn").as_deref(),
            Some("arn:aws:ecs:eu-west-1:111122223333:cluster/prod")
        );
        assert_eq!(get("aws.ecs.launchtype").as_deref(), Some("ec2"));
        assert_eq!(get("aws.ecs.task.id").as_deref(), Some("0f1e"));
        assert_eq!(
            get("container.image.name").as_deref(),
            Some("localhost:5000/team/app")
        );
        assert_eq!(get("cloud.account.id").as_deref(), Some("111122223333"));
        assert_eq!(get("aws.log.group.names"), None, "not awslogs");
    }
}
