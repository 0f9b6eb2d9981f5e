// A mistake in one method's options: reported at the token, and the whole
// block is still there for the rest of the crate (no error at the calls).
use xray_runtime::traced;

struct Store;

#[traced]
impl Store {
    #[traced(kind = sever)]
    fn load(&self, id: u64) -> u64 {
        id
    }

    #[traced(args(row))]
    fn save(&self, id: u64) -> u64 {
        id
    }

    #[traced(skip)]
    fn helper(&self) -> u64 {
        0
    }
}

fn main() {
    let total: u64 = Store.load(1) + Store.save(2) + Store.helper();
    println!("{total}");
}
