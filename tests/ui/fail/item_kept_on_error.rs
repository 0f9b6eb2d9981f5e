use xray_runtime::traced;

#[traced(kind = sever)]
fn handle(id: u64) -> u64 {
    id + 1
}

#[traced(args(missing))]
async fn fetch() -> u8 {
    1
}

fn main() {
    let next: u64 = handle(1);
    let _future = fetch();
    println!("{next}");
}
