//! `diagnose --capture`: capture the walk's packets while diagnose connects and talks, and add what they show to
//! the verdict: the SYNs sent, what came back and from which address, with each conversation's verdict from
//! the shared explanation table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use super::model::Evidence;
use crate::capture::rows::Packets;
use crate::capture::{self, Flow, Request, Source, TimeFormat};
use crate::explain;

/// Packet lines kept for the report (the walk's packets are few; a busy port must not grow it without bound).
const MAX_LINES: usize = 200;

/// Runs `walk` while capturing TCP to `port` and ICMP on every interface; returns its result and the evidence.
pub fn with_capture<T>(port: u16, walk: impl FnOnce() -> T) -> (T, Evidence) {
    let filter = format!("tcp port {port} or icmp or icmp6");
    let stop = Arc::new(AtomicBool::new(false));
    let req = Request {
        source: Source::Live {
            interface: None,
            promiscuous: false,
            buffer: 2 << 20,
        },
        filter: filter.clone(),
        snaplen: 262_144,
        count: None,
        duration: Some(Duration::from_secs(600)),
        write: None,
        show: true,
        conversations: true,
        block_timeout: Duration::from_millis(10),
        stop: Some(stop.clone()),
    };
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let sink = lines.clone();
    let err_tx = ready_tx.clone();
    let handle = std::thread::spawn(move || {
        let mut view = Packets::new(TimeFormat::Relative, true, false, true);
        let r = capture::run(
            &req,
            &mut |_| {
                let _ = ready_tx.send(Ok(()));
                Ok(())
            },
            &mut |s| {
                let mut v = sink.lock().unwrap_or_else(|e| e.into_inner());
                if v.len() < MAX_LINES {
                    v.push(view.line(s));
                }
                Ok(())
            },
        );
        if let Err(e) = &r {
            let _ = err_tx.send(Err(format!("{e:#}")));
        }
        r
    });
    let started = ready_rx.recv_timeout(Duration::from_secs(5));
    let out = walk();
    let mut ev = Evidence {
        filter,
        evidence: Vec::new(),
        flows: Vec::new(),
        packets: Vec::new(),
        explanation: None,
    };
    let failed = |why: String| {
        let permission = why.contains("CAP_NET_RAW");
        Some(explain::capture::not_captured(&why, permission))
    };
    match started {
        Ok(Ok(())) => {
            // Late answers (an RST, an ICMP error) arrive within a moment of the walk's end.
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            match handle.join() {
                Ok(Ok(summary)) => {
                    ev.packets =
                        std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
                    ev.flows = summary
                        .conversations
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|f| f.protocol != "tcp" || f.server.port == Some(port))
                        .collect();
                    ev.evidence = ev.flows.iter().map(sentence).collect();
                }
                Ok(Err(e)) => ev.explanation = failed(format!("{e:#}")),
                Err(_) => ev.explanation = failed("the capture thread failed".into()),
            }
        }
        Ok(Err(e)) => ev.explanation = failed(e),
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            ev.explanation = failed("the capture did not start within 5 s".into());
        }
    }
    (out, ev)
}

/// What a conversation shows: what was sent, what came back and from where, then its verdict.
pub fn sentence(f: &Flow) -> String {
    let icmp = f.protocol.starts_with("icmp");
    let server = match f.server.port {
        Some(p) if !icmp && f.server.address.is_ipv6() => format!("[{}]:{p}", f.server.address),
        Some(p) if !icmp => format!("{}:{p}", f.server.address),
        _ => f.server.address.to_string(),
    };
    let sent = match &f.handshake {
        Some(h) if h.syns > 0 => format!(
            "{} SYN{} sent to {server}",
            h.syns,
            if h.syns == 1 { "" } else { "s" }
        ),
        _ if icmp => format!("{} ICMP packets sent to {server}", f.packets_sent),
        _ => format!(
            "{} {} packets sent to {server}",
            f.packets_sent,
            f.protocol.to_uppercase()
        ),
    };
    let back = if let Some(e) = f.icmp_errors.first() {
        format!("ICMP {} came back from {}", e.name, e.from)
    } else if f.handshake.as_ref().is_some_and(|h| h.syn_ack.is_some()) {
        format!("SYN-ACK came back from {}", f.server.address)
    } else if f.rst_from.as_deref() == Some("server") && f.packets_received > 0 {
        format!("RST came back from {}", f.server.address)
    } else if f.packets_received > 0 {
        format!(
            "{} packets came back from {}",
            f.packets_received, f.server.address
        )
    } else {
        "nothing came back".to_string()
    };
    format!("{sent}, {back}: {}", f.explanation.cause)
}
