//! The kernel's neighbour (ARP) table: whether the link layer found an on-link address.

use std::net::IpAddr;

/// True when the kernel's ARP table holds `addr` without a hardware address (incomplete or failed: nothing on
/// the link answered for it). IPv6 (NDP) is not read here and gives false.
pub fn unresolved(addr: IpAddr) -> bool {
    let IpAddr::V4(v4) = addr else {
        return false;
    };
    let Ok(table) = std::fs::read_to_string("/proc/net/arp") else {
        return false;
    };
    unresolved_in(&table, &v4.to_string())
}

/// [`unresolved`] on the text of `/proc/net/arp`: the entry's flags lack ATF_COM (0x2, completed).
fn unresolved_in(table: &str, addr: &str) -> bool {
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 4
            && f[0] == addr
            && u32::from_str_radix(f[2].trim_start_matches("0x"), 16)
                .is_ok_and(|flags| flags & 0x2 == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_entries_are_unresolved() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.232.0.77      0x1         0x0         00:00:00:00:00:00     *        va\n\
                 10.232.0.2       0x1         0x2         c6:4e:8f:5a:3e:33     *        va\n";
        assert!(unresolved_in(t, "10.232.0.77"));
        assert!(!unresolved_in(t, "10.232.0.2"));
        assert!(!unresolved_in(t, "10.232.0.3"));
    }
}
