//! The export pipeline's limits (`OTEL_BSP_*`) and the clock (`XRAY_CLOCK`).

use std::time::Duration;

use super::env::{Env, positive, report_bad_var};
use crate::clock::ClockChoice;
use crate::collector::Limits;

pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
pub(crate) const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
pub(crate) const XRAY_CLOCK: &str = "XRAY_CLOCK";

/// Spans that may wait for export, unless configured otherwise (the
/// specification's default).
const DEFAULT_MAX_QUEUE_SIZE: u64 = 2048;
/// The most spans that may wait: about 450 MiB of queue.
pub(crate) const MAX_QUEUE_SIZE: u64 = 1 << 22;
/// The most spans in one export.
const DEFAULT_MAX_EXPORT_BATCH_SIZE: u64 = 512;
/// How long spans may wait before export, in milliseconds.
const DEFAULT_SCHEDULE_DELAY_MS: u64 = 5000;

/// The limits, with the export timeout resolved elsewhere
/// (`OTEL_BSP_EXPORT_TIMEOUT`, also the shutdown timeout).
pub(crate) fn resolve_limits(env: Env<'_>, export_timeout: Duration) -> Limits {
    let mut max_queue = positive(env, OTEL_BSP_MAX_QUEUE_SIZE, DEFAULT_MAX_QUEUE_SIZE);
    if max_queue > MAX_QUEUE_SIZE {
        report_bad_var(
            OTEL_BSP_MAX_QUEUE_SIZE,
            &max_queue.to_string(),
            "more than the largest queue, about 450 MiB of spans",
            &MAX_QUEUE_SIZE.to_string(),
        );
        max_queue = MAX_QUEUE_SIZE;
    }
    // As the specification says: a batch is never larger than the queue.
    let max_batch = positive(
        env,
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
    )
    .min(max_queue);
    Limits {
        max_queue: max_queue as usize,
        max_batch: max_batch as usize,
        schedule_delay: Duration::from_millis(positive(
            env,
            OTEL_BSP_SCHEDULE_DELAY,
            DEFAULT_SCHEDULE_DELAY_MS,
        )),
        export_timeout,
    }
}

/// `XRAY_CLOCK`: `auto` (the CPU's counter when reliable) or `monotonic`.
pub(crate) fn resolve_clock(env: Env<'_>) -> ClockChoice {
    match env(XRAY_CLOCK) {
        None => ClockChoice::Auto,
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "auto" => ClockChoice::Auto,
            "monotonic" => ClockChoice::Monotonic,
            _ => {
                report_bad_var(XRAY_CLOCK, &value, "expected auto or monotonic", "auto");
                ClockChoice::Auto
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn limits(vars: &[(&str, &str)]) -> Limits {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_limits(&move |name| map.get(name).cloned(), Duration::from_secs(5))
    }

    #[test]
    fn defaults_and_bad_values() {
        let l = limits(&[]);
        assert_eq!((l.max_queue, l.max_batch), (2048, 512));
        assert_eq!(l.schedule_delay, Duration::from_millis(5000));
        let l = limits(&[
            (OTEL_BSP_MAX_QUEUE_SIZE, "100"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "0"),
            (OTEL_BSP_SCHEDULE_DELAY, "soon"),
        ]);
        assert_eq!(l.max_queue, 100);
        assert_eq!(
            l.max_batch, 100,
            "zero is refused, and a batch fits the queue"
        );
        assert_eq!(l.schedule_delay, Duration::from_millis(5000));
    }

    #[test]
    fn a_huge_queue_is_clamped() {
        let l = limits(&[(OTEL_BSP_MAX_QUEUE_SIZE, "10000000000")]);
        assert_eq!(l.max_queue as u64, MAX_QUEUE_SIZE);
    }

    #[test]
    fn clock_choice() {
        let map = |v: &'static str| move |name: &str| (name == XRAY_CLOCK).then(|| v.to_string());
        assert_eq!(resolve_clock(&map("monotonic")), ClockChoice::Monotonic);
        assert_eq!(resolve_clock(&map("AUTO")), ClockChoice::Auto);
        assert_eq!(resolve_clock(&map("sundial")), ClockChoice::Auto);
    }
}
