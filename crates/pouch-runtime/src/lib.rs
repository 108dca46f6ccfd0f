//! The container runtime side of the engine: the OCI spec built from an image and the create
//! options (`spec`), the OCI runtime command line (`driver`), cgroup statistics (`cgroups`),
//! process listings (`proc`), signal names (`signal`) and the shim's protocol and client
//! (`shim`). See docs/containers-contract.md.

pub mod cgroups;
pub mod driver;
pub mod proc;
pub mod shim;
pub mod signal;
pub mod spec;
