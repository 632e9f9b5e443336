//! Classic BPF (cBPF): the instruction type, a program, its text form (as `tcpdump -d` prints it), an
//! interpreter that runs a program on a packet in user space (for `-r FILE`, as libpcap's `bpf_filter` does),
//! and attaching a program to a socket (`SO_ATTACH_FILTER`), where the kernel runs it before a packet is copied.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

// Instruction classes, sizes, modes, operations and sources (linux/filter.h, net/bpf.h).
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;
pub const W: u16 = 0x00;
pub const H: u16 = 0x08;
pub const B: u16 = 0x10;
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const IND: u16 = 0x40;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
pub const MSH: u16 = 0xa0;
pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const MOD: u16 = 0x90;
pub const XOR: u16 = 0xa0;
pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;
pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
pub const A: u16 = 0x10;
pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// The base of the kernel's ancillary loads (`ld [SKF_AD_OFF + n]`): data about the packet that is not in it.
pub const AD_OFF: u32 = (-0x1000i32) as u32;
/// `skb->protocol`: the packet's ethertype, even on a socket that sees no link header.
pub const AD_PROTOCOL: u32 = AD_OFF;
/// `skb->pkt_type`: PACKET_HOST, PACKET_OUTGOING, ...
pub const AD_PKTTYPE: u32 = AD_OFF + 4;
/// The index of the interface the packet came in or goes out on.
pub const AD_IFINDEX: u32 = AD_OFF + 8;

/// The number of scratch memory words.
const MEMWORDS: usize = 16;
/// The kernel's limit on a classic program's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// One instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// What the packet looks like besides its bytes, for ancillary loads in the user-space interpreter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    pub protocol: u16,
    pub pkttype: u8,
    pub ifindex: u32,
}

/// A checked classic BPF program: every jump lands inside it and every path ends in a `ret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
}

impl Program {
    /// Checks a program as the kernel's `bpf_check_classic` does: known opcodes, jumps inside the program,
    /// scratch memory indexes in range, no division by a constant zero, and a `ret` last.
    pub fn new(insns: Vec<Insn>) -> Result<Program, String> {
        if insns.is_empty() || insns.len() > MAX_INSNS {
            return Err(format!(
                "a classic BPF program has 1 to {MAX_INSNS} instructions, not {}",
                insns.len()
            ));
        }
        let n = insns.len();
        for (pc, i) in insns.iter().enumerate() {
            let class = i.code & 0x07;
            let bad = |what: &str| Err(format!("instruction {pc}: {what}"));
            match class {
                JMP => {
                    let op = i.code & 0xf0;
                    if op == JA {
                        if pc + 1 + i.k as usize >= n {
                            return bad("jump past the end");
                        }
                    } else if !matches!(op, JEQ | JGT | JGE | JSET)
                        || pc + 1 + i.jt as usize >= n
                        || pc + 1 + i.jf as usize >= n
                    {
                        return bad("bad conditional jump");
                    }
                }
                LD | LDX if i.code & 0xe0 == MEM && i.k as usize >= MEMWORDS => {
                    return bad("scratch memory index out of range")
                }
                ST | STX if i.k as usize >= MEMWORDS => {
                    return bad("scratch memory index out of range")
                }
                ALU if matches!(i.code & 0xf0, DIV | MOD) && i.code & 0x08 == K && i.k == 0 => {
                    return bad("division by zero")
                }
                _ => {}
            }
        }
        if insns[n - 1].code & 0x07 != RET {
            return Err("the last instruction is not a ret".into());
        }
        Ok(Program { insns })
    }

    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Runs the program on a packet whose first `pkt.len()` bytes were captured of `wire_len`; returns what the
    /// program returns: 0 to drop, otherwise the number of bytes to keep. Loads past the captured bytes drop the
    /// packet, as in the kernel and libpcap.
    pub fn run(&self, pkt: &[u8], wire_len: u32, meta: &Meta) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; MEMWORDS];
        let mut pc = 0usize;
        let load = |off: u32, size: u16| -> Option<u32> {
            if off >= AD_OFF {
                return match off {
                    AD_PROTOCOL => Some(u32::from(meta.protocol)),
                    AD_PKTTYPE => Some(u32::from(meta.pkttype)),
                    AD_IFINDEX => Some(meta.ifindex),
                    _ => None,
                };
            }
            let off = off as usize;
            let width = match size {
                W => 4,
                H => 2,
                _ => 1,
            };
            let b = pkt.get(off..off.checked_add(width)?)?;
            Some(b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x)))
        };
        // Every instruction either moves pc forward or returns, so the loop ends within len steps.
        while let Some(i) = self.insns.get(pc) {
            pc += 1;
            match i.code & 0x07 {
                LD => {
                    a = match i.code & 0xe0 {
                        IMM => i.k,
                        ABS => match load(i.k, i.code & 0x18) {
                            Some(v) => v,
                            None => return 0,
                        },
                        IND => match load(x.wrapping_add(i.k), i.code & 0x18) {
                            Some(v) => v,
                            None => return 0,
                        },
                        MEM => mem[i.k as usize],
                        LEN => wire_len,
                        _ => return 0,
                    }
                }
                LDX => {
                    x = match i.code & 0xe0 {
                        IMM => i.k,
                        MEM => mem[i.k as usize],
                        LEN => wire_len,
                        MSH => match load(i.k, B) {
                            Some(v) => (v & 0xf) << 2,
                            None => return 0,
                        },
                        _ => return 0,
                    }
                }
                ST => mem[i.k as usize] = a,
                STX => mem[i.k as usize] = x,
                ALU => {
                    let v = if i.code & 0x08 == X { x } else { i.k };
                    a = match i.code & 0xf0 {
                        ADD => a.wrapping_add(v),
                        SUB => a.wrapping_sub(v),
                        MUL => a.wrapping_mul(v),
                        DIV if v == 0 => return 0,
                        DIV => a / v,
                        MOD if v == 0 => return 0,
                        MOD => a % v,
                        OR => a | v,
                        AND => a & v,
                        LSH => a.checked_shl(v).unwrap_or(0),
                        RSH => a.checked_shr(v).unwrap_or(0),
                        NEG => a.wrapping_neg(),
                        XOR => a ^ v,
                        _ => return 0,
                    }
                }
                JMP => {
                    let v = if i.code & 0x08 == X { x } else { i.k };
                    let taken = match i.code & 0xf0 {
                        JA => {
                            pc += i.k as usize;
                            continue;
                        }
                        JEQ => a == v,
                        JGT => a > v,
                        JGE => a >= v,
                        JSET => a & v != 0,
                        _ => return 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                RET => return if i.code & 0x18 == A { a } else { i.k },
                _ => {
                    if i.code & 0xf8 == TXA {
                        a = x;
                    } else {
                        x = a;
                    }
                }
            }
        }
        0
    }

    /// Attaches the program to a socket: from then on the kernel runs it on every packet before it is queued.
    pub fn attach(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as u16,
            // The kernel copies the program; it only reads through this pointer.
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `Insn` has the layout of `struct sock_filter` (repr(C): u16, u8, u8, u32); `prog` points at
        // `len` of them, alive for the call; the kernel copies the program before returning.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &prog as *const libc::sock_fprog as *const libc::c_void,
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl fmt::Display for Program {
    /// The program as `tcpdump -d` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (pc, i) in self.insns.iter().enumerate() {
            writeln!(f, "{}", disasm(i, pc))?;
        }
        Ok(())
    }
}

/// One instruction in `tcpdump -d`'s words.
fn disasm(i: &Insn, pc: usize) -> String {
    let size = |c: u16| match c & 0x18 {
        H => "h",
        B => "b",
        _ => "",
    };
    let abs = |k: u32| match k {
        AD_PROTOCOL => "proto".to_string(),
        AD_PKTTYPE => "type".to_string(),
        AD_IFINDEX => "ifidx".to_string(),
        _ => k.to_string(),
    };
    let (op, arg) = match i.code & 0x07 {
        LD => match i.code & 0xe0 {
            IMM => ("ld".to_string(), format!("#0x{:x}", i.k)),
            ABS => (format!("ld{}", size(i.code)), format!("[{}]", abs(i.k))),
            IND => (format!("ld{}", size(i.code)), format!("[x + {}]", i.k)),
            MEM => ("ld".to_string(), format!("M[{}]", i.k)),
            LEN => ("ld".to_string(), "#pktlen".to_string()),
            _ => ("unimp".to_string(), String::new()),
        },
        LDX => match i.code & 0xe0 {
            IMM => ("ldx".to_string(), format!("#0x{:x}", i.k)),
            MEM => ("ldx".to_string(), format!("M[{}]", i.k)),
            LEN => ("ldx".to_string(), "#pktlen".to_string()),
            MSH => ("ldxb".to_string(), format!("4*([{}]&0xf)", i.k)),
            _ => ("unimp".to_string(), String::new()),
        },
        ST => ("st".to_string(), format!("M[{}]", i.k)),
        STX => ("stx".to_string(), format!("M[{}]", i.k)),
        ALU => {
            let name = match i.code & 0xf0 {
                ADD => "add",
                SUB => "sub",
                MUL => "mul",
                DIV => "div",
                MOD => "mod",
                OR => "or",
                AND => "and",
                LSH => "lsh",
                RSH => "rsh",
                NEG => "neg",
                XOR => "xor",
                _ => "unimp",
            };
            let arg = if i.code & 0xf0 == NEG {
                String::new()
            } else if i.code & 0x08 == X {
                "x".to_string()
            } else {
                format!("#0x{:x}", i.k)
            };
            (name.to_string(), arg)
        }
        JMP => {
            let name = match i.code & 0xf0 {
                JA => {
                    return format!("({pc:03}) {:<8} {}", "ja", pc + 1 + i.k as usize);
                }
                JEQ => "jeq",
                JGT => "jgt",
                JGE => "jge",
                JSET => "jset",
                _ => "unimp",
            };
            let v = if i.code & 0x08 == X {
                "x".to_string()
            } else {
                format!("#0x{:x}", i.k)
            };
            return format!(
                "({pc:03}) {:<8} {:<16} jt {}\tjf {}",
                name,
                v,
                pc + 1 + usize::from(i.jt),
                pc + 1 + usize::from(i.jf)
            );
        }
        RET => (
            "ret".to_string(),
            if i.code & 0x18 == A {
                "a".to_string()
            } else {
                format!("#{}", i.k)
            },
        ),
        _ => (
            if i.code & 0xf8 == TXA { "txa" } else { "tax" }.to_string(),
            String::new(),
        ),
    };
    format!("({pc:03}) {op:<8} {arg}").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(insns: &[Insn]) -> Program {
        Program::new(insns.to_vec()).unwrap()
    }

    #[test]
    fn checks_jumps_and_the_final_ret() {
        assert!(Program::new(vec![]).is_err());
        assert!(Program::new(vec![Insn::stmt(LD | H | ABS, 12)]).is_err());
        assert!(Program::new(vec![
            Insn::jump(JMP | JEQ | K, 1, 5, 0),
            Insn::stmt(RET | K, 0)
        ])
        .is_err());
        assert!(Program::new(vec![Insn::stmt(ST, 16), Insn::stmt(RET | K, 0)]).is_err());
        assert!(Program::new(vec![Insn::stmt(ALU | DIV | K, 0), Insn::stmt(RET | K, 0)]).is_err());
    }

    #[test]
    fn runs_an_ethertype_test() {
        // ldh [12]; jeq #0x800 jt 2 jf 3; ret #262144; ret #0
        let p = prog(&[
            Insn::stmt(LD | H | ABS, 12),
            Insn::jump(JMP | JEQ | K, 0x800, 0, 1),
            Insn::stmt(RET | K, 262144),
            Insn::stmt(RET | K, 0),
        ]);
        let mut pkt = [0u8; 20];
        pkt[12] = 8;
        assert_eq!(p.run(&pkt, 20, &Meta::default()), 262144);
        pkt[12] = 0x86;
        assert_eq!(p.run(&pkt, 20, &Meta::default()), 0);
        // Too short to load [12:2]: dropped.
        assert_eq!(p.run(&pkt[..13], 13, &Meta::default()), 0);
    }

    #[test]
    fn msh_indirect_and_ancillary_loads() {
        let p = prog(&[
            Insn::stmt(LDX | B | MSH, 0),
            Insn::stmt(LD | B | IND, 0),
            Insn::stmt(RET | A, 0),
        ]);
        let pkt = [
            0x45u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
        ];
        assert_eq!(p.run(&pkt, 21, &Meta::default()), 7);
        let p = prog(&[Insn::stmt(LD | W | ABS, AD_IFINDEX), Insn::stmt(RET | A, 0)]);
        let m = Meta {
            ifindex: 42,
            ..Meta::default()
        };
        assert_eq!(p.run(&[], 0, &m), 42);
    }

    #[test]
    fn prints_like_tcpdump_d() {
        let p = prog(&[
            Insn::stmt(LD | H | ABS, 12),
            Insn::jump(JMP | JEQ | K, 0x800, 0, 1),
            Insn::stmt(RET | K, 262144),
            Insn::stmt(RET | K, 0),
        ]);
        assert_eq!(
            p.to_string(),
            "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n"
        );
    }
}
