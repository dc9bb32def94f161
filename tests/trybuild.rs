//! Compile-time behaviour of `#[kernel]`: misuse fails with a pinned
//! message at the right span; every supported form compiles.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
