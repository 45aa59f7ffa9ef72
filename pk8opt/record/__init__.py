"""`pk8opt record`: every window of the chosen symbols on disk, complete, with its resolution.

Per symbol one market socket and one live-data socket. The current window's market is
found in Gamma by slug and subscribed; `lead_s` before it ends the next window's tokens
are added on the same socket, and the ending session stays open until its resolution is
known (`market_resolved`, else Gamma's `closed` + `outcomePrices` polled with backoff).
A market frame goes to the session(s) whose token ids it names (an array naming both
windows goes, verbatim, to both; a frame naming none goes to every open session of the
symbol); a live frame goes to every open session of the symbol. A reconnect writes a
`gap` note (socket, start_ns at the last frame that socket delivered before the break,
or at the disconnect when it never delivered one, duration_ns until the first frame of
the new connection, which is the fresh snapshot).

Times are venue times from `VenueClock` (the wall clock against Polymarket).

The package: `config` (`RecordConfig`), `host` (`RecorderHost`: the recorder as its
parts see it), `recorder` (`JsonLog`, `Recorder`), `symbol` (one symbol's sockets and
sessions), `folders` (a session folder opened new, or continued
after a restart, and late frames added to a finished one), `lock` (one recorder per
folder), `probe` (`record --check`) and `status` (the live display: one line per
endpoint, one row per open session).
"""

from pk8opt.record.config import RecordConfig
from pk8opt.record.recorder import JsonLog, Recorder
from pk8opt.record.symbol import OpenSession, SymbolRecorder

__all__ = ["JsonLog", "OpenSession", "RecordConfig", "Recorder", "SymbolRecorder"]
