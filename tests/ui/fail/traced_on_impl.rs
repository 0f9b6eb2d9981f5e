use xray_runtime::traced;

struct Store;

#[traced]
impl Store {
    fn load(&self) {}

    #[traced(skip)]
    fn helper(&self) {}
}

fn main() {
    Store.load();
    Store.helper();
}
