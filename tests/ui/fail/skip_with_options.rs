use xray_runtime::traced;

struct Store;

#[traced]
impl Store {
    fn load(&self) {}

    #[traced(skip, kind = client)]
    fn helper(&self) {}
}

fn main() {
    Store.load();
    Store.helper();
}
