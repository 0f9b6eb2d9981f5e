use xray_runtime::traced;

#[traced]
trait Store {
    fn load(&self) -> u64 {
        1
    }
}

fn main() {}
