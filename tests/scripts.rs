//! scripts/setup's browser step (issue 29, item 6): the first run needs no
//! browser. Runs the real script with recording stand-ins for apt-get, sudo,
//! cargo, python3 and pip first in PATH, so nothing is installed or built,
//! and asserts which of them it called.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp folder with recording stand-ins and a tools folder whose MiniStack
/// looks absent (so setup "installs" it with the stand-in pip).
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir = std::env::temp_dir().join(format!("cpsf-scripts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("tools/ministack/bin")).unwrap();
        let sandbox = Sandbox { dir };
        for tool in ["apt-get", "sudo", "cargo", "python3"] {
            sandbox.recorder(&sandbox.dir.join("bin").join(tool), tool);
        }
        sandbox.recorder(&sandbox.dir.join("tools/ministack/bin/pip"), "pip");
        sandbox
    }

    /// An executable that appends its name and arguments to calls.log.
    fn recorder(&self, path: &Path, name: &str) {
        let log = self.dir.join("calls.log");
        executable(
            path,
            &format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n", log.display()),
        );
    }

    /// Runs scripts/setup with `path` as PATH.
    fn setup(&self, args: &[&str], path: &str, env: &[(&str, &Path)]) -> Output {
        let mut command = Command::new("bash");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup"))
            .args(args)
            .env("PATH", path)
            .env("CPSF_TOOLS", self.dir.join("tools"))
            .env_remove("CPSF_CHROMIUM")
            .env_remove("CPSF_CHROMEDRIVER");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("run scripts/setup")
    }

    /// The stand-ins first, then the machine's PATH (which has apt-get here).
    fn path_with_system(&self) -> String {
        format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap()
        )
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.join("calls.log")).unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn executable(path: &Path, script: &str) {
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn setup_without_browser_never_calls_apt_or_sudo() {
    let sandbox = Sandbox::new("plain");
    let output = sandbox.setup(&[], &sandbox.path_with_system(), &[]);
    let calls = sandbox.calls();
    assert!(output.status.success(), "{}", text(&output));
    assert!(calls.contains("cargo build --locked"), "{calls}");
    assert!(
        !calls.contains("apt-get") && !calls.contains("sudo"),
        "{calls}"
    );
    assert!(
        !text(&output).to_lowercase().contains("chromium"),
        "{}",
        text(&output)
    );
}

#[test]
fn setup_with_browser_finds_an_installed_one_without_apt() {
    let sandbox = Sandbox::new("found");
    let chromium = sandbox.dir.join("chromium");
    let chromedriver = sandbox.dir.join("chromedriver");
    executable(&chromium, "#!/bin/sh\n");
    executable(
        &chromedriver,
        "#!/bin/sh\necho 'ChromeDriver 142.0.1 (abc)'\n",
    );
    let output = sandbox.setup(
        &["--browser"],
        &sandbox.path_with_system(),
        &[
            ("CPSF_CHROMIUM", &chromium),
            ("CPSF_CHROMEDRIVER", &chromedriver),
        ],
    );
    let calls = sandbox.calls();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("Chromium and ChromeDriver are installed (142.0.1)"),
        "{}",
        text(&output)
    );
    assert!(
        !calls.contains("apt-get") && !calls.contains("sudo"),
        "{calls}"
    );
}

/// A browser named by CPSF_CHROMIUM/CPSF_CHROMEDRIVER but absent is not
/// apt's to fix: setup says what to install and how to point the tests at
/// it (the same words as where apt-get does not exist, e.g. macOS).
#[test]
fn setup_with_browser_that_is_missing_says_what_to_install() {
    let sandbox = Sandbox::new("missing");
    let missing = sandbox.dir.join("nowhere");
    let output = sandbox.setup(
        &["--browser"],
        &sandbox.path_with_system(),
        &[("CPSF_CHROMIUM", &missing), ("CPSF_CHROMEDRIVER", &missing)],
    );
    let said = text(&output);
    let calls = sandbox.calls();
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("export CPSF_CHROMIUM="), "{said}");
    assert!(said.contains("export CPSF_CHROMEDRIVER="), "{said}");
    assert!(said.contains("brew install"), "{said}");
    assert!(
        !calls.contains("apt-get") && !calls.contains("sudo"),
        "{calls}"
    );
    // Stops before building: the browser tests could not run anyway.
    assert!(!calls.contains("cargo build"), "{calls}");
}
