//! Rich containers (Pouch's `--rich`): which init runs as PID 1 and what each mode changes in
//! the spec. `dumb-init` is our own static init (pouch-init, bind-mounted read-only at
//! [`INIT_PATH`](super::INIT_PATH)) in front of the command; `sbin-init` is the image's
//! /sbin/init; `systemd` is the image's systemd, given what it needs to boot in a container:
//! tmpfs on /run, /run/lock and /tmp, a private cgroup namespace with a writable
//! /sys/fs/cgroup, `container=pouch`, and SIGRTMIN+3 to stop it. Docker's default
//! capabilities are enough (measured: systemd 252 boots to `running` without CAP_SYS_ADMIN
//! once /run is a tmpfs and its cgroup subtree is writable), so none is added.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use pouch_api::container::ContainerConfig;

use super::{mounts, namespace, SpecError};

/// The signal systemd shuts down on (`systemctl halt` in a container).
pub const SYSTEMD_STOP_SIGNAL: &str = "SIGRTMIN+3";

/// Where systemd may be in an image, in the order tried.
const SYSTEMD_PATHS: [&str; 3] = [
    "/lib/systemd/systemd",
    "/usr/lib/systemd/systemd",
    "/sbin/init",
];

/// What the tmpfs mounts of a systemd container are, with their options.
const SYSTEMD_TMPFS: [(&str, &str); 3] = [
    ("/run", "mode=755,size=65536k"),
    ("/run/lock", "mode=1777,size=5120k"),
    ("/tmp", "mode=1777"),
];

/// A rich container's init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RichMode {
    DumbInit,
    SbinInit,
    Systemd,
}

impl RichMode {
    /// The mode of a container: `None` when it is not rich. Checks the combination of
    /// `Rich`, `RichMode` and `InitScript` (the flags are named in the errors).
    pub fn of(config: &ContainerConfig) -> Result<Option<RichMode>, SpecError> {
        let mode = match config.rich_mode.as_str() {
            "" | "dumb-init" => RichMode::DumbInit,
            "sbin-init" => RichMode::SbinInit,
            "systemd" => RichMode::Systemd,
            other => {
                return Err(SpecError::invalid(
                    "--rich-mode",
                    other,
                    "want dumb-init, sbin-init or systemd",
                ))
            }
        };
        if !config.rich {
            if !config.rich_mode.is_empty() {
                return Err(SpecError::invalid(
                    "--rich-mode",
                    &config.rich_mode,
                    "a rich mode needs --rich",
                ));
            }
            if !config.init_script.is_empty() {
                return Err(SpecError::invalid(
                    "--initscript",
                    &config.init_script,
                    "an initscript needs --rich",
                ));
            }
            return Ok(None);
        }
        Ok(Some(mode))
    }

    pub fn name(self) -> &'static str {
        match self {
            RichMode::DumbInit => "dumb-init",
            RichMode::SbinInit => "sbin-init",
            RichMode::Systemd => "systemd",
        }
    }

    /// Whether the mode runs our init (pouch-init) in front of the command.
    pub fn uses_pouch_init(self) -> bool {
        self == RichMode::DumbInit
    }

    /// The process's arguments: the image's init replaces the command in `sbin-init` and
    /// `systemd` modes (the command of the container is not run; use units or the
    /// initscript), `dumb-init` keeps it (the init wrapper is added with `--init`'s).
    pub fn args(self, rootfs: &Path, args: Vec<String>) -> Result<Vec<String>, SpecError> {
        let in_image = |p: &str| {
            rootfs
                .join(p.trim_start_matches('/'))
                .symlink_metadata()
                .is_ok()
        };
        match self {
            RichMode::DumbInit => Ok(args),
            RichMode::SbinInit => {
                if !in_image("/sbin/init") {
                    return Err(SpecError::invalid(
                        "--rich-mode",
                        "sbin-init",
                        "the image has no /sbin/init: use dumb-init, or an image with an init",
                    ));
                }
                Ok(vec!["/sbin/init".to_string()])
            }
            RichMode::Systemd => SYSTEMD_PATHS
                .iter()
                .find(|p| in_image(p))
                .map(|p| vec![p.to_string()])
                .ok_or_else(|| {
                    SpecError::invalid(
                        "--rich-mode",
                        "systemd",
                        "the image has no systemd (/lib/systemd/systemd): install it in the image or use dumb-init",
                    )
                }),
        }
    }

    /// Environment the mode adds (Pouch's `rich_mode` variables, systemd's `container`).
    pub fn env(self) -> Vec<String> {
        let mut env = vec![
            "rich_mode=true".to_string(),
            format!("rich_mode_launch_manner={}", self.name()),
        ];
        if self == RichMode::Systemd {
            env.push("container=pouch".to_string());
        }
        env
    }

    /// Changes the generated spec for the mode: for systemd, the tmpfs mounts (unless the
    /// user mounts something there), a writable /sys/fs/cgroup and a cgroup namespace.
    pub fn apply(self, spec: &mut Spec) {
        if self != RichMode::Systemd {
            return;
        }
        let mut list: Vec<Mount> = spec.mounts().clone().unwrap_or_default();
        for m in list.iter_mut() {
            if m.destination() == Path::new("/sys/fs/cgroup") {
                let opts: Vec<String> = m
                    .options()
                    .iter()
                    .flatten()
                    .map(|o| {
                        if o == "ro" {
                            "rw".to_string()
                        } else {
                            o.clone()
                        }
                    })
                    .collect();
                m.set_options(Some(opts));
            }
        }
        for (dest, opts) in SYSTEMD_TMPFS {
            if list.iter().any(|m| m.destination() == Path::new(dest)) {
                continue;
            }
            let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
            options.extend(opts.split(',').map(str::to_string));
            let mut m = mounts::mount(dest, "tmpfs", "tmpfs", &[]);
            m.set_options(Some(options));
            // After /run, before anything mounted below these directories.
            let pos = list
                .iter()
                .position(|x| {
                    x.destination().starts_with(dest) && x.destination() != Path::new(dest)
                })
                .unwrap_or(list.len());
            list.insert(pos, m);
        }
        spec.set_mounts(Some(list));
        if let Some(linux) = spec.linux_mut() {
            let mut ns = linux.namespaces().clone().unwrap_or_default();
            if !ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup) {
                ns.push(namespace(LinuxNamespaceType::Cgroup, None::<PathBuf>));
            }
            linux.set_namespaces(Some(ns));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rich: bool, mode: &str, script: &str) -> ContainerConfig {
        ContainerConfig {
            rich,
            rich_mode: mode.into(),
            init_script: script.into(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_and_their_checks() {
        assert_eq!(RichMode::of(&config(false, "", "")).unwrap(), None);
        assert_eq!(
            RichMode::of(&config(true, "", "")).unwrap(),
            Some(RichMode::DumbInit)
        );
        assert_eq!(
            RichMode::of(&config(true, "systemd", "/init.sh")).unwrap(),
            Some(RichMode::Systemd)
        );
        let e = RichMode::of(&config(true, "upstart", "")).unwrap_err();
        assert!(e.to_string().contains("--rich-mode"), "{e}");
        let e = RichMode::of(&config(false, "systemd", "")).unwrap_err();
        assert!(e.to_string().contains("needs --rich"), "{e}");
        let e = RichMode::of(&config(false, "", "/init.sh")).unwrap_err();
        assert!(e.to_string().contains("--initscript"), "{e}");
    }

    #[test]
    fn init_is_found_in_the_image() {
        let root = tempfile::tempdir().unwrap();
        let e = RichMode::Systemd
            .args(root.path(), vec!["sh".into()])
            .unwrap_err();
        assert!(e.to_string().contains("no systemd"), "{e}");
        assert!(RichMode::SbinInit.args(root.path(), vec![]).is_err());
        std::fs::create_dir_all(root.path().join("lib/systemd")).unwrap();
        std::fs::create_dir_all(root.path().join("sbin")).unwrap();
        std::os::unix::fs::symlink("/lib/systemd/systemd", root.path().join("sbin/init")).unwrap();
        // a dangling absolute symlink (resolved on the host it would point elsewhere) counts
        assert_eq!(
            RichMode::SbinInit.args(root.path(), vec![]).unwrap(),
            ["/sbin/init"]
        );
        std::fs::write(root.path().join("lib/systemd/systemd"), "").unwrap();
        assert_eq!(
            RichMode::Systemd.args(root.path(), vec![]).unwrap(),
            ["/lib/systemd/systemd"]
        );
        assert_eq!(
            RichMode::DumbInit
                .args(root.path(), vec!["sh".into()])
                .unwrap(),
            ["sh"]
        );
    }
}
