use xray_runtime::traced;

struct Secret(u64);

#[traced(args(secret))]
fn check(secret: Secret) {}

fn main() {}
