//! `printbridge sign`: prints the exact headers the bridge would send, or verifies an
//! inbound signature, so an integrator can debug a 401 in a minute.

/// Arguments of `printbridge sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {}

/// Runs the command, writing its report to `out`; returns the process exit code.
pub fn run(_args: &SignArgs, _out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
