use xray_runtime::traced;

struct Store;

#[traced]
impl Store {
    #[traced(kind = client)]
    #[traced(name = "load")]
    fn load(&self) {}
}

fn main() {
    Store.load();
}
