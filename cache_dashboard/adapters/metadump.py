"""memcached's ``lru_crawler metadump all``, read a line at a time on a socket of our own.

The key browser lists memcached keys with it (``PyMemcacheAdapter.list_keys``): since 1.4.31 the
LRU crawler walks every item and writes one line per live item, ``key=<uri-encoded key> exp=<epoch
or -1> la=<epoch> cas=… fetch=… cls=… size=<bytes>``, then ``END``. Unlike ``stats cachedump`` it
sees every item (not the first megabyte of one slab class), a slab class's lock held for one item
at a time.

The socket is never one of the cache backend's clients: the hit path needs those, and a dump can
run for seconds. The dump is read in chunks and never kept whole: a page stops reading, closes
the socket, and the crawler stops within milliseconds. One dump runs at a time (another is told
``BUSY``), and one whose reader stops reading without closing holds the crawler, and memcached's
thread of any client asking for another dump meanwhile: a page reads as fast as it parses.
The crawler passes over an item another thread holds at that moment, and an item of the COLD
queue that was just read or touched is held until the LRU maintainer has moved it (within about a
second): such an item is missing from that dump.

A dump cannot resume where a previous one stopped, so a page that continues a listing re-reads
the dump from its start and skips what earlier pages saw (:meth:`Dump.resume`). Skipping counts
newlines in whole chunks (in C, nothing parsed), so it costs what it costs memcached to write
those lines; a page therefore costs up to one full dump of its server (about 0.15 s per 100,000
items on loopback). The order of the dump is the order of the server's LRU queues, which moves
when items are fetched, added, expire or are deleted: to stay on the right line the position is
checked against the key of the last line consumed (its *anchor*), found again up to
:data:`LOOK_AHEAD` lines later, or anywhere earlier.
"""

from __future__ import annotations

import re
import socket
import time
from collections import deque
from itertools import islice
from urllib.parse import quote_from_bytes

#: The command; ``all`` is every slab class.
COMMAND = b"lru_crawler metadump all\r\n"
#: Bytes asked of the socket per read.
CHUNK = 128 * 1024
#: Lines read past the expected position looking for the anchor (items added since the last page
#: push it further), kept in memory meanwhile.
LOOK_AHEAD = 1000
#: How long a dump waits for a crawler busy with another request (another dump, its own scheduled
#: crawl, or the dump a previous page just closed, which the crawler notices within ~10 ms).
BUSY_WAIT = 1.0
#: The first pause between two tries while the crawler is busy (doubled each time).
BUSY_PAUSE = 0.01


class Refused(Exception):
    """The server answered the command with an error line (kept in ``answer``)."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class Busy(Refused):
    """The crawler stayed busy with another request for :data:`BUSY_WAIT` seconds."""


def connect(address: tuple[str, int] | str, timeout: float) -> socket.socket:
    """A socket to ``(host, port)`` or a unix socket path, with ``timeout`` on every call."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    host, port = address
    return socket.create_connection((host.strip("[]"), port), timeout=timeout)


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(CHUNK)
    if not chunk:
        raise ConnectionError("memcached closed the connection in the middle of an answer")
    return chunk


def stats(sock: socket.socket, which: bytes = b"") -> dict[str, str]:
    """``stats`` (or ``stats <which>``, e.g. ``settings``) as names and values."""
    sock.sendall(b"stats " + which + b"\r\n" if which else b"stats\r\n")
    buf = b""
    while not (buf.endswith(b"END\r\n") and (len(buf) == 5 or buf[-7:-5] == b"\r\n")):
        buf += _recv(sock)
        if not buf.startswith(b"STAT") and b"\r\n" in buf and not buf.startswith(b"END"):
            raise Refused(buf.split(b"\r\n", 1)[0].decode("utf-8", "replace"))
    out = {}
    for line in buf.split(b"\r\n"):
        _stat, _space, rest = line.partition(b" ")
        name, _space, value = rest.partition(b" ")
        if _stat == b"STAT":
            out[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return out


def version(text: str) -> tuple[int, ...]:
    """``"1.6.18"`` (or ``"1.4.31-rc1"``) as ``(1, 6, 18)``; ``()`` when it does not read as one."""
    parts = []
    for part in text.split("."):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        parts.append(int(digits))
        if digits != part:
            break
    return tuple(parts)


def start(sock: socket.socket, busy_wait: float | None = None) -> Dump:
    """Send the command and read its first line: the dump, or :class:`Refused` (:class:`Busy`
    after ``busy_wait`` seconds, :data:`BUSY_WAIT` by default, of retries while another crawl runs)."""
    give_up = time.monotonic() + (BUSY_WAIT if busy_wait is None else busy_wait)
    pause = BUSY_PAUSE
    while True:
        sock.sendall(COMMAND)
        buf = _first_line(sock)
        if buf.startswith((b"key=", b"END\r\n")):
            return Dump(sock, buf)
        answer = buf.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        if not buf.startswith(b"BUSY"):
            raise Refused(answer)
        if time.monotonic() + pause > give_up:
            raise Busy(answer)
        time.sleep(pause)
        pause *= 2


def _first_line(sock: socket.socket) -> bytes:
    """What the server sent up to the end of its first line. No answer at all, from a server
    that just answered ``stats``, is a crawler held by another client's dump that stopped
    reading: memcached's thread for this connection waits for the crawler's lock meanwhile."""
    buf = b""
    try:
        while b"\n" not in buf:
            buf += _recv(sock)
    except TimeoutError as exc:
        raise Busy("no answer: the crawler is held by another client's dump") from exc
    return buf


class Dump:
    """The lines of one dump, a line at a time; :attr:`position` counts the item lines consumed
    (skipped or returned), :attr:`last` is the last line returned."""

    def __init__(self, sock: socket.socket, buf: bytes) -> None:
        self._sock = sock
        self._buf = buf  # received, not yet split: whole lines first, then part of one
        self._lines: deque[bytes] = deque()  # split, not yet consumed
        self._ended = False  # END received and every line before it split off
        self.position = 0
        self.last = b""

    def _whole(self) -> int:
        """How many bytes at the start of the buffer are whole item lines (the END line left
        out), reading more until there is one; 0 once the dump ended."""
        while not self._ended:
            buf = self._buf
            if buf.endswith(b"END\r\n") and (len(buf) == 5 or buf[-6:-5] == b"\n"):
                if len(buf) == 5:
                    self._ended = True
                    return 0
                return len(buf) - 5
            cut = buf.rfind(b"\n") + 1
            if cut:
                return cut
            self._buf += _recv(self._sock)
        return 0

    def _more(self) -> bool:
        """Split the whole lines received onto the queue (reading when there are none); False at the end."""
        cut = self._whole()
        if not cut:
            return False
        block, self._buf = self._buf[:cut], self._buf[cut:]
        self._lines.extend(block.split(b"\n")[:-1])
        return True

    def next_line(self) -> bytes | None:
        """The next item line (without its newline), or None after the last one."""
        if not self._lines and not self._more():
            return None
        self.position += 1
        self.last = self._lines.popleft()
        return self.last

    def finished(self) -> bool:
        """Whether every item line was consumed, as far as already received (nothing is read)."""
        return not self._lines and (self._ended or self._buf == b"END\r\n")

    def close(self) -> None:
        """Stop reading: the crawler notices the closed socket and ends this dump."""
        self._sock.close()

    # -- continuing a listing -------------------------------------------------------------------
    def resume(self, position: int, anchor: bytes) -> None:
        """Skip to where a previous page stopped: just after the line of key ``anchor`` (the
        key field as the dump writes it) when it comes first within ``position`` lines or up to
        :data:`LOOK_AHEAD` lines after them; else after ``position`` lines."""
        needle = b"key=" + anchor + b" " if anchor else b""
        if not self._skip(position, needle) and needle:
            self._look_ahead(needle)

    def _skip(self, count: int, needle: bytes) -> bool:
        """Consume ``count`` lines, or fewer up to the line starting with ``needle`` (then True)."""
        while count > 0:
            cut = self._whole()
            if not cut:
                return False
            buf = self._buf
            found = _line_start(buf, needle, cut) if needle else -1
            before = buf.count(b"\n", 0, found) if found >= 0 else count
            if before < count:
                self._consume(buf.index(b"\n", found) + 1, before + 1)
                return True
            lines = buf.count(b"\n", 0, cut)
            if lines > count:
                cut = _nth_newline(buf, count) + 1
                lines = count
            self._consume(cut, lines)
            count -= lines
        return False

    def _consume(self, cut: int, lines: int) -> None:
        self._buf = self._buf[cut:]
        self.position += lines

    def _look_ahead(self, needle: bytes) -> None:
        """Drop the lines up to the next :data:`LOOK_AHEAD` ones' line starting with ``needle``, if any."""
        while len(self._lines) < LOOK_AHEAD and self._more():
            pass
        for index, line in enumerate(islice(self._lines, LOOK_AHEAD)):
            if line.startswith(needle):
                for _ in range(index + 1):
                    self._lines.popleft()
                self.position += index + 1
                return


def _line_start(buf: bytes, needle: bytes, end: int) -> int:
    """Where ``needle`` starts a line of ``buf[:end]`` (the buffer starts with a line), or -1."""
    found = buf.find(needle, 0, end)
    while found > 0 and buf[found - 1] != 0x0A:
        found = buf.find(needle, found + 1, end)
    return found


def _nth_newline(buf: bytes, count: int) -> int:
    """Index of the ``count``-th newline of ``buf`` (there are more than ``count``)."""
    at = -1
    for _ in range(count):
        at = buf.index(b"\n", at + 1)
    return at


def encoded(raw: bytes) -> bytes:
    """``raw`` as the dump writes keys: ASCII letters, digits and ``-._~`` as they are, every
    other byte ``%XX`` (memcached's ``uriencode``, upper-case hex)."""
    return quote_from_bytes(raw, safe="").encode("ascii")


def key_field(line: bytes) -> bytes:
    """The key of an item line as the dump writes it (URI-encoded)."""
    end = line.find(b" ", 4)
    return line[4:end] if end >= 0 else line[4:]


def fields(line: bytes) -> dict[bytes, bytes]:
    """An item line's ``name=value`` fields (``key`` left encoded)."""
    out = {}
    for part in line.split(b" "):
        name, _eq, value = part.partition(b"=")
        out[name] = value
    return out


#: An item line as memcached 1.4.31 to 1.6 write it (fields may follow ``size``).
_ITEM = re.compile(rb"key=\S* exp=(-?\d+) la=(\d+) .*?\bsize=(\d+)")


def item_facts(line: bytes) -> tuple[int | None, int | None, int | None]:
    """``(exp, la, size)`` of an item line (None where it has none): one regular expression for
    the usual layout, the fields one by one for another."""
    found = _ITEM.match(line)
    if found is not None:
        return int(found[1]), int(found[2]), int(found[3])
    named = fields(line)
    return _int(named.get(b"exp")), _int(named.get(b"la")), _int(named.get(b"size"))


def _int(text: bytes | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
