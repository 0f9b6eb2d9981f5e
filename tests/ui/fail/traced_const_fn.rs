use xray_runtime::traced;

#[traced]
const fn limit() -> u32 {
    10
}

fn main() {}
