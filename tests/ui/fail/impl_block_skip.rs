use xray_runtime::traced;

struct Store;

#[traced(skip)]
impl Store {
    fn load(&self) {}
}

fn main() {
    Store.load();
}
