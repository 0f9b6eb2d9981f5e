use xray_runtime::xray_main;

#[xray_main(sampler = xray(polling_interval = 5))]
fn main() {}

mod unknown {
    #[xray_runtime::xray_main(sampler = xray(rate = 0.5))]
    fn main() {}
}

mod not_http {
    #[xray_runtime::xray_main(sampler = xray(endpoint = "https://proxy:2000"))]
    fn main() {}
}
