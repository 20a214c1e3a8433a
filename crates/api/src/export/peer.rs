//! Whether the client of a request is still there. actix-web does not cancel a handler whose
//! client went away (it finds out only when it writes), and a workbook is written whole before
//! its first byte can be sent: its writer asks between pages. A CSV download needs no asking:
//! its rows are written as they are read, and the first write after the client left ends it.

use std::any::Any;
use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::dev::Extensions;
use socket2::SockRef;

/// A handle on a connection's socket (a duplicate of its descriptor, closed with the
/// connection's data).
#[derive(Clone)]
pub struct Peer(Arc<OwnedFd>);

/// `HttpServer::on_connect`: keep a handle on every TCP connection's socket.
pub fn on_connect(conn: &dyn Any, data: &mut Extensions) {
    if let Some(stream) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(fd) = stream.as_fd().try_clone_to_owned()
    {
        data.insert(Peer(Arc::new(fd)));
    }
}

impl Peer {
    /// The peer of `req`'s connection, if the server keeps one (see [`on_connect`]).
    pub fn of(req: &HttpRequest) -> Option<Peer> {
        req.conn_data::<Peer>().cloned()
    }

    /// Whether the client has closed the connection or reset it. A peek does not consume
    /// anything, and the socket is non-blocking (tokio's): nothing to read yet is an open
    /// connection. A client that only half-closes after its request counts as gone (HTTP/1.1
    /// clients do not).
    pub fn gone(&self) -> bool {
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        match SockRef::from(&*self.0).peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_connection_is_gone_and_an_open_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let peer = Peer(Arc::new(server.as_fd().try_clone_to_owned().unwrap()));
        assert!(!peer.gone(), "nothing sent yet");
        std::io::Write::write_all(&mut &client, b"GET / HTTP/1.1\r\n").unwrap();
        assert!(!peer.gone(), "bytes waiting");
        let mut buf = [0u8; 64];
        let _ = std::io::Read::read(&mut &server, &mut buf);
        drop(client);
        // the FIN may take a moment on loopback: ask until it is seen
        let seen = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            peer.gone()
        });
        assert!(seen, "a closed client is gone");
    }
}
