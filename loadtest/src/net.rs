//! Opening many client connections from one machine: each socket is bound to the next source
//! address of a range (127.0.0.x by default for loopback targets), so tens of thousands of
//! connections do not exhaust one address's ephemeral ports, and the file-descriptor limit is
//! raised as far as the system allows. WebSocket buffers are kept small: a connection that
//! mostly reads small frames does not need tungstenite's 128 KiB default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::scenario::SourceRange;

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// The default source range for loopback targets.
const LOOPBACK_RANGE: SourceRange = SourceRange {
    first: Ipv4Addr::new(127, 0, 0, 1),
    last: Ipv4Addr::new(127, 0, 0, 32),
};
/// How long a TCP connect plus upgrade may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// One server node.
#[derive(Debug)]
pub struct Target {
    /// `http://host:port` as given.
    pub base: String,
    /// The resolved address.
    pub addr: SocketAddr,
    /// `ws://host:port/ws`.
    pub ws_url: String,
}

impl Target {
    /// Resolves `base` (an `http://host:port` URL).
    pub async fn resolve(base: &str) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base)?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("{base} has no host"))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| anyhow::anyhow!("{base}: no IPv4 address"))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            addr,
            ws_url: format!("ws://{host}:{port}/ws"),
        })
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Socket, bind or connect failed.
    #[error("tcp: {0}")]
    Tcp(#[from] std::io::Error),
    /// The upgrade was refused (e.g. 401 for a bad token) or broke.
    #[error("upgrade: {0}")]
    Upgrade(#[from] tokio_tungstenite::tungstenite::Error),
    /// Nothing within the timeout.
    #[error("timed out")]
    Timeout,
}

/// Opens WebSockets, spreading them over source addresses.
pub struct Dialer {
    source: Option<SourceRange>,
    next: AtomicUsize,
    config: WebSocketConfig,
}

impl Dialer {
    /// A dialer using `source` (or, for loopback targets when `None`, 127.0.0.1–32).
    pub fn new(source: Option<SourceRange>, targets: &[Target]) -> Self {
        let loopback = targets.iter().all(|t| t.addr.ip().is_loopback());
        let config = WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(4 << 20));
        Self {
            source: source.or(loopback.then_some(LOOPBACK_RANGE)),
            next: AtomicUsize::new(0),
            config,
        }
    }

    /// The source range in use, if any.
    pub fn source(&self) -> Option<SourceRange> {
        self.source
    }

    /// Connects to `target` and upgrades with `token` in the URL.
    pub async fn dial(&self, target: &Target, token: &str) -> Result<Ws, DialError> {
        let open = async {
            let stream = self.tcp(target.addr).await?;
            let url = format!("{}?token={token}", target.ws_url);
            let (ws, _) =
                tokio_tungstenite::client_async_with_config(url, stream, Some(self.config)).await?;
            Ok(ws)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .map_err(|_| DialError::Timeout)?
    }

    async fn tcp(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        if let Some(range) = self.source {
            let ip = range.pick(self.next.fetch_add(1, Ordering::Relaxed));
            bind_address_no_port(&socket);
            socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Lets the kernel choose the source port at connect time (unique per 4-tuple) instead of at
/// bind time (unique per address), so one source address serves more connections. Best effort:
/// without it a bound address still has its whole ephemeral range.
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int of the size we pass.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// What happened to the file-descriptor limit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FdLimit {
    /// Soft limit before.
    pub before: u64,
    /// Soft limit now.
    pub after: u64,
    /// What was wanted.
    pub wanted: u64,
    /// Said when the limit is below what was wanted.
    pub note: Option<String>,
}

/// Raises RLIMIT_NOFILE towards `wanted`: the soft limit up to the hard one, and the hard one
/// too when the process may (root or CAP_SYS_RESOURCE).
pub fn raise_fd_limit(wanted: u64) -> FdLimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return FdLimit {
            before: 0,
            after: 0,
            wanted,
            note: Some("getrlimit failed; the limit is unknown".into()),
        };
    }
    let before = lim.rlim_cur;
    if before >= wanted {
        return FdLimit {
            before,
            after: before,
            wanted,
            note: None,
        };
    }
    let raised = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: lim.rlim_max.max(wanted),
    };
    // SAFETY: setrlimit reads the struct we pass.
    let after = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        wanted
    } else {
        let soft = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
            lim.rlim_max
        } else {
            before
        }
    };
    let note = (after < wanted).then(|| {
        format!(
            "file-descriptor limit is {after}, below the {wanted} this run may need; the hard \
             limit could not be raised (that needs CAP_SYS_RESOURCE): connections beyond it fail"
        )
    });
    FdLimit {
        before,
        after,
        wanted,
        note,
    }
}
