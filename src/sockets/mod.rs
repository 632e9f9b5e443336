//! `netdiag sockets`: this machine's sockets, like `ss -tuap` / `netstat -anp`, as a readable table.
//!
//! On Linux the socket table comes from netlink sock_diag (as `ss` reads it), with the `/proc/net/*` text
//! files as the fallback. The owning processes come from one walk of `/proc/*/fd`, made only when asked for.
//! Other platforms get a clear "not supported on this platform yet" error.

pub mod filter;
mod model;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod owners;
pub mod procnet;
mod render;

pub use model::*;

#[cfg(target_os = "linux")]
use crate::target::Family;

use anyhow::Result;

/// Lists the sockets the request asks for, sorted by protocol then local port.
#[cfg(target_os = "linux")]
pub fn list(req: &SocketsRequest) -> Result<SocketsReport> {
    let (mut sockets, source, mut notes) = read_table(req)?;
    let ctx = filter::EvalCtx::read();
    sockets.retain(|s| req.matches(s) && req.filter.matches(s, &ctx));
    let processes = req.processes || !req.pids.is_empty();
    if processes {
        let wanted: std::collections::HashSet<u64> = sockets
            .iter()
            .filter(|s| s.inode != 0)
            .map(|s| s.inode)
            .collect();
        let map = owners::owners(&wanted);
        if crate::interrupt::requested() {
            notes.push("interrupted: the owner columns may be incomplete".to_string());
        }
        if map.denied > 0 {
            notes.push(format!(
                "the owners of sockets in {} processes could not be read (permission denied; run as root to see them)",
                map.denied
            ));
        }
        for s in &mut sockets {
            s.owners = Some(map.by_inode.get(&s.inode).cloned().unwrap_or_default());
        }
        if !req.pids.is_empty() {
            sockets.retain(|s| {
                s.owners
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|o| req.pids.contains(&o.pid)))
            });
        }
    }
    sort(&mut sockets);
    if req.services {
        name_services(&mut sockets);
    }
    if req.resolve {
        notes.extend(resolve_hosts(&mut sockets));
    }
    Ok(SocketsReport {
        source,
        processes,
        info: req.info,
        timers: req.timers,
        sockets,
        notes,
        interrupted: crate::interrupt::requested(),
    })
}

/// Other platforms: not built yet.
#[cfg(not(target_os = "linux"))]
pub fn list(_req: &SocketsRequest) -> Result<SocketsReport> {
    anyhow::bail!("netdiag sockets is not supported on this platform yet (Linux only)")
}

/// Reads the raw table from the chosen source: netlink, falling back to /proc/net per protocol when the kernel
/// refuses a netlink dump (no sock_diag module, or a sandbox that blocks netlink).
#[cfg(target_os = "linux")]
fn read_table(req: &SocketsRequest) -> Result<(Vec<SocketRow>, Source, Vec<String>)> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut used_proc = false;
    let mut tcp_both = false;
    // The filter expression as a kernel program, as ss sends it: the kernel then skips what cannot match.
    let bc = req.filter.bytecode().unwrap_or_default();
    for (proto, v6) in req.dumps() {
        if proto == SockProto::Tcp && v6 && tcp_both {
            continue; // the IPv4 step already dumped both families
        }
        let from_netlink = match req.source {
            Source::Proc | Source::Counters => None,
            Source::Auto | Source::Netlink => {
                let mask = req.kernel_state_mask(proto);
                let ext = if req.info { netlink::EXT_INFO } else { 0 };
                let both = proto == SockProto::Tcp && !v6 && req.family == Family::Any;
                let mut result = Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
                if both {
                    let before = rows.len();
                    result = netlink::dump_tcp_both(mask, ext, &bc, &mut rows);
                    tcp_both = result.is_ok();
                    if !tcp_both {
                        rows.truncate(before);
                    }
                }
                if !tcp_both || proto != SockProto::Tcp {
                    let before = rows.len();
                    result = netlink::dump(proto, v6, mask, ext, &bc, &mut rows);
                    if result.is_err() {
                        rows.truncate(before);
                    }
                }
                match result {
                    Ok(()) => Some(()),
                    Err(e) if req.source == Source::Netlink => {
                        return Err(anyhow::Error::from(e).context(format!(
                            "reading {} sockets over netlink sock_diag",
                            proto.as_str()
                        )))
                    }
                    Err(e) => {
                        notes.push(format!(
                            "netlink sock_diag refused the {} dump ({e}); read /proc/net instead",
                            proto.as_str()
                        ));
                        None
                    }
                }
            }
        };
        if from_netlink.is_none() {
            used_proc = true;
            procnet::read(proto, v6, &mut rows)?;
        }
    }
    if !req.timers {
        for r in &mut rows {
            r.timer = None;
        }
    }
    let source = if used_proc {
        Source::Proc
    } else {
        Source::Netlink
    };
    Ok((rows, source, notes))
}

/// Protocol order, then local port, then addresses: a stable order for people and for diffs.
pub fn sort(rows: &mut [SocketRow]) {
    rows.sort_unstable_by(|a, b| {
        int_key(a)
            .cmp(&int_key(b))
            .then_with(|| a.local.sort_key().cmp(&b.local.sort_key()))
            .then_with(|| a.peer.sort_key().cmp(&b.peer.sort_key()))
            .then(a.inode.cmp(&b.inode))
    });
}

/// The integer part of the sort order, cheap to compare: (protocol, local port, local address, peer address,
/// peer port). IPv4 sorts before IPv6.
fn int_key(s: &SocketRow) -> (SockProto, u16, (u8, u128), (u8, u128), u16) {
    fn ip(e: &Endpoint) -> (u8, u128) {
        match e.ip() {
            Some(std::net::IpAddr::V4(v4)) => (4, u128::from(u32::from(v4))),
            Some(std::net::IpAddr::V6(v6)) => (6, u128::from(v6)),
            None => (0, 0),
        }
    }
    (
        s.proto,
        s.local.port(),
        ip(&s.local),
        ip(&s.peer),
        s.peer.port(),
    )
}

#[cfg(target_os = "linux")]
fn name_services(rows: &mut [SocketRow]) {
    for s in rows {
        let Some(p) = s.proto.registry_proto() else {
            continue;
        };
        for e in [&mut s.local, &mut s.peer] {
            if let Endpoint::Inet { port, service, .. } = e {
                if *port != 0 {
                    *service = crate::services::name_of(*port, p);
                }
            }
        }
    }
}

/// Most distinct addresses `--resolve` looks up; past that the rest stay numeric (each lookup may wait on DNS).
#[cfg(target_os = "linux")]
const MAX_RESOLVE: usize = 256;

#[cfg(target_os = "linux")]
fn resolve_hosts(rows: &mut [SocketRow]) -> Vec<String> {
    use std::collections::HashMap;
    let mut names: HashMap<std::net::IpAddr, Option<String>> = HashMap::new();
    let mut skipped = 0usize;
    for s in rows.iter() {
        for e in [&s.local, &s.peer] {
            if let Endpoint::Inet { address, .. } = e {
                if address.is_unspecified() || names.contains_key(address) {
                    continue;
                }
                if names.len() >= MAX_RESOLVE {
                    skipped += 1;
                    continue;
                }
                let name = crate::resolve::reverse(*address).ok();
                names.insert(*address, name);
            }
        }
    }
    for s in rows.iter_mut() {
        for e in [&mut s.local, &mut s.peer] {
            if let Endpoint::Inet { address, host, .. } = e {
                if let Some(Some(n)) = names.get(address) {
                    *host = Some(n.clone());
                }
            }
        }
    }
    if skipped > 0 {
        vec![format!(
            "resolved the first {MAX_RESOLVE} distinct addresses only; the rest stay numeric"
        )]
    } else {
        Vec::new()
    }
}
