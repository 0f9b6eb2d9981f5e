// A body that does not parse still expands: the compiler reports the
// user's real error, once, and callers keep type-checking.
use xray_runtime::traced;

#[traced(args(id))]
fn load(id: u64) -> u64 {
    let doubled = id * ;
    doubled
}

fn main() {
    let value: u64 = load(1);
    println!("{value}");
}
