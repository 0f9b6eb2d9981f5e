use xray_runtime::xray_root;

struct Handler;

#[xray_root]
impl Handler {
    fn handle(&self) {}
}

fn main() {
    Handler.handle();
}
