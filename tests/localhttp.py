"""Start and stop the stand-in HTTP servers of the tests: 127.0.0.1, an ephemeral port, a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def start_server(handler: type[BaseHTTPRequestHandler], name: str,
                 server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
                 ) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `handler` on 127.0.0.1 (port chosen by the OS) in a daemon thread; `server.server_address[1]` is the
    port."""
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True, name=name)
    thread.start()
    return server, thread


def stop_server(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    """Stop serving, wait for the thread, and close the socket."""
    server.shutdown()
    thread.join()
    server.server_close()
