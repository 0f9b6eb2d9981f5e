use xray_runtime::traced;

#[traced(err)]
fn find(id: u64) -> Option<u64> {
    Some(id)
}

fn main() {}
