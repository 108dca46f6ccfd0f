//! Network-namespace system calls for the calling thread: leaving for a new network
//! namespace (`unshare(CLONE_NEWNET)`), pinning it with a bind mount of
//! `/proc/thread-self/ns/net`, and joining one from its file (`setns`). Callers run these on
//! a dedicated OS thread that is never reused (see pouch-network's `netns`).
//! See docs/networking-contract.md.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::mount::MountPropagationFlags;
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

use crate::{call_err, SysError};

/// The calling thread's own network namespace, as a path that can be bind-mounted.
const THREAD_NET_NS: &str = "/proc/thread-self/ns/net";

/// Moves the calling thread (only it) into a new, empty network namespace.
pub fn unshare_net() -> Result<(), SysError> {
    // SAFETY: rustix marks `unshare` unsafe because of `CLONE_FILES`, which would split the
    // thread's file-descriptor table from the other threads'. Only `CLONE_NEWNET` is passed:
    // it swaps the thread's network namespace and touches no memory or descriptors.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }
        .map_err(|e| call_err("unshare(CLONE_NEWNET)", Path::new(THREAD_NET_NS), e))
}

/// Bind-mounts the calling thread's network namespace onto `target` (an existing file), so
/// that the namespace outlives the thread. The mount is made private so it does not
/// propagate into other mount namespaces (a container's would keep it busy).
pub fn bind_thread_net_ns(target: &Path) -> Result<(), SysError> {
    rustix::mount::mount_bind(THREAD_NET_NS, target)
        .map_err(|e| call_err("bind mount", target, e))?;
    match rustix::mount::mount_change(target, MountPropagationFlags::PRIVATE) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH);
            Err(call_err("make private", target, e))
        }
    }
}

/// Moves the calling thread into the network namespace whose file (a `/proc/<pid>/ns/net`
/// or a bind mount of one) is `ns`.
pub fn enter_net(ns: &Path) -> Result<(), SysError> {
    let file = File::open(ns).map_err(|e| call_err("open", ns, e))?;
    enter_net_file(&file, ns)
}

/// As [`enter_net`], for an already opened namespace file (`path` names it in errors).
pub fn enter_net_file(file: &File, path: &Path) -> Result<(), SysError> {
    rustix::thread::move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
        .map_err(|e| call_err("setns(CLONE_NEWNET)", path, e))
}
