//! The HTTP server: hyper (HTTP/1.1, keep-alive) on a tokio runtime, serving blackbox_exporter's endpoints.
//! Probes run on tokio's blocking pool (the probers block on netdiag's library), at most `--max-concurrent` at
//! once (503 beyond that), each bounded by its timeout whatever the prober does. Bad input gets a 400 worded as
//! blackbox words it and one log line; a failed probe gets one structured log line.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use super::config::{self, Config, Module, Prober};
use super::log::{self, Level};
use super::metrics::{self, Format, Own, Samples};
use super::model::{Deadline, Failure, ProbeOut};

/// The modules served when no `--config` is given: Debian's /etc/prometheus/blackbox.yml less what netdiag does
/// not run (grpc), plus a diagnose module.
pub const DEFAULT_CONFIG: &str = "\
modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
  pop3s_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: \"^+OK\"
      tls: true
      tls_config:
        insecure_skip_verify: false
  ssh_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: \"^SSH-2.0-\"
      - send: \"SSH-2.0-blackbox-ssh-check\"
  irc_banner:
    prober: tcp
    tcp:
      query_response:
      - send: \"NICK prober\"
      - send: \"USER prober prober prober :prober\"
      - expect: \"PING :([^ ]+)\"
        send: \"PONG ${1}\"
      - expect: \"^:[^ ]+ 001\"
  icmp:
    prober: icmp
  icmp_ttl5:
    prober: icmp
    timeout: 5s
    icmp:
      ttl: 5
  diagnose:
    prober: diagnose
";

/// The longest query string and target accepted; longer ones are refused with 400.
const MAX_QUERY: usize = 8192;
const MAX_TARGET: usize = 2048;
/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 4096;
/// Time allowed for a request head to arrive (slow clients cannot hold a connection forever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed past a probe's deadline for the prober to hand back its result before the server answers
/// without it (within blackbox's default 0.5 s timeout offset, so the scrape is still answered in time).
const GRACE: Duration = Duration::from_millis(400);

/// How to run the exporter.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// The module file; `None` serves [`DEFAULT_CONFIG`].
    pub config: Option<PathBuf>,
    /// Seconds taken off the scrape timeout Prometheus sends, leaving time to answer (blackbox: 0.5).
    pub timeout_offset: f64,
    /// Probes running at once; more get 503.
    pub max_concurrent: usize,
    pub log_level: Level,
}

/// The config in force and its text (for /config).
struct Loaded {
    config: Config,
    text: String,
}

struct State {
    loaded: RwLock<Arc<Loaded>>,
    path: Option<PathBuf>,
    offset: f64,
    probes: Arc<Semaphore>,
    cap: usize,
    own: Own,
}

fn load(path: &Option<PathBuf>) -> Result<Loaded, String> {
    match path {
        Some(p) => {
            let config = config::load(p)?;
            let text = std::fs::read_to_string(p).unwrap_or_default();
            Ok(Loaded { config, text })
        }
        None => Ok(Loaded {
            config: config::parse(DEFAULT_CONFIG, None)?,
            text: DEFAULT_CONFIG.to_string(),
        }),
    }
}

/// Loads the config (an error is returned, for exit code 2) and serves until SIGTERM or SIGINT.
pub fn run(opts: Options) -> anyhow::Result<()> {
    log::set_level(opts.log_level);
    let loaded = load(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(opts.max_concurrent + 16)
        .thread_name("exporter")
        .build()
        .context("starting the runtime")?;
    let result = rt.block_on(serve(opts, loaded));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Only checks the config: for `--check-config`.
pub fn check(path: &Option<PathBuf>) -> Result<usize, String> {
    load(path).map(|l| l.config.modules.len())
}

async fn serve(opts: Options, loaded: Loaded) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let local = listener.local_addr()?;
    let own = Own::default();
    own.reload_ok.set(1.0);
    own.reload_time.set(now_secs());
    let state = Arc::new(State {
        loaded: RwLock::new(Arc::new(loaded)),
        path: opts.config.clone(),
        offset: opts.timeout_offset,
        probes: Arc::new(Semaphore::new(opts.max_concurrent)),
        cap: opts.max_concurrent,
        own,
    });
    let config_name = opts
        .config
        .as_ref()
        .map_or("(built-in)".to_string(), |p| p.display().to_string());
    log::log(
        Level::Info,
        "Starting netdiag exporter",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("config", &config_name),
            ("max_concurrent", &opts.max_concurrent.to_string()),
        ],
    );
    log::log(
        Level::Info,
        "Listening on address",
        &[("address", &local.to_string())],
    );
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let conns = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => p?,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let st = state.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| handle(st.clone(), req, peer));
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    log::log(Level::Error, "Accept failed", &[("err", &e.to_string())]);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = hup.recv() => { let _ = reload(&state); }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    log::log(Level::Info, "Shutting down", &[]);
    Ok(())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reloads the module file; a bad file keeps the old config in force.
fn reload(state: &State) -> Result<(), String> {
    match load(&state.path) {
        Ok(l) => {
            let n = l.config.modules.len();
            if let Ok(mut w) = state.loaded.write() {
                *w = Arc::new(l);
            }
            state.own.reload_ok.set(1.0);
            state.own.reload_time.set(now_secs());
            log::log(
                Level::Info,
                "Loaded config file",
                &[("modules", &n.to_string())],
            );
            Ok(())
        }
        Err(e) => {
            state.own.reload_ok.set(0.0);
            log::log(Level::Error, "Error reloading config", &[("err", &e)]);
            Err(e)
        }
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut b = body.into();
    if !b.ends_with('\n') {
        b.push('\n');
    }
    reply(status, "text/plain; charset=utf-8", b)
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let resp = match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/probe") => probe(&state, &req, peer).await,
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let format = metrics::negotiate(header(&req, "accept"));
            let body = metrics::encode(state.own.samples(state.cap), format);
            reply(StatusCode::OK, format.content_type(), body)
        }
        (_, "/-/healthy") => text(StatusCode::OK, "Healthy"),
        (&Method::POST, "/-/reload") => match reload(&state) {
            Ok(()) => text(StatusCode::OK, ""),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}"),
            ),
        },
        (_, "/-/reload") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint requires a POST request.",
        ),
        (&Method::GET, "/config") => {
            let l = current(&state);
            reply(StatusCode::OK, "text/plain; charset=utf-8", l.text.clone())
        }
        (&Method::GET, "/") => reply(StatusCode::OK, "text/html; charset=utf-8", LANDING),
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    };
    Ok(resp)
}

const LANDING: &str = "<html><head><title>netdiag exporter</title></head><body>\n\
<h1>netdiag exporter</h1>\n\
<p>A blackbox_exporter-compatible prober that also says why a probe failed.</p>\n\
<ul><li><a href=\"probe?target=127.0.0.1:9115&amp;module=tcp_connect\">/probe?target=&hellip;&amp;module=&hellip;</a> \
(add <code>debug=true</code> to see the probe's log)</li>\n\
<li><a href=\"metrics\">/metrics</a></li><li><a href=\"config\">/config</a></li>\n\
<li><a href=\"-/healthy\">/-/healthy</a></li></ul></body></html>\n";

fn current(state: &State) -> Arc<Loaded> {
    match state.loaded.read() {
        Ok(l) => l.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A 400 with blackbox's words, one log line and the counter.
fn bad_request(state: &State, peer: SocketAddr, msg: &str) -> Response<Full<Bytes>> {
    state.own.bad_requests.fetch_add(1, Ordering::Relaxed);
    log::log(
        Level::Warn,
        "Bad probe request",
        &[("peer", &peer.to_string()), ("err", msg)],
    );
    text(StatusCode::BAD_REQUEST, msg)
}

/// Decodes a query string: `+` is a space, `%XX` a byte; a bad escape or bytes that are not UTF-8 are errors.
pub fn parse_query(q: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        // The first value wins, as Go's url.Values.Get gives it.
        out.entry(k).or_insert(v);
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid URL escape \"{}\"",
                            String::from_utf8_lossy(&b[i..(i + 3).min(b.len())])
                        )
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the query string is not UTF-8".to_string())
}

/// Refuses a target or hostname that no prober could take and that would only pollute logs and labels.
fn hostile(what: &str, v: &str) -> Option<String> {
    if v.len() > MAX_TARGET {
        return Some(format!(
            "{what} is {} bytes long; at most {MAX_TARGET} are accepted",
            v.len()
        ));
    }
    v.chars().find(|c| c.is_control()).map(|c| {
        format!(
            "{what} holds the control character {}; expected a host, HOST:PORT or a URL",
            c.escape_default()
        )
    })
}

/// blackbox's probe timeout: the scrape timeout Prometheus sends (120 s when absent) less the offset, capped by
/// the module's timeout (which also applies when the offset leaves nothing).
pub fn probe_timeout(
    header: Option<&str>,
    module: Option<Duration>,
    offset: f64,
) -> Result<f64, String> {
    let mut t = match header {
        Some(v) => v.trim().parse::<f64>().map_err(|_| {
            format!("Failed to parse timeout from Prometheus header: strconv.ParseFloat: parsing \"{v}\": invalid syntax")
        })?,
        None => 0.0,
    };
    if !t.is_finite() || t < 0.0 {
        return Err(format!(
            "Failed to parse timeout from Prometheus header: {t} is not a timeout in seconds"
        ));
    }
    if t == 0.0 {
        t = 120.0;
    }
    let max = t - offset;
    let m = module.map_or(0.0, |d| d.as_secs_f64());
    let chosen = if (m > 0.0 && m < max) || max < 0.0 {
        m
    } else {
        max
    };
    Ok(chosen.clamp(0.01, 86_400.0))
}

/// A probe request that passed the checks: the module, the target and how long the probe may take.
struct Asked {
    module_name: String,
    module: Module,
    target: String,
    hostname: Option<String>,
    /// Seconds.
    timeout: f64,
    debug: bool,
}

async fn probe(
    state: &Arc<State>,
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let asked = match check_probe(state, req, peer) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let start = Instant::now();
    let (ok, mut out) = match run_bounded(state, &asked).await {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let Asked {
        module_name,
        module,
        target,
        timeout,
        ..
    } = &asked;
    let took = start.elapsed().as_secs_f64();
    state
        .own
        .probe_done(module_name, module.prober.as_str(), ok);
    let samples = finish(&mut out, ok, took);
    if !ok {
        log_failure(module_name, module, target, out.failure.as_ref(), took);
    } else if log::enabled(Level::Debug) {
        log::log(
            Level::Debug,
            "Probe succeeded",
            &[
                ("module", module_name),
                ("target", target),
                ("duration_seconds", &format!("{took:.6}")),
            ],
        );
    }
    if asked.debug {
        return text(
            StatusCode::OK,
            debug_output(&out, samples, module, module_name, target, *timeout),
        );
    }
    let format = metrics::negotiate(header(req, "accept"));
    reply(
        StatusCode::OK,
        format.content_type(),
        metrics::encode(samples, format),
    )
}

/// Reads and checks a probe request's query string and headers; a bad one is answered (400, or 500 for a
/// scrape timeout header that is not a number) and logged in one line.
fn check_probe(
    state: &Arc<State>,
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Result<Asked, Box<Response<Full<Bytes>>>> {
    let bad = |why: &str| Box::new(bad_request(state, peer, why));
    let q = req.uri().query().unwrap_or("");
    if q.len() > MAX_QUERY {
        return Err(bad(&format!(
            "the query string is {} bytes long; at most {MAX_QUERY} are accepted",
            q.len()
        )));
    }
    let params = parse_query(q).map_err(|e| bad(&format!("invalid query string: {e}")))?;
    let module_name = params
        .get("module")
        .filter(|m| !m.is_empty())
        .cloned()
        .unwrap_or_else(|| "http_2xx".to_string());
    let loaded = current(state);
    let Some(module) = loaded.config.modules.get(&module_name).cloned() else {
        state.own.unknown_module.fetch_add(1, Ordering::Relaxed);
        return Err(bad(&format!("Unknown module {:?}", module_name)));
    };
    let timeout = probe_timeout(
        header(req, "x-prometheus-scrape-timeout-seconds"),
        module.timeout,
        state.offset,
    )
    .map_err(|e| Box::new(text(StatusCode::INTERNAL_SERVER_ERROR, e)))?;
    let target = params.get("target").cloned().unwrap_or_default();
    if target.is_empty() {
        return Err(bad("Target parameter is missing"));
    }
    if let Some(why) = hostile("the target", &target) {
        return Err(bad(&why));
    }
    let hostname = params.get("hostname").filter(|h| !h.is_empty()).cloned();
    if let (Some(h), Prober::Http) = (&hostname, module.prober) {
        if let Some(why) = bad_hostname(&module, h) {
            return Err(bad(&why));
        }
    }
    Ok(Asked {
        debug: params.get("debug").is_some_and(|d| d == "true"),
        module_name,
        module,
        target,
        hostname,
        timeout,
    })
}

/// Why the `hostname` parameter cannot be an http probe's Host header, if it cannot.
fn bad_hostname(module: &Module, h: &str) -> Option<String> {
    if let Some(why) = hostile("the hostname", h) {
        return Some(why);
    }
    let conflict = module.http.as_ref().and_then(|c| {
        c.headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("host") && *v != h)
    });
    if let Some((_, v)) = conflict {
        return Some(format!("host header defined both in module configuration ({v}) and with URL-parameter 'hostname' ({h})"));
    }
    if crate::http::check_header(&format!("Host: {h}")).is_err() {
        return Some(format!("invalid hostname {h:?}"));
    }
    None
}

/// Runs the prober on the blocking pool under the cap on concurrent probes (503 beyond it) and the probe's
/// timeout (plus a grace period for the prober to notice its own deadline).
async fn run_bounded(
    state: &Arc<State>,
    asked: &Asked,
) -> Result<(bool, ProbeOut), Box<Response<Full<Bytes>>>> {
    let Ok(permit) = state.probes.clone().try_acquire_owned() else {
        state.own.rejected.fetch_add(1, Ordering::Relaxed);
        log::log(
            Level::Warn,
            "Too many concurrent probes",
            &[
                ("limit", &state.cap.to_string()),
                ("module", &asked.module_name),
                ("target", &asked.target),
            ],
        );
        return Err(Box::new(text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many probes in flight (the limit is {}, --max-concurrent); try again later",
                state.cap
            ),
        )));
    };
    let total = Duration::from_secs_f64(asked.timeout);
    let (m2, t2, h2, st) = (
        asked.module.clone(),
        asked.target.clone(),
        asked.hostname.clone(),
        state.clone(),
    );
    st.own.in_flight.fetch_add(1, Ordering::Relaxed);
    let task = tokio::task::spawn_blocking(move || {
        let r = run_prober(&m2, &t2, h2.as_deref(), Deadline::new(total));
        st.own.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        r
    });
    Ok(match tokio::time::timeout(total + GRACE, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => {
            let mut out = ProbeOut::default();
            out.fail(
                "probe",
                crate::explain::exporter::bad_target("the prober stopped unexpectedly"),
            );
            (false, out)
        }
        Err(_) => {
            let mut out = ProbeOut::default();
            out.fail(
                "probe",
                crate::explain::exporter::probe_deadline(asked.timeout),
            );
            (false, out)
        }
    })
}

/// Runs the module's prober; returns whether it succeeded and what it found.
pub fn run_prober(
    module: &Module,
    target: &str,
    hostname: Option<&str>,
    d: Deadline,
) -> (bool, ProbeOut) {
    let mut out = ProbeOut::default();
    out.log(format!(
        "Beginning probe: prober={} timeout_seconds={:.3}",
        module.prober.as_str(),
        d.total.as_secs_f64()
    ));
    let ok = match module.prober {
        Prober::Http => super::http::probe(
            target,
            module.http.as_ref().unwrap_or(&Default::default()),
            hostname,
            d,
            &mut out,
        ),
        Prober::Tcp => super::tcp::probe(
            target,
            module.tcp.as_ref().unwrap_or(&Default::default()),
            d,
            &mut out,
        ),
        Prober::Icmp => super::icmp::probe(
            target,
            module.icmp.as_ref().unwrap_or(&Default::default()),
            d,
            &mut out,
        ),
        Prober::Diagnose => super::diagnose::probe(
            target,
            module.diagnose.as_ref().unwrap_or(&Default::default()),
            d,
            &mut out,
        ),
        Prober::Dns => match &module.dns {
            Some(c) => super::dns::probe(target, c, d, &mut out),
            None => out.fail(
                "target",
                crate::explain::exporter::bad_target("the module has no dns section"),
            ),
        },
    };
    out.log(if ok {
        "Probe succeeded"
    } else {
        "Probe failed"
    });
    (ok, out)
}

/// The samples a scrape returns: the prober's, then `probe_success`, `probe_duration_seconds` and, for a
/// failure, `probe_failure_info{layer,code}`.
pub fn finish(out: &mut ProbeOut, ok: bool, took: f64) -> Samples {
    let mut s = std::mem::take(&mut out.samples);
    s.gauge(
        "probe_success",
        "Displays whether or not the probe was a success",
        if ok { 1.0 } else { 0.0 },
    );
    s.gauge(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        took,
    );
    if let (false, Some(f)) = (ok, &out.failure) {
        s.gauge_with(
            "probe_failure_info",
            "Why the probe failed: the layer that failed and the code from netdiag's explanation table; the value is always 1",
            vec![("layer", f.layer.to_string()), ("code", f.explanation.code.clone())],
            1.0,
        );
    }
    s
}

fn log_failure(name: &str, module: &Module, target: &str, f: Option<&Failure>, took: f64) {
    let (layer, code, cause) = f.map_or(("", "", String::new()), |f| {
        (
            f.layer,
            f.explanation.code.as_str(),
            f.explanation.sentence(),
        )
    });
    log::log(
        Level::Warn,
        "Probe failed",
        &[
            ("module", name),
            ("prober", module.prober.as_str()),
            ("target", target),
            ("layer", layer),
            ("code", code),
            ("cause", &cause),
            ("duration_seconds", &format!("{took:.6}")),
        ],
    );
}

fn debug_output(
    out: &ProbeOut,
    samples: Samples,
    module: &Module,
    name: &str,
    target: &str,
    timeout: f64,
) -> String {
    let mut s = String::from("Logs for the probe:\n");
    for (at, l) in &out.log {
        s.push_str(&log::line_at(
            *at,
            Level::Info,
            l,
            &[("module", name), ("target", target)],
        ));
        s.push('\n');
    }
    s.push_str(&format!(
        "\n\n\nMetrics that would have been returned:\n{}",
        metrics::encode(samples, Format::Text)
    ));
    s.push_str(&format!(
        "\n\n\nModule configuration:\n{}\n(probe timeout {timeout:.3} s)\n",
        config::module_yaml(module)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_follows_blackbox() {
        let five = Some(Duration::from_secs(5));
        assert_eq!(probe_timeout(Some("10"), None, 0.5).unwrap(), 9.5);
        assert_eq!(probe_timeout(Some("10"), five, 0.5).unwrap(), 5.0);
        assert_eq!(probe_timeout(Some("3"), five, 0.5).unwrap(), 2.5);
        assert_eq!(probe_timeout(None, None, 0.5).unwrap(), 119.5);
        assert_eq!(probe_timeout(Some("0.2"), five, 0.5).unwrap(), 5.0);
        let e = probe_timeout(Some("abc"), None, 0.5).unwrap_err();
        assert!(
            e.starts_with("Failed to parse timeout from Prometheus header"),
            "{e}"
        );
        assert!(probe_timeout(Some("-1"), None, 0.5).is_err());
    }

    #[test]
    fn query_strings_decode_or_fail() {
        let q = parse_query(
            "target=http%3A%2F%2F127.0.0.1%3A80%2F&module=http_2xx&target=second&debug",
        )
        .unwrap();
        assert_eq!(q["target"], "http://127.0.0.1:80/");
        assert_eq!(q["module"], "http_2xx");
        assert_eq!(q["debug"], "");
        assert_eq!(parse_query("a=b+c").unwrap()["a"], "b c");
        assert!(parse_query("target=%zz")
            .unwrap_err()
            .contains("invalid URL escape"));
        assert!(parse_query("target=%ff").is_err());
        assert!(parse_query("target=%4").is_err());
    }

    #[test]
    fn hostile_targets_are_named() {
        assert!(hostile("the target", "127.0.0.1:80").is_none());
        assert!(hostile("the target", "a\r\nb")
            .unwrap()
            .contains("control character"));
        assert!(hostile("the target", &"a".repeat(5000))
            .unwrap()
            .contains("5000 bytes"));
    }

    #[test]
    fn the_built_in_config_loads() {
        let c = config::parse(DEFAULT_CONFIG, None).unwrap();
        assert!(c.modules.contains_key("http_2xx") && c.modules.contains_key("diagnose"));
    }

    #[test]
    fn failures_add_failure_info() {
        let mut out = ProbeOut::default();
        out.fail("connect", crate::explain::errno(libc::ECONNREFUSED));
        let s = finish(&mut out, false, 0.01);
        assert_eq!(s.get("probe_success"), Some(0.0));
        assert_eq!(
            s.get_with(
                "probe_failure_info",
                &[("layer", "connect".into()), ("code", "ECONNREFUSED".into())]
            ),
            Some(1.0)
        );
    }
}
