"""The web chat page at /chat/{handle}: one static HTML file, plain JavaScript.

The page itself finds out whether the handle exists (it reads the public workspace), so
every handle gets the same document and it can be cached. Its inline script and style are
allowed by hash in a strict Content-Security-Policy: nothing else may run on the page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).parent / "static" / "chat.html"

router = APIRouter()


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def _page() -> tuple[str, dict[str, str]]:
    html = PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    policy = (
        "default-src 'none'; connect-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'; "
        f"script-src {' '.join(map(_hash, scripts))}; style-src {' '.join(map(_hash, styles))}"
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return html, headers


@router.get("/chat/{handle}", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(handle: str) -> HTMLResponse:
    html, headers = _page()
    return HTMLResponse(html, headers=headers)
