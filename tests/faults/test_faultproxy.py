"""The fault proxy itself: each mode does what it says, on live connections."""

from __future__ import annotations

import asyncio
import time

from bench.faultproxy import FaultProxy


async def _echo_server():
    async def handle(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _closed(reader) -> bool:
    """The proxy closed (FIN) or reset (RST) the connection."""
    try:
        return await asyncio.wait_for(reader.read(10), 2) == b""
    except ConnectionResetError:
        return True


async def _roundtrip(port: int, payload: bytes, timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        got = b""
        while len(got) < len(payload):
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        writer.close()


def test_pass_delay_drop_cut_blackhole_retarget():
    async def scenario():
        echo = await _echo_server()
        port = echo.sockets[0].getsockname()[1]
        async with FaultProxy("127.0.0.1", port) as proxy:
            assert await _roundtrip(proxy.port, b"hello") == b"hello"

            proxy.delay(120)
            t = time.monotonic()
            assert await _roundtrip(proxy.port, b"slow") == b"slow"
            assert time.monotonic() - t >= 0.2  # both directions delayed

            # drop: a live connection is closed, new ones are refused until the mode changes
            proxy.set_pass()
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"x")
            assert await reader.read(1) == b"x"
            proxy.drop()
            assert await _closed(reader)
            writer.close()
            assert await _roundtrip(proxy.port, b"refused") == b""

            # cut: part of the next chunk goes through, then the connection ends
            proxy.cut(direction="down")
            got = await _roundtrip(proxy.port, b"0123456789")
            assert 0 < len(got) < 10 and b"0123456789".startswith(got)
            assert proxy.stats["cut"] >= 1

            # black-hole: nothing comes back, the socket stays open
            proxy.blackhole()
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"into the void")
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(10), 0.3)
                raise AssertionError("black-holed data came back")
            except TimeoutError:
                pass
            assert not reader.at_eof()
            proxy.set_pass()  # a held stream is reset when the path heals
            assert await _closed(reader)
            writer.close()
            assert await _roundtrip(proxy.port, b"healed") == b"healed"

            # retarget: the server came back on another port
            echo2 = await _echo_server()
            echo.close()
            await echo.wait_closed()
            proxy.retarget(echo2.sockets[0].getsockname()[1])
            assert await _roundtrip(proxy.port, b"moved") == b"moved"
            echo2.close()
            await echo2.wait_closed()

    asyncio.run(scenario())
