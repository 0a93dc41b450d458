// pvnet's live web view: one WebSocket from the host, pushing samples at a fixed rate.
// Everything shown comes from those messages; xenstore values are a guest's to write, so
// every text goes into the page escaped.

const HISTORY_S = 60;
const state = {
  sample: null,
  tree: new Map(),
  changed: new Set(),
  log: [],
  lastSeq: 0,
  prev: null,
  plots: new Map(),
  hs: { vif: "", step: -1, playing: null },
  logDropped: 0,
};

function esc(s) {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function connect() {
  const conn = document.getElementById("conn");
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/live`);
  ws.onopen = () => {
    conn.textContent = "live";
    conn.className = "conn live";
  };
  ws.onclose = () => {
    conn.textContent = "disconnected (retrying)";
    conn.className = "conn lost";
    setTimeout(connect, 2000);
  };
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.t === "hello") {
      state.tree = new Map(Object.entries(m.tree));
      state.changed = new Set();
      state.log = [];
      state.lastSeq = 0;
      addLog(m.log);
      state.logDropped = m.logDropped;
      onSample(m.sample);
      renderTree();
      renderHandshake();
    } else if (m.t === "tick") {
      for (const [path, node] of m.xs) {
        if (node === null) state.tree.delete(path);
        else state.tree.set(path, node);
        state.changed.add(path);
      }
      const grew = addLog(m.log) || m.logDropped !== state.logDropped;
      state.logDropped = m.logDropped;
      onSample(m.sample);
      if (m.xs.length > 0) renderTree();
      if (grew) renderHandshake();
    }
  };
}

function addLog(entries) {
  let n = 0;
  for (const e of entries)
    if (e.seq > state.lastSeq) {
      state.log.push(e);
      state.lastSeq = e.seq;
      n++;
    }
  return n > 0;
}

// ---- samples: topology, vif table, plots ----

function onSample(s) {
  const prev = state.sample;
  state.sample = s;
  const doms = s.domains.length;
  document.getElementById("summary").textContent =
    `${doms} domain${doms === 1 ? "" : "s"}, ${s.vifs.length} vif${s.vifs.length === 1 ? "" : "s"}, ` +
    `bridges ${s.bridges.join(", ")}`;
  renderTopology(s);
  renderVifs(s);
  updatePlots(prev, s);
}

function renderTopology(s) {
  const svg = document.getElementById("topology");
  const W = Math.max(svg.clientWidth, 400);
  const guests = s.domains.filter((d) => !d.privileged);
  const dom0 = s.domains.find((d) => d.privileged);
  const colW = W / Math.max(guests.length, 1);
  const pos = new Map();
  let out = "";
  const lines = [];
  guests.forEach((g, i) => {
    const x = colW * i + colW / 2;
    pos.set(`d${g.id}`, { x, y: 30 });
    const vifs = s.vifs.filter((v) => v.domid === g.id);
    vifs.forEach((v, k) => {
      const vx = x + (k - (vifs.length - 1) / 2) * 90;
      pos.set(v.name, { x: vx, y: 110 });
      lines.push([`d${g.id}`, v.name]);
      lines.push([v.name, `b:${v.bridge}`]);
    });
  });
  const bw = W / Math.max(s.bridges.length, 1);
  s.bridges.forEach((b, i) => {
    pos.set(`b:${b}`, { x: bw * i + bw / 2, y: 205 });
  });
  // Uplinks are the switches' ports to the outside: drawn below their bridge, as a NIC,
  // inside Domain-0 (their links go over its box, so after it).
  const uplinks = s.uplinks ?? [];
  const upLines = [];
  for (const b of s.bridges) {
    const ups = uplinks.filter((u) => u.bridge === b);
    const bp = pos.get(`b:${b}`);
    ups.forEach((u, k) => {
      pos.set(`u:${u.name}`, { x: bp.x + (k - (ups.length - 1) / 2) * 230, y: 300 });
      upLines.push([`b:${b}`, `u:${u.name}`]);
    });
  }
  const H = uplinks.length > 0 ? 350 : 260;
  for (const [a, b] of lines) {
    const p = pos.get(a);
    const q = pos.get(b);
    if (p && q) out += `<line x1="${p.x}" y1="${p.y + 14}" x2="${q.x}" y2="${q.y - 14}"/>`;
  }
  if (dom0)
    out +=
      `<g class="dom dom0" data-domain="${esc(dom0.name)}"><rect x="4" y="172" width="${W - 8}" height="${H - 178}" rx="6"/>` +
      `<text x="12" y="188">${esc(dom0.name)} (dom${dom0.id}): netback, VALE switches, xenstored</text></g>`;
  for (const [a, b] of upLines) {
    const p = pos.get(a);
    const q = pos.get(b);
    if (p && q) out += `<line x1="${p.x}" y1="${p.y + 14}" x2="${q.x}" y2="${q.y - 30}"/>`;
  }
  for (const g of guests) {
    const p = pos.get(`d${g.id}`);
    out +=
      `<g class="dom" data-domain="${esc(g.name)}"><rect x="${p.x - 70}" y="${p.y - 16}" width="140" height="32" rx="6"/>` +
      `<text x="${p.x}" y="${p.y + 4}" text-anchor="middle">${esc(g.name)} (dom${g.id}) ${esc(g.state)}</text></g>`;
  }
  for (const v of s.vifs) {
    const p = pos.get(v.name);
    if (!p) continue;
    const ok = v.frontend.stateName === "Connected" && v.backend.stateName === "Connected";
    out +=
      `<g class="vif ${ok ? "ok" : "bad"}" data-vif="${esc(v.name)}"><rect x="${p.x - 42}" y="${p.y - 16}" width="84" height="32" rx="4"/>` +
      `<text x="${p.x}" y="${p.y - 2}" text-anchor="middle">${esc(v.name)}</text>` +
      `<text x="${p.x}" y="${p.y + 11}" text-anchor="middle" class="vif-state">${esc(v.frontend.stateName)}/${esc(v.backend.stateName)}</text></g>`;
  }
  for (const b of s.bridges) {
    const p = pos.get(`b:${b}`);
    const ports = s.vifs.filter((v) => v.bridge === b).length + uplinks.filter((u) => u.bridge === b).length;
    out +=
      `<g class="bridge" data-bridge="${esc(b)}"><rect x="${p.x - 60}" y="${p.y - 14}" width="120" height="28" rx="4"/>` +
      `<text x="${p.x}" y="${p.y + 4}" text-anchor="middle">${esc(b)} (VALE, ${ports} port${ports === 1 ? "" : "s"})</text></g>`;
  }
  for (const u of uplinks) {
    const p = pos.get(`u:${u.name}`);
    if (!p) continue;
    const c = u.counters;
    const drops = c.rx_dropped + c.rx_missed_errors + c.tx_dropped;
    const errs = c.rx_errors + c.tx_errors;
    out +=
      `<g class="uplink ${u.type}" data-uplink="${esc(u.name)}"><rect x="${p.x - 110}" y="${p.y - 30}" width="220" height="60" rx="4"/>` +
      `<text x="${p.x}" y="${p.y - 14}" text-anchor="middle">${esc(u.name)} (${esc(u.type)} uplink)</text>` +
      `<text x="${p.x}" y="${p.y}" text-anchor="middle" class="uplink-peer">${esc(u.peer)}</text>` +
      `<text x="${p.x}" y="${p.y + 14}" text-anchor="middle" class="uplink-counters">` +
      `TX <tspan class="tx-packets">${c.tx_packets}</tspan> · RX <tspan class="rx-packets">${c.rx_packets}</tspan> pkts · ` +
      `drops <tspan class="drops">${drops}</tspan> · errors <tspan class="errors">${errs}</tspan></text></g>`;
  }
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.style.height = `${H}px`;
  svg.innerHTML = out;
}

function ringText(r) {
  if (!r) return "-";
  return `${r.reqProd}/${r.rspProd} ${r.inFlight}/${r.size}`;
}

function renderVifs(s) {
  const rows = s.vifs.map((v) => {
    const c = v.counters;
    const rings = v.rings.map((q) => `q${q.queue} TX ${ringText(q.tx)} · RX ${ringText(q.rx)}`).join("<br>");
    const evIn = c.evt_received;
    const evOut = c.evt_sent;
    const copies = c.gnt_copy_ops;
    return (
      `<tr data-vif="${esc(v.name)}"><td>${esc(v.name)}</td><td>${esc(v.domain)}</td>` +
      `<td>${esc(v.mac)}<br>${esc(v.ip ?? "-")}</td><td>${esc(v.bridge)}</td>` +
      `<td class="fe state-${esc(v.frontend.stateName)}">${esc(v.frontend.stateName)}</td>` +
      `<td class="be state-${esc(v.backend.stateName)}">${esc(v.backend.stateName)}</td>` +
      `<td class="rings">${rings}</td>` +
      `<td class="num tx-packets">${c.tx_packets}</td><td class="num rx-packets">${c.rx_packets}</td>` +
      `<td class="num">${c.tx_dropped + c.rx_dropped}</td>` +
      `<td class="num events">${evIn} / ${evOut}</td><td class="num copies">${copies}</td></tr>`
    );
  });
  document.querySelector("#vifs tbody").innerHTML = rows.join("");
}

const VIF_LABELS = ["from guest (RX)", "to guest (TX)"];
const UPLINK_LABELS = ["from the network (RX)", "to the network (TX)"];

/** Every port with a plot: the vifs (netback's counters) and the uplinks (ip -s link's). */
function plotSources(s) {
  const out = s.vifs.map((v) => ({ name: v.name, c: v.counters, labels: VIF_LABELS }));
  for (const u of s.uplinks ?? []) out.push({ name: u.name, c: u.counters, labels: UPLINK_LABELS });
  return out;
}

function updatePlots(prev, s) {
  const now = plotSources(s);
  const live = new Set(now.map((x) => x.name));
  for (const [name, p] of state.plots)
    if (!live.has(name)) {
      p.plot.destroy();
      p.box.remove();
      state.plots.delete(name);
    }
  if (prev === null) return;
  const dt = (s.atMs - prev.atMs) / 1000;
  if (dt <= 0) return;
  const before = plotSources(prev);
  for (const x of now) {
    const was = before.find((y) => y.name === x.name);
    if (!was) continue;
    let p = state.plots.get(x.name);
    if (!p) p = newPlot(x.name, x.labels);
    const rx = Math.max(0, (x.c.rx_bytes - was.c.rx_bytes) * 8) / dt / 1e6;
    const tx = Math.max(0, (x.c.tx_bytes - was.c.tx_bytes) * 8) / dt / 1e6;
    const t = Date.now() / 1000;
    p.data[0].push(t);
    p.data[1].push(rx);
    p.data[2].push(tx);
    while (p.data[0].length > 0 && p.data[0][0] < t - HISTORY_S) for (const a of p.data) a.shift();
    p.plot.setData(p.data);
  }
}

function newPlot(name, labels) {
  const box = document.createElement("div");
  box.dataset.plot = name;
  document.getElementById("plots").appendChild(box);
  const data = [[], [], []];
  const plot = new uPlot(
    {
      title: name,
      width: 380,
      height: 170,
      scales: { x: { time: true } },
      series: [
        {},
        { label: labels[0], stroke: "#3b6fd8", width: 1.5 },
        { label: labels[1], stroke: "#c38a1c", width: 1.5 },
      ],
      axes: [{}, { label: "Mbit/s", size: 60 }],
    },
    data,
    box,
  );
  const p = { box, data, plot };
  state.plots.set(name, p);
  return p;
}

// ---- xenstore tree ----

function renderTree() {
  const paths = [...state.tree.keys()].sort();
  let out = "";
  for (const path of paths) {
    const n = state.tree.get(path);
    const depth = path === "/" ? 0 : path.split("/").length - 1;
    const name = path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1);
    const cls = state.changed.has(path) ? ' class="chg"' : "";
    out +=
      `<span${cls} data-path="${esc(path)}">${"  ".repeat(depth)}${esc(name)} = "${esc(n.value)}" ` +
      `<span class="perm">(${esc(n.perms.join(","))})</span></span>\n`;
  }
  document.getElementById("xenstore").innerHTML = out;
  state.changed = new Set();
}

// ---- handshake replay ----

const XENBUS = [
  "Unknown",
  "Initialising",
  "InitWait",
  "Initialised",
  "Connected",
  "Closing",
  "Closed",
  "Reconfiguring",
  "Reconfigured",
];

/** A value as the step list shows it: a state key's number with its xenbus name. */
function shown(path, value) {
  const name = path.endsWith("/state") && /^\d$/.test(value) ? XENBUS[Number(value)] : undefined;
  return `"${esc(value)}"${name ? ` (${name})` : ""}`;
}

const FE = /^\/local\/domain\/(\d+)\/device\/vif\/(\d+)(\/|$)/;
const BE = /^\/local\/domain\/\d+\/backend\/vif\/(\d+)\/(\d+)(\/|$)/;

function vifOf(path) {
  const m = FE.exec(path) ?? BE.exec(path);
  return m ? `vif${m[1]}.${m[2]}` : null;
}

function hsEntries(vif) {
  return state.log.filter((e) => vifOf(e.path) === vif);
}

function renderHandshake() {
  const sel = document.getElementById("hs-vif");
  // In domain and device order, whichever guest's handshake was logged first (guests boot
  // in parallel).
  const num = (v) => v.slice(3).split(".").map(Number);
  const vifs = [...new Set(state.log.map((e) => vifOf(e.path)).filter((v) => v !== null))].sort((a, b) => {
    const [ad, an] = num(a);
    const [bd, bn] = num(b);
    return ad - bd || an - bn;
  });
  const opts = vifs.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
  if (sel.dataset.opts !== opts) {
    sel.innerHTML = opts;
    sel.dataset.opts = opts;
    if (state.hs.vif === "" && vifs.length > 0) state.hs.vif = vifs[0];
    sel.value = state.hs.vif;
  }
  const list = hsEntries(state.hs.vif);
  if (state.hs.step < 0 || state.hs.step >= list.length) state.hs.step = list.length - 1;
  const k = state.hs.step;
  const lost = state.logDropped > 0 ? ` (${state.logDropped} changes on the host went unrecorded)` : "";
  document.getElementById("hs-pos").textContent =
    (list.length === 0 ? "" : `step ${k + 1} of ${list.length}`) + lost;
  const seen = new Map();
  document.getElementById("hs-steps").innerHTML = list
    .map((e, i) => {
      const cls = i === k ? "cur" : i > k ? "future" : "";
      const perms = e.node === null ? "" : e.node.perms.join(",");
      const before = seen.get(e.path);
      seen.set(e.path, e.node === null ? undefined : { value: e.node.value, perms });
      let what = "removed";
      if (e.node !== null)
        what =
          before !== undefined && before.value === e.node.value && before.perms !== perms
            ? `perms (${esc(perms)})`
            : `= ${shown(e.path, e.node.value)}${before === undefined ? ` [${esc(perms)}]` : ""}`;
      return `<li class="${cls}">+${(e.atMs / 1000).toFixed(3)} s dom${e.domid}: ${esc(e.path)} ${what}</li>`;
    })
    .join("");
  const cur = document.querySelector("#hs-steps li.cur");
  if (cur) cur.scrollIntoView({ block: "nearest" });
  // The two directories as they stood after step k.
  const kv = new Map();
  for (const e of list.slice(0, k + 1)) {
    if (e.node === null) {
      for (const p of [...kv.keys()]) if (p === e.path || p.startsWith(`${e.path}/`)) kv.delete(p);
    } else kv.set(e.path, e.node.value);
  }
  const lines = [...kv.keys()].sort().map((p) => `${p} = "${kv.get(p)}"`);
  document.getElementById("hs-state").textContent = lines.join("\n");
}

function hsGo(f) {
  const n = hsEntries(state.hs.vif).length;
  state.hs.step = Math.max(0, Math.min(n - 1, f(state.hs.step, n)));
  renderHandshake();
}

function setupHandshake() {
  document.getElementById("hs-vif").onchange = (e) => {
    state.hs.vif = e.target.value;
    state.hs.step = -1;
    renderHandshake();
  };
  document.getElementById("hs-first").onclick = () => hsGo(() => 0);
  document.getElementById("hs-prev").onclick = () => hsGo((k) => k - 1);
  document.getElementById("hs-next").onclick = () => hsGo((k) => k + 1);
  document.getElementById("hs-last").onclick = () => hsGo((_k, n) => n - 1);
  document.getElementById("hs-play").onclick = () => {
    if (state.hs.playing !== null) {
      clearInterval(state.hs.playing);
      state.hs.playing = null;
      return;
    }
    hsGo(() => 0);
    state.hs.playing = setInterval(() => {
      const n = hsEntries(state.hs.vif).length;
      if (state.hs.step >= n - 1) {
        clearInterval(state.hs.playing);
        state.hs.playing = null;
      } else hsGo((k) => k + 1);
    }, 400);
  };
}

setupHandshake();
connect();
