//! `newswatch run`: the daemon until SIGINT/SIGTERM; exit 0 after a clean stop.

use tokio_util::sync::CancellationToken;

use crate::commands::Ctx;
use crate::error::CliResult;

pub fn run(ctx: &Ctx) -> CliResult {
    let rt = ctx.runtime()?;
    rt.block_on(async {
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            crate::daemon::shutdown_signal().await;
            tracing::info!("shutdown requested");
            t.cancel();
        });
        crate::daemon::run(ctx.config.clone(), &ctx.db, token).await
    })?;
    Ok(())
}
