"""Docent's MCP server through the official `mcp` Python SDK, unchanged:
lists the tools, calls list_bots, search and ask, lists the documents as
resources and reads one. Prints one JSON object with what the SDK got, for
the Rust test that runs this script to check.

    python client.py URL API_KEY [FOREIGN_BOT FOREIGN_DOCUMENT_URI]

With another tenant's bot and document, also tries them (both must fail).
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


def texts(result):
    return [c.text for c in result.content if getattr(c, "type", "") == "text"]


async def main(url: str, key: str, foreign: list[str]) -> None:
    out = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                out["tools"] = sorted(t.name for t in tools.tools)
                bots = json.loads(texts(await session.call_tool("list_bots", {}))[0])["bots"]
                out["bots"] = bots
                bot = bots[0]["id"]
                found = await session.call_tool(
                    "search", {"bot_id": bot, "query": "How long do refunds take?", "top_k": 3}
                )
                out["search"] = json.loads(texts(found)[0])
                answer = await session.call_tool(
                    "ask", {"bot_id": bot, "question": "How long do refunds take?"}
                )
                out["ask"] = {"error": answer.is_error, "texts": texts(answer)}
                stranger = await session.call_tool(
                    "search", {"bot_id": "00000000-0000-7000-8000-000000000000", "query": "x"}
                )
                out["unknown_bot"] = {"error": stranger.is_error, "texts": texts(stranger)}
                if foreign:
                    bot_id, uri = foreign
                    theirs = await session.call_tool("search", {"bot_id": bot_id, "query": "refunds"})
                    out["foreign_search"] = {"error": theirs.is_error, "texts": texts(theirs)}
                    asked = await session.call_tool("ask", {"bot_id": bot_id, "question": "refunds?"})
                    out["foreign_ask"] = {"error": asked.is_error, "texts": texts(asked)}
                    try:
                        await session.read_resource(uri)
                        out["foreign_read"] = "read"
                    except Exception as e:  # the SDK raises the server's error
                        out["foreign_read"] = f"refused: {e}"
                resources = await session.list_resources()
                out["resources"] = [{"uri": str(r.uri), "name": r.name} for r in resources.resources]
                if resources.resources:
                    read_back = await session.read_resource(resources.resources[0].uri)
                    out["read"] = [c.text for c in read_back.contents]
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:5]))
