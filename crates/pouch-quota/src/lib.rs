//! Disk quota: one small trait with two back ends chosen by the filesystem under the home
//! dir (btrfs subvolumes with qgroup limits; project quota on ext4 and xfs). See
//! docs/volumes-contract.md.
