//! HTTP and HTTPS servers of the tests' own (on loopback, or on a listener bound inside a namespace of the
//! test's), and the certificates they serve, made here with rcgen.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Reads one request: its head and the body its Content-Length announces. Bounded: 1 MiB, and the socket's
/// read timeout. Returns the bytes read.
pub fn read_request(s: &mut impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let mut want = None;
    while buf.len() < 1 << 20 {
        if want.is_none() {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                want = Some(end + 4 + len);
            }
        }
        if want.is_some_and(|w| buf.len() >= w) {
            break;
        }
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    buf
}

/// What a server saw of one request: the request as text (head and body), the bytes it read, and the TLS
/// name the client asked for (SNI).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub text: String,
    pub bytes: usize,
    pub sni: Option<String>,
}

impl Seen {
    fn new(raw: &[u8], sni: Option<String>) -> Seen {
        Seen {
            text: String::from_utf8_lossy(raw).into_owned(),
            bytes: raw.len(),
            sni,
        }
    }

    /// The request head, up to and including its blank line.
    pub fn head(&self) -> &str {
        self.text
            .find("\r\n\r\n")
            .map_or(self.text.as_str(), |e| &self.text[..e + 4])
    }

    /// The request's Host header ("" when there is none).
    pub fn host(&self) -> &str {
        self.head()
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("host").then_some(v.trim())
            })
            .unwrap_or("")
    }
}

/// A server of the test's own: accepts up to `max` connections one after the other (for at most five minutes),
/// reads each request and hands it to a handler. Remembers what it saw and how many connections it accepted.
pub struct Server {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    /// `http://127.0.0.1:PORT` and the path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Request `i` as text.
    pub fn request(&self, i: usize) -> String {
        self.seen.lock().unwrap()[i].text.clone()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Runs `conn` on each of up to `max` connections accepted on `l`, on a thread; `conn` records what it
    /// saw of the request (before answering it) with the function it is given.
    fn start<F>(l: TcpListener, max: usize, conn: F) -> Server
    where
        F: Fn(usize, TcpStream, &dyn Fn(Seen)) + Send + 'static,
    {
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (seen.clone(), hits.clone());
        l.set_nonblocking(true).unwrap();
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut i = 0;
            while i < max && Instant::now() < deadline {
                let s = match l.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(_) => return,
                };
                h.fetch_add(1, Ordering::SeqCst);
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
                conn(i, s, &|got| r.lock().unwrap().push(got));
                i += 1;
            }
        });
        Server { port, seen, hits }
    }
}

/// An HTTP server on 127.0.0.1: `handler(i, stream, request)` answers connection `i`.
pub fn serve<F>(max: usize, handler: F) -> Server
where
    F: Fn(usize, &mut TcpStream, &str) + Send + 'static,
{
    serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), max, handler)
}

/// The same on a listener of the caller's (another address, or inside a namespace).
pub fn serve_on<F>(l: TcpListener, max: usize, handler: F) -> Server
where
    F: Fn(usize, &mut TcpStream, &str) + Send + 'static,
{
    Server::start(l, max, move |i, mut s, record| {
        let seen = Seen::new(&read_request(&mut s), None);
        record(seen.clone());
        handler(i, &mut s, &seen.text);
    })
}

/// A server on 127.0.0.1 that answers every request with the same bytes.
pub fn fixed(max: usize, answer: &'static [u8]) -> Server {
    serve(max, move |_, s, _| {
        use std::io::Write;
        let _ = s.write_all(answer);
    })
}

/// A TLS connection as the HTTPS server's handler gets it.
pub type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// An HTTPS server on 127.0.0.1 with this configuration: `handler(i, stream, request)` answers connection
/// `i` (the request is "" when the handshake failed or nothing came). Close-notify is sent after the handler.
pub fn serve_tls<F>(config: Arc<rustls::ServerConfig>, max: usize, handler: F) -> Server
where
    F: Fn(usize, &mut TlsStream, &str) + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    serve_tls_on(l, config, max, handler)
}

/// The same on a listener of the caller's.
pub fn serve_tls_on<F>(
    l: TcpListener,
    config: Arc<rustls::ServerConfig>,
    max: usize,
    handler: F,
) -> Server
where
    F: Fn(usize, &mut TlsStream, &str) + Send + 'static,
{
    Server::start(l, max, move |i, s, record| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, s);
        let raw = read_request(&mut tls);
        let seen = Seen::new(&raw, tls.conn.server_name().map(str::to_string));
        record(seen.clone());
        handler(i, &mut tls, &seen.text);
        tls.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut tls);
    })
}

/// A certificate and its key, with the PEM of the CA that vouches for it (the certificate's own when it is
/// self-signed).
pub struct Pki {
    pub ca_pem: String,
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub key_der: Vec<u8>,
    pub key_pem: String,
}

/// The CA's PEM in a file of its own (`ca.pem` in a temporary directory, removed on drop).
pub struct CaFile {
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

impl CaFile {
    /// The path as an argument (`--cacert PATH`, `ca_file: PATH`).
    pub fn arg(&self) -> String {
        self.path.display().to_string()
    }
}

impl Pki {
    /// Writes the CA's PEM to a file of its own.
    pub fn ca_file(&self) -> CaFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        CaFile { _dir: dir, path }
    }
}

/// A certificate for `names` with the common name `cn`, issued by a CA of the test's own whose common name is
/// `ca` (self-signed when `ca` is None). `years`: valid from January 1 of the first year to January 1 of the
/// second (rcgen's default validity when None).
pub fn pki(names: &[&str], cn: &str, ca: Option<&str>, years: Option<(i32, i32)>) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut leaf =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, cn);
    if let Some((from, to)) = years {
        leaf.not_before = rcgen::date_time_ymd(from, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(to, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let (cert, ca_pem) = match ca {
        None => {
            let cert = leaf.self_signed(&key).unwrap();
            let pem = cert.pem();
            (cert, pem)
        }
        Some(ca_cn) => {
            let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name.push(DnType::CommonName, ca_cn);
            let ca_key = KeyPair::generate().unwrap();
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            (
                leaf.signed_by(&key, &ca_cert, &ca_key).unwrap(),
                ca_cert.pem(),
            )
        }
    };
    Pki {
        ca_pem,
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    }
}

/// A rustls server configuration serving the certificate, offering these ALPN protocols.
pub fn tls_config(p: &Pki, alpn: &[&str]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(p.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.key_der.clone())),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// An nginx of the test's own inside a namespace, run in the foreground with its files in `dir` (the caller's,
/// left in place); killed on drop.
pub struct Nginx {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Nginx {
    /// `http`: what goes in the `http { }` block after the temp paths (e.g. `server { }` blocks); `wait_for`:
    /// an address inside the namespace that accepts once nginx is up.
    pub fn start(ns: &super::NetNs, dir: &std::path::Path, http: &str, wait_for: &str) -> Nginx {
        use std::process::{Command, Stdio};
        let d = dir.display();
        let conf = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             {http}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "nginx", "-p"])
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let n = Nginx {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr: std::net::SocketAddr = wait_for.parse().unwrap();
        while !ns.enter(move || TcpStream::connect(addr).is_ok()) {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                n.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// nginx's error log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: nginx's fast shutdown, which also stops its workers.
        // SAFETY: kill on the pid of a child this test started and has not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
