//! A real browser for the approval page: Chromium, headless, driven
//! through its ChromeDriver over WebDriver (fantoccini). Debian's by
//! default (`scripts/setup --browser` installs both where apt exists);
//! elsewhere (e.g. macOS) `CPSF_CHROMIUM` and `CPSF_CHROMEDRIVER` name a
//! Chromium or Chrome and its ChromeDriver. Nothing is downloaded at test
//! time. Screenshots go to target/screenshots/.

use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The browser's binary: `CPSF_CHROMIUM`, or Debian's chromium.
fn chromium() -> PathBuf {
    tool("CPSF_CHROMIUM", "/usr/bin/chromium")
}

/// Its driver: `CPSF_CHROMEDRIVER`, or Debian's chromium-driver.
fn chromedriver() -> PathBuf {
    tool("CPSF_CHROMEDRIVER", "/usr/bin/chromedriver")
}

fn tool(var: &str, debian: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from(debian), PathBuf::from)
}

pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Chromium at a phone's width, headless, with the flags this
    /// machine's closed network needs (no background connections).
    pub async fn start() -> Browser {
        let (chromium, chromedriver) = (chromium(), chromedriver());
        assert!(
            chromium.exists() && chromedriver.exists(),
            "Chromium and ChromeDriver are needed at {} and {}: run scripts/setup --browser \
             (or set CPSF_CHROMIUM and CPSF_CHROMEDRIVER)",
            chromium.display(),
            chromedriver.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let endpoint = format!("http://127.0.0.1:{port}");
        crate::harness::wait_for_long("chromedriver", Duration::from_secs(20), || async {
            cpsf_worker::probe::http_status(&endpoint, "GET", "/status")
                .await
                .ok()
        })
        .await;
        let profile =
            std::env::temp_dir().join(format!("cpsf-chromium-{}-{port}", std::process::id()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=430,1200",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = fantoccini::ClientBuilder::rustls()
            .expect("a WebDriver client")
            .capabilities(capabilities)
            .connect(&endpoint)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Saves the page as target/screenshots/<name>.png.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(fantoccini::Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
