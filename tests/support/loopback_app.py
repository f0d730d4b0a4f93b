"""An aiohttp application served on a loopback port from its own thread, for test servers and proxies."""
from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class LoopbackApp:
    """Subclasses add their routes in :meth:`routes`; ``with Sub(...) as app: app.base_url`` (``…/v1``)."""

    def routes(self, app: web.Application) -> None:
        """Add the routes to ``app``."""
        raise NotImplementedError

    async def _start(self) -> int:
        app = web.Application(client_max_size=64 * 2**20)
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]

    def __enter__(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
