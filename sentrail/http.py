"""The HTTP protocol every sentrail server runs: uvicorn's httptools protocol with a cap on the
request head (request line and headers).

httptools (llhttp) puts no limit on the head: a client could send headers for ever and the
server would hold all of it. h11 has one (`h11_max_incomplete_event_size`) but parses several
times slower, and ingest throughput rests on the parser. So the bytes of each request head are
counted here as they arrive; past `MAX_HEAD_BYTES` the answer is 431 and the connection closes.
"""

from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Browsers and proxies stop at 8-64 KiB (nginx's large_client_header_buffers: 4 x 8 KiB).
MAX_HEAD_BYTES = 64 * 1024
# What uvicorn's `http` option names (sentrail/cli.py).
PROTOCOL = "sentrail.http:HeadCappedHttpToolsProtocol"


class HeadCappedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int] = MAX_HEAD_BYTES
    # Between requests and until a request's headers are complete, what arrives is head.
    _in_head = True
    _head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        # Counted per chunk read from the socket: a head is refused at most one chunk late.
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse_head()

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        self.logger.warning("Request head over %d bytes refused.", self.max_head_bytes)
        if self.cycle is None or self.cycle.response_complete:
            message = b"request header fields too large"
            self.transport.write(
                STATUS_LINE[431]
                + b"content-type: text/plain; charset=utf-8\r\n"
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(message)
                + message
            )
        self.transport.close()
