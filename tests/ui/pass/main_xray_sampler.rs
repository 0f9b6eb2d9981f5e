// X-Ray's sampling rules, with every setting, and with none.
use xray_runtime::xray_main;

mod with_settings {
    #[xray_runtime::xray_main(
        exporter = none,
        sampler = xray(endpoint = "none", polling_interval = 60, rules = "sampling-rules.json")
    )]
    pub fn main() {}
}

#[xray_main(exporter = none, sampler = xray)]
fn main() {
    with_settings::main();
}
