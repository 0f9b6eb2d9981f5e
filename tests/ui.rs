//! The macros' compile surface: every supported shape compiles (and runs),
//! every mistake is refused with a message pointing at the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
