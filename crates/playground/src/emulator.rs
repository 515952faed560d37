//! Which AWS emulator serves the playground: MiniStack (the default: it
//! installs in seconds and behaves like AWS on change sets, rollbacks,
//! accounts and regions, EventBridge) or fakecloud (enforces activity
//! heartbeat and task timeouts; a ~25 min build). docs/emulators.md has
//! the behaviour of each against AWS.

use super::child::EmulatorChild;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The variable that picks the emulator for `cpsf local up`, `cpsf demo`
/// and the tests when no `--emulator` flag is given.
pub const ENV_VAR: &str = "CPSF_EMULATOR";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Emulator {
    #[default]
    Ministack,
    Fakecloud,
}

impl Emulator {
    pub const ALL: [Emulator; 2] = [Emulator::Ministack, Emulator::Fakecloud];

    pub fn name(self) -> &'static str {
        match self {
            Emulator::Ministack => "ministack",
            Emulator::Fakecloud => "fakecloud",
        }
    }

    /// `CPSF_EMULATOR`, or MiniStack when it is unset or empty.
    pub fn from_env() -> Result<Self> {
        match std::env::var(ENV_VAR).unwrap_or_default().trim() {
            "" => Ok(Self::default()),
            name => Self::parse(name),
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
        {
            Some(emulator) => Ok(emulator),
            None => bail!("unknown emulator '{name}': ministack or fakecloud"),
        }
    }

    /// The installed program for this emulator.
    pub fn locate(self) -> Result<PathBuf> {
        match self {
            Emulator::Ministack => super::ministack::locate(),
            Emulator::Fakecloud => super::fakecloud::locate(),
        }
    }

    /// Starts it on loopback; `fakecloud_args` go to fakecloud only,
    /// `ministack_auth` and `ministack_root` to MiniStack only
    /// (`ministack::start`).
    pub async fn start(
        self,
        binary: &Path,
        fakecloud_args: &[String],
        ministack_auth: bool,
        ministack_root: Option<&cpsf_worker::pipeline::wire::SessionCredentials>,
    ) -> Result<(EmulatorChild, String)> {
        match self {
            Emulator::Ministack => {
                super::ministack::start(binary, ministack_auth, ministack_root).await
            }
            Emulator::Fakecloud => super::fakecloud::start(binary, fakecloud_args).await,
        }
    }
}

impl std::fmt::Display for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_are_refused() {
        for emulator in Emulator::ALL {
            assert_eq!(Emulator::parse(emulator.name()).unwrap(), emulator);
        }
        assert_eq!(Emulator::parse("MiniStack").unwrap(), Emulator::Ministack);
        let error = Emulator::parse("localstack").unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown emulator 'localstack': ministack or fakecloud"
        );
    }
}
