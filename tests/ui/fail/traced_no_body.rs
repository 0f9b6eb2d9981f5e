use xray_runtime::traced;

trait Store {
    #[traced]
    fn load(&self, id: u64) -> u64;
}

fn main() {}
