//! See docs/networking-contract.md.
