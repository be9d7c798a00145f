/// The dashboard's page, script and style, shipped inside the binary: nothing is fetched from
/// elsewhere.
enum DashboardAssets {
    struct Asset {
        var contentType: String
        var body: String
    }

    static let files: [String: Asset] = [
        "/": Asset(contentType: "text/html; charset=utf-8", body: page),
        "/dashboard.js": Asset(contentType: "text/javascript; charset=utf-8", body: script),
        "/dashboard.css": Asset(contentType: "text/css; charset=utf-8", body: style),
    ]

    static let page = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Junction</title>
    <link rel="stylesheet" href="/dashboard.css">
    </head>
    <body>
    <header>
      <h1>Junction <span id="network-name"></span></h1>
      <div id="status" class="status">connecting…</div>
    </header>
    <main>
      <section class="map-panel">
        <svg id="map" viewBox="0 0 1000 560" preserveAspectRatio="xMidYMid meet" role="img" aria-label="network map">
          <g id="links"></g><g id="highlight"></g><g id="nodes"></g><g id="pools"></g>
        </svg>
        <div class="legend">
          <span><i class="swatch" style="background:#2e9d6a"></i>link idle</span>
          <span><i class="swatch" style="background:#e0b43a"></i>half reserved</span>
          <span><i class="swatch" style="background:#d8453b"></i>full</span>
          <span><i class="swatch dashed"></i>down</span>
          <span><i class="dot up"></i>pool up</span><span><i class="dot stale"></i>stale</span>
          <span><i class="dot down"></i>down</span><span><i class="dot dampened"></i>flapping</span><span><i class="dot declared"></i>declared</span>
        </div>
      </section>
      <section class="tables">
        <h2>Jobs <small id="jobs-count"></small></h2>
        <div class="scroll"><table id="jobs">
          <thead><tr><th>job</th><th>state</th><th>pool</th><th>path</th><th>estimate</th><th>attempts</th><th>age</th></tr></thead>
          <tbody></tbody>
        </table></div>
        <h2>Pools <small id="pools-count"></small></h2>
        <div class="scroll"><table id="pool-table">
          <thead><tr><th>pool</th><th>node</th><th>state</th><th>cpu free / total</th><th>memory free / total</th><th>gpus free / total</th><th>jobs</th></tr></thead>
          <tbody></tbody>
        </table></div>
      </section>
    </main>
    <script src="/dashboard.js"></script>
    </body>
    </html>
    """#

    static let style = #"""
    :root { color-scheme: light; --ink: #1d2733; --muted: #6b7785; --line: #dde3ea; --panel: #f7f9fb; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
    header { display: flex; align-items: baseline; justify-content: space-between; padding: 10px 18px; border-bottom: 1px solid var(--line); }
    h1 { font-size: 18px; margin: 0; } h1 span { color: var(--muted); font-weight: normal; }
    h2 { font-size: 15px; margin: 12px 0 6px; } h2 small { color: var(--muted); font-weight: normal; }
    .status { color: var(--muted); } .status.live::before { content: "●"; color: #2e9d6a; margin-right: 6px; }
    .status.lost::before { content: "●"; color: #d8453b; margin-right: 6px; }
    main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(520px, 1.1fr); gap: 14px; padding: 12px 18px; }
    @media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
    .map-panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 6px; align-self: start; }
    #map { width: 100%; height: auto; display: block; }
    .legend { display: flex; flex-wrap: wrap; gap: 12px; color: var(--muted); font-size: 12px; padding: 4px 6px; }
    .swatch { display: inline-block; width: 18px; height: 4px; margin-right: 4px; vertical-align: middle; }
    .swatch.dashed { border-top: 2px dashed #9aa5b1; height: 0; }
    .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 4px; vertical-align: middle; }
    .dot.up, .pool.up circle { background: #2e9d6a; fill: #2e9d6a; }
    .dot.stale, .pool.stale circle { background: #e0b43a; fill: #e0b43a; }
    .dot.down, .pool.down circle { background: #d8453b; fill: #d8453b; }
    .dot.dampened, .pool.dampened circle { background: #b4641e; fill: #b4641e; }
    .dot.declared, .pool.declared circle { background: #b8c1cc; fill: #b8c1cc; }
    .link { stroke-linecap: round; } .link.down { stroke: #9aa5b1 !important; stroke-dasharray: 5 4; }
    .node circle { fill: #fff; stroke: #435264; stroke-width: 1.5; }
    .node text { font-size: 15px; fill: #435264; pointer-events: none; paint-order: stroke; stroke: var(--panel); stroke-width: 3px; }
    .pool .bar-bg { fill: #e6ebf0; } .pool .bar { fill: #4a78c2; }
    #highlight polyline { fill: none; stroke: #1aa3c9; stroke-width: 6; stroke-opacity: .75; stroke-linejoin: round; }
    .scroll { max-height: 42vh; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
    table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
    th { position: sticky; top: 0; background: var(--panel); font-weight: 600; }
    td.path { white-space: normal; max-width: 320px; }
    tr[data-job]:hover { background: #eaf6fa; cursor: default; }
    .state { padding: 1px 6px; border-radius: 8px; font-size: 11.5px; background: #eef1f4; }
    .state.running, .state.up { background: #dcf2e6; } .state.dispatched, .state.accepted { background: #e4ecfa; }
    .state.failed, .state.down { background: #fbe1df; } .state.succeeded { background: #eef1f4; color: var(--muted); }
    .state.cancelled { background: #f6eedb; } .state.stale { background: #f8eecf; }
    """#

    static let script = #"""
    "use strict";
    // Junction's dashboard: the network and its pools drawn from /api/v1/topology and
    // /api/v1/snapshot, kept live by the controller's events (/api/v1/events, server-sent).
    const svgNS = "http://www.w3.org/2000/svg";
    const state = { topology: null, positions: new Map(), pools: new Map(), jobs: new Map(), epoch: null, sequence: 0 };
    const maxJobRows = 500, maxFinishedKept = 2000;
    let refreshTimer = null, renderQueued = false, detailTimer = null;
    // What changed since the last render: the job table is cheap, the pools (a table row and a
    // marker each) less so, and neither is redrawn for the other's events.
    const dirty = { jobs: false, pools: false };
    const wantDetails = new Set();

    const el = (name, attributes = {}, parent = null) => {
      const node = document.createElementNS(svgNS, name);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
      if (parent) parent.appendChild(node);
      return node;
    };
    const text = (value) => document.createTextNode(value);
    const number = (value, digits = 1) => {
      const n = Number(value || 0);
      return Number.isInteger(n) ? String(n) : n.toFixed(digits);
    };
    const gib = (bytes) => number(Number(bytes || 0) / 1073741824);
    const gpuText = (resources) => Object.entries((resources && resources.gpus) || {}).map(([m, c]) => `${c} ${m}`).join(", ");
    const shortState = (s) => (s || "").replace(/^(JOB_STATE_|POOL_STATE_)/, "").toLowerCase();
    const age = (ms) => {
      if (!ms) return "";
      const s = Math.max(0, (Date.now() - Number(ms)) / 1000);
      return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
    };

    async function getJSON(path) {
      const response = await fetch(path, { cache: "no-store" });
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
      return response.json();
    }

    // Positions: latitude and longitude when every node has them, else a force layout.
    function layout(topology) {
      const nodes = topology.nodes, positions = new Map();
      // Labels sit to the right of their nodes: more room on that side.
      const width = 1000 - 90, height = 560, margin = 46;
      if (nodes.length && nodes.every((n) => n.latitude !== undefined && n.longitude !== undefined)) {
        const lats = nodes.map((n) => n.latitude), lons = nodes.map((n) => n.longitude);
        const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
        const squeeze = Math.cos(midLat * Math.PI / 180);
        const xs = lons.map((l) => l * squeeze), ys = lats;
        const spanX = Math.max(1e-6, Math.max(...xs) - Math.min(...xs)), spanY = Math.max(1e-6, Math.max(...ys) - Math.min(...ys));
        const scale = Math.min((width - 2 * margin) / spanX, (height - 2 * margin) / spanY);
        const offX = (width - spanX * scale) / 2, offY = (height - spanY * scale) / 2;
        nodes.forEach((n, i) => positions.set(n.id, { x: offX + (xs[i] - Math.min(...xs)) * scale, y: offY + (Math.max(...ys) - ys[i]) * scale }));
        return positions;
      }
      // Fruchterman-Reingold from a circle, so the same topology always lands the same way.
      const count = nodes.length, index = new Map(nodes.map((n, i) => [n.id, i]));
      const p = nodes.map((n, i) => ({ x: width / 2 + 200 * Math.cos(2 * Math.PI * i / Math.max(1, count)), y: height / 2 + 200 * Math.sin(2 * Math.PI * i / Math.max(1, count)) }));
      const k = Math.sqrt((width * height) / Math.max(1, count)) * 0.6;
      const iterations = Math.max(20, Math.min(250, Math.floor(4e7 / Math.max(1, count * count))));
      for (let step = 0; step < iterations; step++) {
        const temperature = 60 * (1 - step / iterations) + 1;
        const d = p.map(() => ({ x: 0, y: 0 }));
        for (let i = 0; i < count; i++) for (let j = i + 1; j < count; j++) {
          const dx = p[i].x - p[j].x, dy = p[i].y - p[j].y, dist = Math.max(0.01, Math.hypot(dx, dy)), f = k * k / dist;
          d[i].x += dx / dist * f; d[i].y += dy / dist * f; d[j].x -= dx / dist * f; d[j].y -= dy / dist * f;
        }
        for (const link of topology.links) {
          const a = index.get(link.from), b = index.get(link.to);
          const dx = p[a].x - p[b].x, dy = p[a].y - p[b].y, dist = Math.max(0.01, Math.hypot(dx, dy)), f = dist * dist / k;
          d[a].x -= dx / dist * f; d[a].y -= dy / dist * f; d[b].x += dx / dist * f; d[b].y += dy / dist * f;
        }
        for (let i = 0; i < count; i++) {
          const len = Math.max(0.01, Math.hypot(d[i].x, d[i].y));
          p[i].x += d[i].x / len * Math.min(len, temperature); p[i].y += d[i].y / len * Math.min(len, temperature);
        }
      }
      const xs = p.map((q) => q.x), ys = p.map((q) => q.y);
      const spanX = Math.max(1, Math.max(...xs) - Math.min(...xs)), spanY = Math.max(1, Math.max(...ys) - Math.min(...ys));
      const scale = Math.min((width - 2 * margin) / spanX, (height - 2 * margin) / spanY);
      nodes.forEach((n, i) => positions.set(n.id, { x: margin + (p[i].x - Math.min(...xs)) * scale, y: margin + (p[i].y - Math.min(...ys)) * scale }));
      return positions;
    }

    function linkColour(ratio) {
      const r = Math.max(0, Math.min(1, ratio));
      const mix = (a, b, t) => Math.round(a + (b - a) * t);
      const [from, to, t] = r < 0.5 ? [[46, 157, 106], [224, 180, 58], r * 2] : [[224, 180, 58], [216, 69, 59], (r - 0.5) * 2];
      return `rgb(${mix(from[0], to[0], t)},${mix(from[1], to[1], t)},${mix(from[2], to[2], t)})`;
    }

    function poolStatus(pool) {
      const s = shortState(pool.state);
      if (s === "up" && state.topology && pool.lastAdvertisementMs && Date.now() - Number(pool.lastAdvertisementMs) > state.topology.staleAfterS * 1000) return "stale";
      return s || "declared";
    }

    function drawNetwork() {
      const topology = state.topology;
      if (!topology) return;
      const links = document.getElementById("links"), nodes = document.getElementById("nodes");
      links.replaceChildren(); nodes.replaceChildren();
      const maxCapacity = Math.max(1, ...topology.links.map((l) => l.capacityGbps));
      for (const link of topology.links) {
        const a = state.positions.get(link.from), b = state.positions.get(link.to);
        const ratio = link.capacityGbps > 0 ? link.reservedGbps / link.capacityGbps : 0;
        const line = el("line", {
          x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "link" + (link.up ? "" : " down"), "data-link": link.id,
          stroke: linkColour(ratio), "stroke-width": 1.5 + 3.5 * Math.log1p(link.capacityGbps) / Math.log1p(maxCapacity),
        }, links);
        el("title", {}, line).appendChild(text(linkTitle(link)));
      }
      const labels = topology.nodes.length <= 60;
      for (const node of topology.nodes) {
        const p = state.positions.get(node.id);
        const group = el("g", { class: "node", "data-node": node.id, transform: `translate(${p.x},${p.y})` }, nodes);
        el("circle", { r: labels ? 6 : 3 }, group);
        el("title", {}, group).appendChild(text(node.name || node.id));
        if (labels) el("text", { x: 9, y: -8 }, group).appendChild(text(node.name || node.id));
      }
      drawPools();
    }

    // Reservations and link states change often; the lines stay and only their look is set again.
    function updateLinks() {
      const lines = new Map([...document.querySelectorAll("#links line")].map((line) => [line.dataset.link, line]));
      if (lines.size !== state.topology.links.length) return drawNetwork();
      for (const link of state.topology.links) {
        const line = lines.get(link.id);
        if (!line) return drawNetwork();
        const ratio = link.capacityGbps > 0 ? link.reservedGbps / link.capacityGbps : 0;
        line.setAttribute("stroke", linkColour(ratio));
        line.setAttribute("class", "link" + (link.up ? "" : " down"));
        line.firstChild.textContent = linkTitle(link);
      }
    }

    function linkTitle(link) {
      return `${link.id}: ${number(link.latencyMs, 2)} ms, ${number(link.reservedGbps)} of ${number(link.capacityGbps)} Gbps reserved${link.up ? "" : " (down)"}`;
    }

    function drawPools() {
      const layer = document.getElementById("pools");
      layer.replaceChildren();
      if (!state.topology) return;
      const byNode = new Map();
      for (const pool of state.pools.values()) {
        if (!byNode.has(pool.node)) byNode.set(pool.node, []);
        byNode.get(pool.node).push(pool);
      }
      for (const [nodeID, pools] of byNode) {
        const p = state.positions.get(nodeID);
        if (!p) continue;
        pools.sort((a, b) => a.poolId.localeCompare(b.poolId));
        pools.forEach((pool, i) => {
          const angle = Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, pools.length);
          const x = p.x + 20 * Math.cos(angle), y = p.y + 20 * Math.sin(angle);
          const total = (pool.total && pool.total.cpuCores) || 0, free = (pool.free && pool.free.cpuCores) || 0;
          const used = total > 0 ? Math.max(0, Math.min(1, (total - free) / total)) : 0;
          const group = el("g", { class: `pool ${poolStatus(pool)}`, "data-pool": pool.poolId, transform: `translate(${x},${y})` }, layer);
          el("circle", { r: 6 }, group);
          el("rect", { class: "bar-bg", x: 8, y: -3, width: 30, height: 6 }, group);
          el("rect", { class: "bar", x: 8, y: -3, width: 30 * used, height: 6 }, group);
          el("title", {}, group).appendChild(text(`${pool.poolId} at ${pool.node}: ${poolStatus(pool)}, ${number(free)} of ${number(total)} cores free`));
        });
      }
    }

    function highlight(path) {
      const layer = document.getElementById("highlight");
      layer.replaceChildren();
      const points = (path || []).map((id) => state.positions.get(id)).filter(Boolean);
      if (points.length) el("polyline", { points: points.map((q) => `${q.x},${q.y}`).join(" ") }, layer);
    }

    function row(cells, attributes) {
      const tr = document.createElement("tr");
      for (const [key, value] of Object.entries(attributes)) tr.setAttribute(key, value);
      for (const cell of cells) {
        const td = document.createElement("td");
        if (cell && cell.badge) {
          const span = document.createElement("span");
          span.className = `state ${cell.badge}`; span.textContent = cell.badge; td.appendChild(span);
        } else if (cell && cell.path) {
          td.className = "path"; td.textContent = cell.path;
        } else td.textContent = cell;
        tr.appendChild(td);
      }
      return tr;
    }

    function renderTables() {
      renderQueued = false;
      if (dirty.jobs) renderJobs();
      if (dirty.pools) { renderPools(); drawPools(); }
      dirty.jobs = dirty.pools = false;
      showStatus();
    }

    function renderJobs() {
      let jobs = [...state.jobs.values()].sort((a, b) => b.number - a.number);
      // A page left open keeps the newest finished jobs it saw, not every one.
      const finished = jobs.filter((j) => ["succeeded", "failed", "cancelled"].includes(j.state));
      if (finished.length > maxFinishedKept) {
        for (const job of finished.slice(maxFinishedKept)) state.jobs.delete(job.id);
        jobs = [...state.jobs.values()].sort((a, b) => b.number - a.number);
      }
      const active = jobs.filter((j) => !["succeeded", "failed", "cancelled"].includes(j.state)).length;
      document.getElementById("jobs-count").textContent = `${active} active, ${jobs.length} shown${jobs.length > maxJobRows ? ` (newest ${maxJobRows} listed)` : ""}`;
      const body = document.querySelector("#jobs tbody");
      body.replaceChildren(...jobs.slice(0, maxJobRows).map((job) => {
        const e = job.estimate;
        const estimate = !e ? "" : e.runtimeS || e.transferS ? `done in ${number(e.completionS)} s` : `${number(e.latencyMs, 2)} ms away`;
        const tr = row([job.id, { badge: job.state }, job.pool || "", { path: (job.path || []).join(" → ") }, estimate, String(job.attempts || 0), age(job.submittedMs)], { "data-job": job.id });
        tr.addEventListener("mouseenter", () => highlight(job.path));
        tr.addEventListener("mouseleave", () => highlight([]));
        return tr;
      }));
    }

    function renderPools() {
      const pools = [...state.pools.values()].sort((a, b) => a.poolId.localeCompare(b.poolId));
      const up = pools.filter((p) => poolStatus(p) === "up").length;
      document.getElementById("pools-count").textContent = `${up} up of ${pools.length}`;
      document.querySelector("#pool-table tbody").replaceChildren(...pools.map((p) => row([
        p.poolId, p.node, { badge: poolStatus(p) },
        `${number(p.free && p.free.cpuCores)} / ${number(p.total && p.total.cpuCores)}`,
        `${gib(p.free && p.free.memoryBytes)} / ${gib(p.total && p.total.memoryBytes)} GiB`,
        `${gpuText(p.free) || "–"} / ${gpuText(p.total) || "–"}`, String(p.runningJobs || 0),
      ], { "data-pool-row": p.poolId })));
    }

    function queueRender(what = { jobs: true }) {
      if (what.jobs) dirty.jobs = true;
      if (what.pools) dirty.pools = true;
      // A timer, not an animation frame: a hidden tab gets no frames, and its tables must still follow.
      if (!renderQueued) { renderQueued = true; setTimeout(renderTables, 50); }
    }

    function showStatus(message) {
      const status = document.getElementById("status");
      if (message) { status.textContent = message; status.className = "status lost"; return; }
      status.textContent = `live · event ${state.sequence} · epoch ${state.epoch}`;
      status.className = "status live";
    }

    function jobFromInfo(info) {
      return {
        id: info.jobId, number: Number((info.jobId || "").replace(/^job-/, "")) || 0, state: shortState(info.state), pool: info.pool,
        path: info.path || [], estimate: info.estimate, attempts: info.attempts || 0, submittedMs: info.submittedMs,
      };
    }

    // Whether a reload kept every node where it was: only then do the positions stay.
    function sameNodes(before, after) {
      return Boolean(before) && before.nodes.length === after.nodes.length && after.nodes.every((n) => state.positions.has(n.id));
    }

    // The whole state: the topology, then the snapshot's pages of active jobs and its pools.
    async function load() {
      const topology = await getJSON("/api/v1/topology");
      if (!sameNodes(state.topology, topology)) state.positions = layout(topology);
      state.topology = topology;
      document.getElementById("network-name").textContent = topology.name;
      let cursor = "", first = true;
      const jobs = new Map(), pools = new Map();
      do {
        const reply = (await getJSON(`/api/v1/snapshot?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).snapshotReply || {};
        if (first) {
          for (const pool of reply.pools || []) pools.set(pool.poolId, pool);
          state.sequence = Number(reply.sequence || 0); state.epoch = reply.epoch || "0";
          first = false;
        }
        for (const info of reply.jobs || []) jobs.set(info.jobId, jobFromInfo(info));
        cursor = reply.nextCursor || "";
      } while (cursor);
      // Finished jobs seen live stay listed.
      for (const [id, job] of state.jobs) if (!jobs.has(id) && ["succeeded", "failed", "cancelled"].includes(job.state)) jobs.set(id, job);
      state.jobs = jobs; state.pools = pools;
      drawNetwork();
      queueRender({ jobs: true, pools: true });
    }

    // Link reservations change with dispatches and endings: the topology is read again, at most once a second.
    function refreshSoon() {
      if (refreshTimer) return;
      refreshTimer = setTimeout(async () => {
        refreshTimer = null;
        try {
          const topology = await getJSON("/api/v1/topology");
          if (!sameNodes(state.topology, topology)) return load();
          state.topology = topology;
          updateLinks();
        } catch (error) { showStatus(`cannot read the topology: ${error.message}`); }
      }, 1000);
    }

    // Estimates and submission times of jobs first seen in events, fetched in batches.
    function fetchDetailsSoon(id) {
      wantDetails.add(id);
      if (detailTimer) return;
      detailTimer = setTimeout(async () => {
        detailTimer = null;
        const ids = [...wantDetails].slice(0, 200);
        ids.forEach((id) => wantDetails.delete(id));
        try {
          const reply = (await getJSON(`/api/v1/jobs?ids=${ids.join(",")}`)).jobStatus || {};
          for (const info of reply.jobs || []) {
            const known = state.jobs.get(info.jobId), fresh = jobFromInfo(info);
            if (known) { known.estimate = fresh.estimate; known.submittedMs = fresh.submittedMs; known.attempts = Math.max(known.attempts, fresh.attempts); }
          }
          queueRender();
        } catch (error) { /* those jobs show without their estimates */ }
        if (wantDetails.size) fetchDetailsSoon([...wantDetails][0]);
      }, 300);
    }

    function apply(event) {
      if (state.epoch !== null && event.epoch && event.epoch !== state.epoch) { load(); return; }
      state.sequence = Math.max(state.sequence, Number(event.sequence || 0));
      if (event.job) {
        const change = event.job;
        let job = state.jobs.get(change.jobId);
        if (!job) {
          job = { id: change.jobId, number: Number((change.jobId || "").replace(/^job-/, "")) || 0, attempts: 0, submittedMs: event.timestampMs };
          state.jobs.set(job.id, job);
          fetchDetailsSoon(job.id);
        }
        job.state = shortState(change.state); job.pool = change.pool || job.pool;
        if (change.path && change.path.length) job.path = change.path;
        job.attempts = Math.max(job.attempts || 0, change.attempt || 0);
        refreshSoon();
        queueRender({ jobs: true });
      } else if (event.pool && event.pool.pool) {
        state.pools.set(event.pool.pool.poolId, event.pool.pool);
        queueRender({ pools: true });
      }
    }

    function listen() {
      const source = new EventSource("/api/v1/events");
      let failed = false;
      source.onmessage = (message) => {
        try { apply(JSON.parse(message.data).event || {}); } catch (error) { /* not an event */ }
      };
      source.onerror = () => { failed = true; showStatus("lost the controller's events; reconnecting…"); };
      // After a gap, events were missed: read the whole state again.
      source.onopen = () => { if (failed) { failed = false; load().catch((error) => showStatus(error.message)); } };
    }

    listen();
    load().catch((error) => showStatus(`cannot reach the controller: ${error.message}`));
    // Ages move on and pools go stale without an event.
    setInterval(() => queueRender({ jobs: true, pools: true }), 5000);
    """#
}
