use xray_runtime::traced;

struct Store;

#[traced(name = "store")]
impl Store {
    fn load(&self) {}
    fn save(&self) {}
}

fn main() {
    Store.load();
    Store.save();
}
