//! The process of an exec (`runtime exec --process`), derived from the container's spec.

use std::path::Path;

use oci_spec::runtime::{Process, Spec};
use pouch_api::container::ExecConfig;

use super::{caps, console_size, merge_env, oci_user, user, working_dir, SpecError};

/// The process of an exec (`runtime exec --process`): the container's process with the exec's
/// command, tty, env (merged over the container's), working dir, user and, with
/// `Privileged`, every capability.
pub fn exec_process(base: &Spec, exec: &ExecConfig, rootfs: &Path) -> Result<Process, SpecError> {
    let mut p = base
        .process()
        .clone()
        .ok_or_else(|| SpecError::Internal("the container's spec has no process".to_string()))?;
    let args: Vec<String> = exec.cmd.iter().flatten().cloned().collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let mut env = p.env().clone().unwrap_or_default();
    // The container's own TERM=xterm came from its tty; the exec's tty decides now.
    env.retain(|e| e != "TERM=xterm");
    if exec.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    merge_env(&mut env, exec.env.as_deref().unwrap_or_default());
    p.set_args(Some(args))
        .set_terminal(Some(exec.tty))
        .set_console_size(console_size(exec.tty, exec.console_size.unwrap_or([0, 0])))
        .set_env(Some(env));
    if !exec.working_dir.is_empty() {
        p.set_cwd(working_dir(&exec.working_dir)?);
    }
    if !exec.user.is_empty() {
        let (uid, gid, additional) = user::resolve_user(rootfs, &exec.user, &[])?;
        p.set_user(oci_user(uid, gid, additional));
    }
    if exec.privileged {
        p.set_capabilities(Some(caps::CapSet::host_all().to_oci()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::{sh, Fixture};
    use pouch_api::container::{ContainerConfig, HostConfig};

    #[test]
    fn spec_exec_process() {
        let fx = Fixture::new();
        let config = ContainerConfig { tty: true, ..sh() };
        let spec = fx.generate(&config, &HostConfig::default()).unwrap();
        let exec = ExecConfig {
            cmd: Some(vec!["ls".into(), "-l".into()]),
            env: Some(vec!["FOO=baz".into(), "NEW=1".into()]),
            user: "bob:staff".into(),
            working_dir: "/tmp".into(),
            privileged: true,
            ..Default::default()
        };
        let p = exec_process(&spec, &exec, fx.root.path()).unwrap();
        assert_eq!(
            p.args().as_deref().unwrap(),
            &["ls", "-l"].map(String::from)
        );
        let env = p.env().clone().unwrap();
        assert!(env.contains(&"FOO=baz".to_string()));
        assert!(env.contains(&"NEW=1".to_string()));
        assert!(env.contains(&"HOSTNAME=abc123".to_string()));
        assert!(!env.iter().any(|e| e.starts_with("TERM=")));
        assert_eq!(p.terminal(), Some(false));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 50));
        assert_eq!(p.cwd(), Path::new("/tmp"));
        let caps = caps::CapSet::from_oci(p.capabilities().as_ref().unwrap());
        assert_eq!(caps, caps::CapSet::host_all());
        let plain = ExecConfig {
            cmd: Some(vec!["sh".into()]),
            tty: true,
            ..Default::default()
        };
        let p = exec_process(&spec, &plain, fx.root.path()).unwrap();
        assert_eq!(p.cwd(), Path::new("/"));
        assert!(p
            .env()
            .as_ref()
            .unwrap()
            .contains(&"TERM=xterm".to_string()));
        assert_eq!(
            p.capabilities()
                .as_ref()
                .unwrap()
                .bounding()
                .as_ref()
                .unwrap()
                .len(),
            14
        );
        assert!(matches!(
            exec_process(&spec, &ExecConfig::default(), fx.root.path()),
            Err(SpecError::NoCommand)
        ));
    }
}
