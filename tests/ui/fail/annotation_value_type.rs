use xray_runtime::traced;

struct Customer {
    id: u64,
}

#[traced(annotations(ids = ids, customer = customer))]
fn load(ids: Vec<u64>, customer: &Customer) {}

fn main() {}
