//! `s3-multipart-server`: the reference backend with its embedded store.

use clap::Parser;
use s3_multipart_server::{Config, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,s3s=off,s3_multipart_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = Config::parse();
    let running = start(cfg).await?;
    if let Some(addr) = running.s3_addr {
        println!("s3 store: http://{addr} (bucket {})", running.s3.bucket);
    } else {
        println!("s3 store: {} (external, bucket {})", running.s3.endpoint, running.s3.bucket);
    }
    println!("api and demo: {}", running.api_url());
    tokio::select! {
        () = running.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
