use xray_runtime::traced;

struct Order {
    id: u64,
}

impl Order {
    #[traced(args(self.id))]
    fn submit(&self) -> u64 {
        self.id
    }
}

fn main() {
    let _ = Order { id: 1 }.submit();
}
