"""``direct-streamlocal@openssh.com``: a channel to a unix socket on the server.

paramiko opens only the channel types of RFC 4254. OpenSSH's extension (its PROTOCOL
file, section 2.4) is a ``direct-tcpip`` whose destination is a socket path:

    byte    SSH_MSG_CHANNEL_OPEN
    string  "direct-streamlocal@openssh.com"
    uint32  sender channel
    uint32  initial window size
    uint32  maximum packet size
    string  socket path
    string  reserved (the empty string)
    uint32  reserved (0)

``StreamlocalTransport.open_streamlocal`` sends that message and then waits for the
answer exactly like ``Transport.open_channel`` does: the channel is registered before the
open goes out, and paramiko's own handlers for OPEN_CONFIRMATION / OPEN_FAILURE complete
it. This relies on the Transport's channel table (``_channels``, ``channel_events``,
``channels_seen``), which has had this shape since paramiko 1.x; the tests open real
streamlocal channels against OpenSSH, so a change there fails loudly.
"""

from __future__ import annotations

import threading
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_OPEN

STREAMLOCAL = "direct-streamlocal@openssh.com"


class StreamlocalTransport(paramiko.Transport):
    """A client Transport that can also open ``direct-streamlocal@openssh.com`` channels."""

    def open_streamlocal(self, socket_path: str, timeout: float | None = None) -> paramiko.Channel:
        """A channel connected to ``socket_path`` on the server.

        Raises ``paramiko.ChannelException`` when the server refuses (no such socket,
        forwarding disabled) and ``paramiko.SSHException`` when the session ends or the
        answer does not come within ``timeout`` seconds.
        """
        if not self.active:
            raise paramiko.SSHException("SSH session not active")
        wait = self.channel_timeout if timeout is None else timeout
        with self.lock:
            window = self._sanitize_window_size(None)
            packet = self._sanitize_packet_size(None)
            chanid = self._next_channel()
            msg = paramiko.Message()
            msg.add_byte(cMSG_CHANNEL_OPEN)
            msg.add_string(STREAMLOCAL)
            msg.add_int(chanid)
            msg.add_int(window)
            msg.add_int(packet)
            msg.add_string(socket_path)
            msg.add_string("")
            msg.add_int(0)
            chan = paramiko.Channel(chanid)
            self._channels.put(chanid, chan)
            answered = threading.Event()
            self.channel_events[chanid] = answered
            self.channels_seen[chanid] = True
            chan._set_transport(self)
            chan._set_window(window, packet)
        self._send_user_message(msg)
        deadline = time.monotonic() + wait
        # paramiko's answer handlers set the event; waking every 0.1 s only notices a
        # session that died without answering (as open_channel does).
        while not answered.wait(0.1):
            if not self.active:
                raise self.get_exception() or paramiko.SSHException("SSH session ended")
            if time.monotonic() > deadline:
                raise paramiko.SSHException(f"no answer to opening {socket_path} in {wait:g}s")
        opened = self._channels.get(chanid)
        if opened is None:
            raise self.get_exception() or paramiko.SSHException(f"cannot open {socket_path}")
        return opened
