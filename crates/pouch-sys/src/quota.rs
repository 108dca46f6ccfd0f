//! See docs/networking-contract.md and docs/volumes-contract.md.
