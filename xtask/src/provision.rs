//! Provisioning: installs what the tests need (a MongoDB wire server, Redis, the official
//! Socket.IO clients, Chromium and playwright-core for the browser client) and tells the tests
//! where it is through environment variables.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, Result};

/// The MongoDB wire server the tests start (a pre-release, so pinned exactly).
const SECANTUS: &str = "SecantusDB==0.7.0b3";

/// Where each provisioned tool lives; passed to the tests as environment variables.
#[derive(Debug, Default)]
pub struct Services {
    pub secantusd: Option<PathBuf>,
    pub redis_server: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub chromium: Option<PathBuf>,
}

impl Services {
    pub fn export(&self, cmd: &mut Command) {
        let pairs = [
            ("CHAT_TEST_SECANTUSD", &self.secantusd),
            ("CHAT_TEST_REDIS_SERVER", &self.redis_server),
            ("CHAT_TEST_NODE", &self.node),
            ("CHAT_TEST_PYTHON", &self.python),
            ("CHAT_TEST_CHROMIUM", &self.chromium),
        ];
        for (name, value) in pairs {
            if let Some(path) = value {
                cmd.env(name, path);
            }
        }
    }
}

pub fn all(root: &Path) -> Result<Services> {
    let venv = root.join("target").join("test-venv");
    let python = python_venv(&venv)?;
    let node = which("node").ok_or("node is not installed; install Node.js 20+ (apt-get install nodejs npm)")?;
    python_client_suite(root, &python)?;
    js_client_suite(root, &node)?;
    web_client_suite(root, &node)?;
    Ok(Services {
        secantusd: Some(secantusd(&venv, &python)?),
        redis_server: Some(redis_server()?),
        node: Some(node),
        python: Some(python),
        chromium: Some(chromium()?),
    })
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A virtualenv under target/ for the Python tools the tests use.
fn python_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let system = which("python3").ok_or("python3 is not installed")?;
        run(Command::new(system).args(["-m", "venv"]).arg(venv))?;
    }
    Ok(python)
}

fn pip_install(python: &Path, requirement: &str) -> Result {
    run(Command::new(python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]))
}

/// The python-socketio client suite's pinned packages (`tests/py/requirements.txt`); pip skips
/// what is installed already.
fn python_client_suite(root: &Path, python: &Path) -> Result {
    let requirements = root.join("tests").join("py").join("requirements.txt");
    run(Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements))
}

/// The socket.io-client suite's packages, exactly as `tests/js/package-lock.json` pins them,
/// unless they are installed already.
fn js_client_suite(root: &Path, node: &Path) -> Result {
    let dir = root.join("tests").join("js");
    let modules = dir.join("node_modules");
    if ["socket.io-client", "ws"].iter().all(|p| modules.join(p).join("package.json").is_file()) {
        return Ok(());
    }
    let beside_node = node.with_file_name("npm");
    let npm = if beside_node.is_file() { beside_node } else { which("npm").ok_or("npm is not installed")? };
    run(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(dir))
}

/// The browser-client suite's `playwright-core`, exactly as `tests/web/package-lock.json` pins
/// it, unless it is installed already. It drives the machine's Chromium (see [`chromium`]);
/// it never downloads a browser of its own.
fn web_client_suite(root: &Path, node: &Path) -> Result {
    let dir = root.join("tests").join("web");
    if dir.join("node_modules").join("playwright-core").join("package.json").is_file() {
        return Ok(());
    }
    let beside_node = node.with_file_name("npm");
    let npm = if beside_node.is_file() { beside_node } else { which("npm").ok_or("npm is not installed")? };
    run(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(dir))
}

fn secantusd(venv: &Path, python: &Path) -> Result<PathBuf> {
    let bin = venv.join("bin").join("secantusd-py");
    if !bin.is_file() {
        pip_install(python, SECANTUS)?;
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{SECANTUS} installed but {} is missing", bin.display()))
    }
}

/// Redis from the machine, or from Debian's package when the machine has none.
fn redis_server() -> Result<PathBuf> {
    if let Some(path) = which("redis-server") {
        return Ok(path);
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get").args(["install", "-y", "-qq", "redis-server"]))?;
    which("redis-server").ok_or_else(|| "redis-server is still missing after apt-get install".into())
}

/// Where Debian's chromium package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium for the browser-client test: Debian's package, installed when missing.
fn chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.is_file() {
        return Ok(path);
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    // CI has no terminal: debconf must not wait for answers.
    run(Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y", "-qq", "chromium"]))?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{CHROMIUM} is still missing after apt-get install chromium"))
    }
}
