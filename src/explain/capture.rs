//! What a captured conversation says, in plain words: the verdict, cause and fix for each flow that
//! `netdiag capture --conversations` (and `diagnose --capture`) shows. The `code` is the flow's state, the same
//! kebab-case word in the table and in the JSON.

use std::net::IpAddr;

use super::{Explanation, Verdict};

/// Seconds as text: `0.012 ms`, `850.0 ms`, `2.1 s`.
fn secs(s: f64) -> String {
    if s < 1.0 {
        crate::duration::fmt_ms(std::time::Duration::from_secs_f64(s.max(0.0)))
    } else {
        format!("{s:.1} s")
    }
}

/// The ICMP/ICMPv6 message name for a type and code, in the words of capture's lines and verdicts.
pub fn icmp_name(v6: bool, ty: u8, code: u8) -> String {
    let s = if !v6 {
        match (ty, code) {
            (0, _) => "echo reply",
            (8, _) => "echo request",
            (3, 0) => "net unreachable",
            (3, 1) => "host unreachable",
            (3, 2) => "protocol unreachable",
            (3, 3) => "port unreachable",
            (3, 4) => "fragmentation needed",
            (3, 9) | (3, 10) => "network/host prohibited",
            (3, 13) => "administratively prohibited",
            (3, _) => "destination unreachable",
            (4, _) => "source quench",
            (5, _) => "redirect",
            (11, 0) => "time exceeded in transit",
            (11, _) => "fragment reassembly time exceeded",
            (12, _) => "parameter problem",
            (13, _) => "timestamp request",
            (14, _) => "timestamp reply",
            _ => return format!("type {ty} code {code}"),
        }
    } else {
        match (ty, code) {
            (1, 0) => "no route to destination",
            (1, 1) => "administratively prohibited",
            (1, 3) => "address unreachable",
            (1, 4) => "port unreachable",
            (1, 5) | (1, 6) => "source address failed policy",
            (1, _) => "destination unreachable",
            (2, _) => "packet too big",
            (3, _) => "time exceeded",
            (4, _) => "parameter problem",
            (128, _) => "echo request",
            (129, _) => "echo reply",
            (133, _) => "router solicitation",
            (134, _) => "router advertisement",
            (135, _) => "neighbor solicitation",
            (136, _) => "neighbor advertisement",
            (137, _) => "redirect",
            (143, _) => "multicast listener report v2",
            _ => return format!("type {ty} code {code}"),
        }
    };
    s.to_string()
}

/// SYNs with no answer at all.
pub fn tcp_no_answer(syns: u64, over: f64, port: u16) -> Explanation {
    let what = if syns == 1 {
        "1 SYN".to_string()
    } else {
        format!("{syns} SYNs over {}", secs(over))
    };
    Explanation::new(
        Verdict::Filtered,
        "no-answer",
        format!("{what} to port {port}, no answer: dropped on the way or by the host"),
        "check firewalls on the path and on the host (nft list ruleset) and that the host is up",
    )
}

/// An RST answered the SYN.
pub fn tcp_refused(port: u16, after: f64) -> Explanation {
    Explanation::new(
        Verdict::Closed,
        "refused",
        format!(
            "RST from the server right after SYN ({} later): nothing listens on port {port}",
            secs(after)
        ),
        "start the service, or check the port and that it listens on this address (not only 127.0.0.1)",
    )
}

/// An ICMP error answered the flow.
pub fn icmp_rejected(
    v6: bool,
    ty: u8,
    code: u8,
    from: IpAddr,
    protocol: &str,
    port: Option<u16>,
) -> Explanation {
    let name = icmp_name(v6, ty, code);
    let on = port
        .map(|p| format!(" {} port {p}", protocol.to_uppercase()))
        .unwrap_or_default();
    let (verdict, code_word, cause, fix) = match (v6, ty, code) {
        (false, 3, 3) | (true, 1, 4) if protocol == "udp" => (
            Verdict::Closed,
            "closed",
            format!("ICMP {name} from {from}: nothing listens on{on}"),
            "start the service, or check the port".to_string(),
        ),
        (false, 3, 3) | (true, 1, 4) | (false, 3, 9 | 10 | 13) | (true, 1, 1) => (
            Verdict::Denied,
            "rejected",
            format!("ICMP {name} from {from} for{on}: a firewall rejected it"),
            format!("check the firewall rules on {from} (nft list ruleset)"),
        ),
        (false, 3, 4) | (true, 2, _) => (
            Verdict::Protocol,
            "too-big",
            format!("ICMP {name} from {from}: the packets are larger than the path's MTU"),
            "lower the MTU or let path MTU discovery work (do not block ICMP 'fragmentation needed')".to_string(),
        ),
        (false, 11, _) | (true, 3, _) => (
            Verdict::Unreachable,
            "ttl-exceeded",
            format!("ICMP {name} from {from}: the packets expired on the way (a routing loop, or a path longer than the TTL)"),
            "check the routes on the path (netdiag trace or mtr shows where)".to_string(),
        ),
        _ => (
            Verdict::Unreachable,
            "unreachable",
            format!("ICMP {name} from {from}: there is no way to the host"),
            "check that the host is up and the routes toward it (ip route)".to_string(),
        ),
    };
    Explanation::new(verdict, code_word, cause, fix)
}

/// A receiver advertised a zero window and kept it.
pub fn tcp_zero_window(side: &str, longest: f64, still_zero: bool) -> Explanation {
    let tail = if still_zero {
        " and was still 0 when the capture ended"
    } else {
        ""
    };
    Explanation::new(
        Verdict::Protocol,
        "zero-window",
        format!("{side} window stayed 0 for {}{tail}: the receiver is not reading", secs(longest)),
        format!("the program on the {side} side stopped reading its socket (blocked or overloaded); netdiag sockets shows its Recv-Q"),
    )
}

/// An RST after the connection was up.
pub fn tcp_reset(side: &str, after_packets: u64) -> Explanation {
    Explanation::new(
        Verdict::Reset,
        "reset",
        format!("connection reset by the {side} after {after_packets} packets"),
        format!("the {side} aborted the connection (crash, limit or rejection) or a middlebox cut it; check its logs"),
    )
}

/// Data had to be sent again.
pub fn tcp_retransmissions(retrans: u64, segments: u64, dup_acks: u64) -> Explanation {
    let dups = if dup_acks > 0 {
        format!(", {dup_acks} duplicate ACKs")
    } else {
        String::new()
    };
    Explanation::new(
        Verdict::Temporary,
        "retransmissions",
        format!("{retrans} of {segments} data segments retransmitted{dups}: packets are lost on the path"),
        "look for loss on the path (netdiag ping -c 100 shows the rate; ip -s link shows interface drops)",
    )
}

/// Handshake, data, orderly close.
pub fn tcp_completed(closed_by: &str, bytes: u64) -> Explanation {
    Explanation::new(
        Verdict::Ok,
        "completed",
        format!("completed: handshake, {bytes} bytes of data, closed by the {closed_by}"),
        "",
    )
}

/// Up when the capture ended.
pub fn tcp_open() -> Explanation {
    Explanation::new(
        Verdict::Ok,
        "open",
        "established; still open when the capture ended",
        "",
    )
}

/// No handshake in the capture.
pub fn tcp_mid_stream() -> Explanation {
    Explanation::new(
        Verdict::Ok,
        "mid-stream",
        "the capture began in the middle of this conversation (no handshake seen)",
        "",
    )
}

/// UDP or ICMP echo answered.
pub fn answered(sent: u64, back: u64, what: &str) -> Explanation {
    Explanation::new(
        Verdict::Ok,
        "answered",
        format!("answered: {sent} {what} out, {back} back"),
        "",
    )
}

/// UDP or ICMP echo unanswered.
pub fn no_reply(sent: u64, what: &str, to: &str) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "no-reply",
        format!(
            "{sent} {what} {to}, no reply: dropped on the way, or the other side does not answer"
        ),
        "check firewalls on the path; for UDP, check that the service listens (netdiag probe -u)",
    )
}

/// `diagnose --capture` could not capture: `why` is the capture's error; `permission` when it lacked root or
/// CAP_NET_RAW.
pub fn not_captured(why: &str, permission: bool) -> Explanation {
    if permission {
        Explanation::new(
            Verdict::Denied,
            "EPERM",
            format!("the capture could not start: {why}"),
            "run as root, or give the binary CAP_NET_RAW (setcap cap_net_raw+ep)",
        )
    } else {
        Explanation::new(
            Verdict::Error,
            "capture-failed",
            format!("the capture could not run: {why}"),
            "run netdiag capture alone to see why it fails",
        )
    }
}

/// Anything else: seen, nothing to judge.
pub fn seen(protocol: &str) -> Explanation {
    Explanation::new(Verdict::Ok, "seen", format!("{protocol} packets seen"), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_three_examples() {
        let e = tcp_no_answer(3, 3.0, 8080);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Filtered, "no-answer")
        );
        assert!(
            e.cause.starts_with(
                "3 SYNs over 3.0 s to port 8080, no answer: dropped on the way or by the host"
            ),
            "{}",
            e.cause
        );
        let e = tcp_refused(8080, 0.0002);
        assert_eq!(e.verdict, Verdict::Closed);
        assert!(e.cause.starts_with("RST from the server right after SYN"));
        assert!(e.cause.ends_with("nothing listens on port 8080"));
        let e = tcp_zero_window("server", 2.1, false);
        assert_eq!(
            e.cause,
            "server window stayed 0 for 2.1 s: the receiver is not reading"
        );
    }

    #[test]
    fn icmp_errors_by_type_and_code() {
        let from: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            icmp_rejected(false, 3, 3, from, "udp", Some(9)).code,
            "closed"
        );
        assert_eq!(
            icmp_rejected(false, 3, 3, from, "tcp", Some(80)).code,
            "rejected"
        );
        assert_eq!(
            icmp_rejected(false, 3, 13, from, "tcp", Some(80)).code,
            "rejected"
        );
        assert_eq!(
            icmp_rejected(true, 1, 1, from, "tcp", Some(80)).code,
            "rejected"
        );
        assert_eq!(
            icmp_rejected(false, 3, 1, from, "tcp", None).code,
            "unreachable"
        );
        assert_eq!(
            icmp_rejected(false, 11, 0, from, "udp", None).code,
            "ttl-exceeded"
        );
        assert_eq!(
            icmp_rejected(false, 3, 4, from, "tcp", None).code,
            "too-big"
        );
        assert!(icmp_rejected(false, 3, 13, from, "tcp", Some(80))
            .fix
            .contains("10.0.0.2"));
    }
}
