use xray_runtime::traced;

struct Limits;

#[traced]
impl Limits {
    // Left untraced by the block: a `const fn` cannot have a span.
    const fn soft() -> u32 {
        10
    }

    // Asked for explicitly: refused.
    #[traced(name = "hard")]
    const fn hard() -> u32 {
        20
    }
}

fn main() {
    let _ = Limits::soft() + Limits::hard();
}
