//! Rich containers at start and update: the environment written to
//! /etc/profile.d/pouchenv.sh (so login shells, ssh sessions included, see it), and the
//! initscript, run inside the created container before its process starts, on every start
//! and restart. A failing initscript fails the start with its output in the error.

use std::time::Duration;

use pouch_api::container::ContainerConfig;
use pouch_api::ApiError;
use pouch_runtime::driver::RuntimeDriver;
use pouch_runtime::spec::RichMode;

use super::archive::{extract, ExtractOptions};
use super::{internal, Containers};

/// Where the environment goes in a rich container.
pub const PROFILE_ENV: &str = "/etc/profile.d/pouchenv.sh";

/// How long an initscript may run before the start gives up on it.
const INITSCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// At most this much of an initscript's output goes into the start error.
const OUTPUT_IN_ERROR: usize = 4096;

impl Containers {
    /// Writes /etc/profile.d/pouchenv.sh into the container's rootfs when it is rich.
    pub(super) fn write_profile_env(
        &self,
        id: &str,
        config: &ContainerConfig,
    ) -> Result<(), ApiError> {
        let Some(mode) = RichMode::of(config).map_err(|e| ApiError::invalid(e.to_string()))? else {
            return Ok(());
        };
        let mut env: Vec<String> = config.env.clone().unwrap_or_default();
        env.extend(mode.env());
        let script = profile_script(&env);
        let tar = profile_tar(script.as_bytes()).map_err(internal)?;
        extract(
            &self.paths.rootfs(id),
            "/",
            &ExtractOptions {
                no_overwrite_dir_non_dir: true,
                owner: Some((0, 0)),
            },
            &mut tar.as_slice(),
        )
        .map_err(|e| internal(format!("cannot write {PROFILE_ENV} in container {id}: {e}")))
    }

    /// Runs the container's initscript (`/bin/sh -c <script>`) inside the created container;
    /// `Err` holds the message the start fails with.
    pub(super) async fn run_initscript(
        &self,
        name: &str,
        id: &str,
        config: &ContainerConfig,
        driver: &RuntimeDriver,
    ) -> Result<(), String> {
        if !config.rich || config.init_script.is_empty() {
            return Ok(());
        }
        let mut env = config.env.clone().unwrap_or_default();
        if let Ok(Some(mode)) = RichMode::of(config) {
            env.extend(mode.env());
        }
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={}", pouch_runtime::spec::DEFAULT_PATH));
        }
        let argv = [
            "/bin/sh".to_string(),
            "-c".to_string(),
            config.init_script.clone(),
        ];
        let (code, output) = driver
            .exec_wait(id, &env, &argv, INITSCRIPT_TIMEOUT)
            .await
            .map_err(|e| format!("initscript of container {name} could not run: {e}"))?;
        tracing::debug!(id, code, "initscript ran");
        if code == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&output);
        let text = text.trim();
        let text = match text.char_indices().nth(OUTPUT_IN_ERROR) {
            Some((i, _)) => format!("{}...", &text[..i]),
            None => text.to_string(),
        };
        Err(format!(
            "initscript {:?} of container {name} failed with exit code {code}: {text}",
            config.init_script
        ))
    }
}

/// The profile script: one `export KEY='value'` per variable that is a valid shell name.
fn profile_script(env: &[String]) -> String {
    let mut out =
        String::from("# Written by pouchd: the container's environment for login shells.\n");
    for e in env {
        let (key, value) = e.split_once('=').unwrap_or((e.as_str(), ""));
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            continue;
        }
        out.push_str(&format!(
            "export {key}='{}'\n",
            value.replace('\'', "'\\''")
        ));
    }
    out
}

/// A tar holding `etc/profile.d/` and the script, for the safe extractor.
fn profile_tar(script: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_mtime(mtime);
    b.append_data(&mut dir, "etc/profile.d/", std::io::empty())?;
    let mut file = tar::Header::new_gnu();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_mode(0o644);
    file.set_size(script.len() as u64);
    file.set_mtime(mtime);
    b.append_data(&mut file, "etc/profile.d/pouchenv.sh", script)?;
    b.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_values_and_skips_bad_names() {
        let s = profile_script(&[
            "A=1".into(),
            "B=it's".into(),
            "C=".into(),
            "1X=no".into(),
            "A-B=no".into(),
            "D=$HOME `x`".into(),
        ]);
        assert!(s.contains("export A='1'\n"), "{s}");
        assert!(s.contains("export B='it'\\''s'\n"), "{s}");
        assert!(s.contains("export C=''\n"), "{s}");
        assert!(s.contains("export D='$HOME `x`'\n"), "{s}");
        assert!(!s.contains("1X") && !s.contains("A-B"), "{s}");
    }

    #[test]
    fn script_runs_in_a_shell() {
        let s = profile_script(&["B=it's $x".into()]);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{s}\nprintf %s \"$B\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $x");
    }
}
