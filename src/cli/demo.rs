//! `xskd demo`: the main job on an embedded default.
pub fn demo() -> anyhow::Result<()> {
    anyhow::bail!("demo: being written")
}
