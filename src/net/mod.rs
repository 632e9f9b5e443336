//! The one layer of system calls that netdiag's subcommands share. All `unsafe` lives here, each block with
//! a SAFETY comment.

#[cfg(target_os = "linux")]
pub mod bpf;
pub mod clock;
#[cfg(target_os = "linux")]
pub mod packet;
