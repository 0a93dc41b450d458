import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { WebSocket } from "ws";
import { sendBounded, WebView } from "../../src/web/server.js";

function get(
  url: string,
  opts: { method?: string; host?: string } = {},
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? "GET",
        headers: opts.host ? { host: opts.host } : {},
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body, type: String(res.headers["content-type"]) }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("the web view serves its page and uPlot, nothing else, and only to loopback names", async () => {
  const view = await WebView.listen({ host: "127.0.0.1", port: 0 });
  try {
    assert.match(view.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(view.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /<script src="app.js"/);
    for (const f of ["app.js", "app.css", "uPlot.js", "uPlot.css"])
      assert.equal((await get(`${view.url}${f}`)).status, 200, f);
    assert.equal((await get(`${view.url}package.json`)).status, 404);
    assert.equal((await get(`${view.url}..%2fpackage.json`)).status, 404);
    assert.equal((await get(view.url, { method: "POST" })).status, 405);
    assert.equal((await get(view.url, { host: "evil.example:80" })).status, 403);
    const port = new URL(view.url).port;
    assert.equal((await get(view.url, { host: `localhost:${port}` })).status, 200);
    // Before the host has booted a page's socket is closed with the reason.
    const ws = new WebSocket(`${view.url.replace("http", "ws")}live`);
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    assert.deepEqual(closed, { code: 1013, reason: "the host is still booting" });
  } finally {
    await view.close();
  }
});

test("a port in use is one clear error", async () => {
  const a = await WebView.listen({ host: "127.0.0.1", port: 0 });
  try {
    const port = Number(new URL(a.url).port);
    await assert.rejects(WebView.listen({ host: "127.0.0.1", port }), {
      code: "EADDRINUSE",
      message: new RegExp(`^--web 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`),
    });
  } finally {
    await a.close();
  }
});

test("a page over its bound of unsent bytes is dropped, not buffered", () => {
  let sent = 0;
  let terminated = false;
  const ws = {
    readyState: 1,
    OPEN: 1,
    bufferedAmount: 0,
    send: () => void sent++,
    terminate: () => void (terminated = true),
  };
  assert.equal(sendBounded(ws, "x", 100), true);
  ws.bufferedAmount = 100;
  assert.equal(sendBounded(ws, "x", 100), true);
  assert.equal(sent, 2);
  ws.bufferedAmount = 101;
  assert.equal(sendBounded(ws, "x", 100), false);
  assert.equal(sent, 2);
  assert.equal(terminated, true);
});
