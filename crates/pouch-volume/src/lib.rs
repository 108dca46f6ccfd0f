//! Volumes: the `local` and `tmpfs` drivers, volume records in the metadata store, and
//! the mounts a container's volumes need. See docs/volumes-contract.md.
