use xray_runtime::traced;

#[traced]
struct Order {
    id: u64,
}

fn main() {
    let _ = Order { id: 1 }.id;
}
