//! The system resolver's failures: getaddrinfo/getnameinfo `EAI_*` codes.

use super::verdict::{Explanation, Verdict};

/// glibc's EAI_ADDRFAMILY (not exported by the libc crate): the host has no address in the requested family.
pub const EAI_ADDRFAMILY: i32 = -9;

/// One row of the resolver table: the `EAI_*` code, the verdict, its name, the cause and the fix.
type EaiRow = (i32, Verdict, &'static str, &'static str, &'static str);

/// The resolver failures netdiag explains.
const EAIS: &[EaiRow] = &[
    (
        libc::EAI_NONAME,
        Verdict::NotFound,
        "EAI_NONAME",
        "name not found: the resolver knows no such name",
        "check the spelling or the DNS server (/etc/resolv.conf)",
    ),
    (
        libc::EAI_NODATA,
        Verdict::NotFound,
        "EAI_NODATA",
        "the name exists but has no address of the kind asked for",
        "try the other address family (-4 or -6), or check the DNS records",
    ),
    (
        EAI_ADDRFAMILY,
        Verdict::NotFound,
        "EAI_ADDRFAMILY",
        "the name has no address in the requested family",
        "try the other address family (-4 or -6)",
    ),
    (
        libc::EAI_AGAIN,
        Verdict::Temporary,
        "EAI_AGAIN",
        "temporary failure in name resolution: the DNS server did not answer or is unreachable",
        "check the network and the nameservers in /etc/resolv.conf, then try again",
    ),
    (
        libc::EAI_FAIL,
        Verdict::Error,
        "EAI_FAIL",
        "the DNS server failed permanently to answer (SERVFAIL or refused)",
        "check the nameservers in /etc/resolv.conf and the zone's DNS servers",
    ),
    (
        libc::EAI_FAMILY,
        Verdict::Error,
        "EAI_FAMILY",
        "address family not supported by the resolver",
        "use -4 or -6",
    ),
    (
        libc::EAI_MEMORY,
        Verdict::Denied,
        "EAI_MEMORY",
        "the resolver ran out of memory",
        "",
    ),
    (
        libc::EAI_SERVICE,
        Verdict::NotFound,
        "EAI_SERVICE",
        "service name not known for this socket type",
        "give the port as a number",
    ),
    (
        libc::EAI_SYSTEM,
        Verdict::Error,
        "EAI_SYSTEM",
        "a system error happened during name resolution",
        "",
    ),
];

/// Explains a getaddrinfo/getnameinfo failure code (`EAI_*`).
pub fn resolver(eai: i32) -> Explanation {
    match EAIS.iter().find(|row| row.0 == eai) {
        Some(&(_, verdict, name, cause, fix)) => Explanation::new(verdict, name, cause, fix),
        None => Explanation::new(
            Verdict::Error,
            format!("EAI {eai}"),
            "name resolution failed",
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn resolver_codes() {
        let e = resolver(libc::EAI_NONAME);
        assert_eq!(e.verdict, Verdict::NotFound);
        assert!(e.cause.starts_with("name not found"));
        assert!(e.fix.contains("spelling"));
        assert_eq!(resolver(libc::EAI_AGAIN).verdict, Verdict::Temporary);
        assert_eq!(resolver(libc::EAI_FAIL).code, "EAI_FAIL");
        assert_eq!(resolver(libc::EAI_NODATA).verdict, Verdict::NotFound);
        assert_eq!(resolver(12345).verdict, Verdict::Error);
    }

    #[test]
    fn eai_noname_is_name_not_found() {
        let e = resolver(libc::EAI_NONAME);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::NotFound, "EAI_NONAME")
        );
        assert_eq!(
            e.sentence(),
            "name not found: the resolver knows no such name; check the spelling or the DNS server (/etc/resolv.conf)"
        );
    }

    #[test]
    fn eai_again_is_temporary_and_names_the_nameservers() {
        let e = resolver(libc::EAI_AGAIN);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Temporary, "EAI_AGAIN")
        );
        assert!(e.cause.contains("did not answer"));
        assert!(e.fix.contains("/etc/resolv.conf"));
    }

    #[test]
    fn eai_fail_is_a_server_failure() {
        let e = resolver(libc::EAI_FAIL);
        assert_eq!(e.code, "EAI_FAIL");
        assert!(e.cause.contains("SERVFAIL"));
        assert!(e.fix.contains("nameservers"));
    }

    #[test]
    fn eai_nodata_and_addrfamily_suggest_the_other_family() {
        let e = resolver(libc::EAI_NODATA);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::NotFound, "EAI_NODATA")
        );
        assert!(e.fix.contains("-4 or -6"));
        assert_eq!(resolver(EAI_ADDRFAMILY).code, "EAI_ADDRFAMILY");
    }
}
