use xray_runtime::traced;

struct Store;

#[traced(args(id, user_id))]
impl Store {
    fn load(&self, id: u64) -> u64 {
        id
    }

    fn save(&self, id: u64, row: &str) -> usize {
        id as usize + row.len()
    }
}

fn main() {
    Store.load(1);
    Store.save(1, "row");
}
