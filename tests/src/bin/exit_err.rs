//! `main` returns `Err`: the process exits with code 1 after the spans of the
//! failed work, with their error statuses, are flushed.

use std::error::Error;
use std::fmt;

use xray_runtime::{traced, xray_main, xray_root};

#[derive(Debug)]
struct JobError {
    row: u32,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} failed validation", self.row)
    }
}

impl Error for JobError {}

#[xray_main(service = "exit-err", exporter = json)]
fn main() -> Result<(), Box<dyn Error>> {
    let rows = err_run_job("batch-42")?;
    // Not reached: the job fails.
    println!("unexpected success with {rows} rows");
    Ok(())
}

#[xray_root(args(job))]
fn err_run_job(job: &str) -> Result<u32, JobError> {
    let rows = err_fetch_rows(job)?;
    err_validate(rows)?;
    Ok(rows)
}

#[traced(args(job))]
fn err_fetch_rows(job: &str) -> Result<u32, JobError> {
    Ok(u32::try_from(job.len()).unwrap_or(0) / 3)
}

#[traced(args(rows))]
fn err_validate(rows: u32) -> Result<(), JobError> {
    err_check_row(rows)
}

#[traced(args(row))]
fn err_check_row(row: u32) -> Result<(), JobError> {
    Err(JobError { row })
}
